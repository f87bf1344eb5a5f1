"""What every model shares: parameters, the maximum-likelihood fit through ``truenorth._core``,
the parameter table, JSON export, and the predictions of purchase processes, each of which
checks the model's declared capabilities (``Capabilities``) rather than its kind.

``models`` holds the model classes themselves; this module names none of them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, overload

import polars as pl

from .. import _core
from ._cov_intervals import Link, delta_bounds
from ._input import (
    ModelInputError,
    as_frame,
    numeric_column,
    rfm_columns,
    time_unit_days,
    weights_column,
    whole_numbers,
)
from ._uncertainty import Method, check_interval, param_draws, z_value
from ._units import summary_unit
from .covariates import CovariateSpec, fit_covariates
from .persist import to_json
from .registry import Capabilities, models_registry

if TYPE_CHECKING:
    from .._core import _IntervalOf, _Prediction


class ConvergenceWarning(UserWarning):
    """The optimiser stopped before the gradient tolerance was met."""


class NotFittedError(RuntimeError):
    """A prediction was asked of a model without parameters."""


class _Model:
    kind: ClassVar[str]
    label: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    capabilities: ClassVar[Capabilities]
    #: the model's name in ``truenorth._core`` when it differs from ``kind`` (a variant that
    #: reuses another model's kernels)
    native: ClassVar[str | None] = None
    #: attributes beyond the fit statistics that ``to_json`` saves and ``load`` restores
    persisted: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, time_unit: str | None = None) -> None:
        if time_unit is not None:
            time_unit_days(time_unit)
        #: the unit of recency and T: given here, to ``fit``, or taken from a summary made by
        #: ``summarize``; None while unknown (``lifetime_value`` then refuses to guess)
        self.time_unit: str | None = time_unit
        self._params: tuple[float, ...] | None = None
        self.standard_errors: dict[str, float] | None = None
        self.covariance: list[list[float]] | None = None
        self.log_likelihood: float | None = None
        self.converged: bool | None = None
        self.n_iterations: int | None = None
        self.n_observations: float | None = None
        self.n_patterns: int | None = None
        self.message: str | None = None
        #: why the fit stopped where its parameters run away to a boundary of the parameter
        #: space (e.g. Pareto/NBD's s and beta growing without bound), naming the parameters and
        #: what the limit means; None when it did not (``converged`` is False when it did)
        self.boundary: str | None = None
        #: the covariates of a covariate fit (``truenorth.clv.covariates``), else None
        self.covariates: CovariateSpec | None = None
        self._coef: tuple[float, ...] = ()

    # -- parameters -------------------------------------------------------------------
    @property
    def params(self) -> dict[str, float]:
        if self._params is None:
            raise NotFittedError(f"{type(self).__name__} has no parameters: call fit() first")
        return dict(zip(self.param_names, self._params, strict=True))

    @classmethod
    def from_params(
        cls, params: dict[str, float] | Sequence[float], *, time_unit: str | None = None
    ):
        """A model with given parameters (no fit), e.g. published estimates."""
        m = cls(time_unit=time_unit)
        m._set_params(params)
        return m

    def _set_params(self, params: dict[str, float] | Sequence[float]) -> None:
        if isinstance(params, dict):
            unknown = set(params) - set(self.param_names)
            missing = [n for n in self.param_names if n not in params]
            if unknown or missing:
                raise ModelInputError(
                    f"{type(self).__name__} parameters are {', '.join(self.param_names)}"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unknown {', '.join(sorted(unknown))}" if unknown else "")
                )
            values = [params[n] for n in self.param_names]
        else:
            values = list(params)
            if len(values) != len(self.param_names):
                raise ModelInputError(
                    f"{type(self).__name__} needs {len(self.param_names)} parameters "
                    f"({', '.join(self.param_names)}), got {len(values)}"
                )
        for n, v in zip(self.param_names, values, strict=True):
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ModelInputError(f"parameter {n} must be a positive finite number, got {v!r}")
        self._params = tuple(float(v) for v in values)

    def _p(self) -> list[float]:
        return list(self.params.values())

    @property
    def _native(self) -> Any:
        # The kernel's kind for _core. The stub types kinds as Literals, but registered models
        # name them at run time (``native``), so the native side checks the name instead.
        return self.native or self.kind

    # -- fitting ----------------------------------------------------------------------
    def _fit_columns(self, data: Any) -> tuple[pl.Series, pl.Series, pl.Series]:
        return rfm_columns(data)

    def fit(
        self,
        summary: Any,
        weights: str | pl.Series | Sequence[float] | None = None,
        *,
        time_unit: str | None = None,
        start: dict[str, float] | None = None,
        max_iter: int = 500,
    ):
        """Maximum-likelihood fit on a customer summary; returns self.

        weights: a column name or a sequence (one per row): each row counts that many
        customers. time_unit: the unit of recency and T (overrides the constructor's). A
        summary made by ``summarize`` brings its own unit: the model takes it, and a different
        unit given here or to the constructor is an error.
        """
        return self._fit(summary, weights, time_unit, start, max_iter, None)

    def _fit(
        self,
        summary: Any,
        weights: str | pl.Series | Sequence[float] | None,
        time_unit: str | None,
        start: dict[str, float] | None,
        max_iter: int,
        cov: dict[str, Any] | None,
    ):
        """``fit``, with the covariate options of ``_PurchaseModel.fit`` (None: none)."""
        self.time_unit = _agreed_unit(summary, time_unit or self.time_unit, self.label)
        x, second, t = self._fit_columns(summary)
        w = weights_column(summary, weights, x.len())
        n_obs = float(w.sum()) if w is not None else float(x.len())
        if n_obs < 2 or x.len() < 2:
            raise ModelInputError(
                f"cannot fit {self.label} on a single customer: the {len(self.param_names)} "
                "parameters describe a population"
            )
        if self.capabilities.process == "purchase" and not bool((x > 0).any()):
            raise ModelInputError(
                "summary: column 'frequency' is 0 for every customer: with no repeat purchases "
                f"the purchase rate of {self.label} cannot be estimated"
            )
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ModelInputError(f"max_iter must be a positive integer, got {max_iter!r}")
        start_list = None
        with_cov = cov is not None
        if start is not None:
            # a covariate fit's start may name coefficients too, and may omit the base part
            base = {k: v for k, v in start.items() if k in self.param_names} if with_cov else start
            if base or not with_cov:
                probe = type(self)(time_unit=self.time_unit)
                probe._set_params(base)
                start_list = list(probe._params or ())
        self.covariates, self._coef = None, ()
        if with_cov:
            self._require("covariates", "covariates (transaction=, lifetime=)")
            res, self.covariates = fit_covariates(
                self._native,
                summary,
                (x, second, t, w),
                start_list,
                start or {},
                max_iter,
                **(cov or {}),
            )
            k = len(self.param_names)
            self._coef = tuple(res["params"][k:])
            res["params"] = res["params"][:k]
        else:
            res = dict(_core.fit(self._native, x, second, t, w, start_list, max_iter))
        # kept (not persisted) for method="bootstrap" intervals, which refit on resamples
        self._fit_data = (x, second, t, w, max_iter)
        if not math.isfinite(res["log_likelihood"]):
            # Finite inputs whose likelihood overflows (amounts near 1e308, times in the 1e200s)
            # are data a model cannot use, not a failure of the fit: say which and how to fix.
            named = {s.name: s for s in (x, second, t)}  # Gamma-Gamma passes frequency twice
            cols = ", ".join(f"{n} (max {_largest(s):.3g})" for n, s in named.items())
            raise ModelInputError(
                f"cannot fit {self.label}: its log-likelihood is not finite on this data "
                f"({res['message']}); the values are too large for floating point: {cols}. "
                "Rescale them (amounts in thousands, times in a longer unit)"
            )
        return self._adopt_fit(res)

    def _adopt_fit(self, res: dict[str, Any]):
        """Take the results of a native fit (``_core.fit``/``fit_external``); returns self."""
        self._params = tuple(res["params"])
        se = res["standard_errors"]
        self.standard_errors = (
            dict(zip(self._all_names(), se, strict=True)) if se is not None else None
        )
        self.covariance = res["covariance"]
        self.log_likelihood = res["log_likelihood"]
        self.converged = bool(res["converged"])
        self.n_iterations = int(res["n_iterations"])
        self.n_observations = float(res["n_observations"])
        self.n_patterns = int(res["n_patterns"])
        self.message = res["message"]
        self.boundary = res.get("boundary")
        if not self.converged:
            warnings.warn(
                f"{self.label} fit did not converge after {self.n_iterations} iterations: "
                f"{self.message}; parameters {self.params} may be unreliable",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _all_names(self) -> list[str]:
        """Base parameters, then the coefficients of a covariate fit."""
        names = list(self.param_names)
        return names + (self.covariates.coefficient_names() if self.covariates else [])

    def coefficients(self) -> pl.DataFrame:
        """The covariate coefficients of a covariate fit: estimate, standard error, Wald z and
        two-sided p-value (NaN without a positive-definite Hessian).

        >>> from truenorth import clv
        >>> import polars as pl
        >>> s = clv.simulate_bg_nbd(400, r=0.5, alpha=5, a=0.7, b=2.5, T=40, seed=1)
        >>> s = s.with_columns(pl.Series("g", [i % 2 for i in range(400)]))
        >>> clv.BetaGeo().fit(s, transaction=["g"]).coefficients()["coefficient"].to_list()
        ['trans.g']
        """
        if self.covariates is None:
            raise ModelInputError(f"{self.label} was fitted without covariates")
        se = self.standard_errors or {}
        rows = []
        for name, v in zip(self.covariates.coefficient_names(), self._coef, strict=True):
            s_ = se.get(name, math.nan)
            z = v / s_ if s_ and s_ == s_ else math.nan
            p = math.erfc(abs(z) / math.sqrt(2)) if z == z else math.nan
            rows.append((name, v, s_, z, p))
        return pl.DataFrame(
            rows,
            schema=["coefficient", "estimate", "std_error", "z", "p_value"],
            orient="row",
        )

    @property
    def n_estimated(self) -> int:
        """Number of estimated parameters (base parameters and coefficients)."""
        return len(self.param_names) + len(self._coef)

    @property
    def aic(self) -> float:
        """Akaike's information criterion, 2k − 2 LL."""
        if self.log_likelihood is None:
            raise NotFittedError(f"{type(self).__name__} has no log-likelihood: fit it first")
        return 2 * self.n_estimated - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        """Schwarz's criterion, k ln n − 2 LL (n: customers)."""
        if self.log_likelihood is None or not self.n_observations:
            raise NotFittedError(f"{type(self).__name__} has no log-likelihood: fit it first")
        return self.n_estimated * math.log(self.n_observations) - 2 * self.log_likelihood

    def summary(self) -> pl.DataFrame:
        """Parameter table: estimate, standard error and a 95% Wald interval on the log scale
        (NaN where there is no standard error: a model built from parameters, or one without
        the ``intervals`` capability)."""
        se = (self.standard_errors if self.capabilities.intervals else None) or {}
        rows = []
        for name, v in self.params.items():
            s = se.get(name, float("nan"))
            k = math.exp(1.959963984540054 * s / v) if s == s else float("nan")
            rows.append((name, v, s, v / k, v * k))
        return pl.DataFrame(
            rows,
            schema=["parameter", "estimate", "std_error", "lower_95", "upper_95"],
            orient="row",
        )

    def vcov(self) -> pl.DataFrame:
        """Covariance matrix of the parameter estimates on the natural scale (the inverse
        Hessian of the log-parameters mapped by the delta method): a ``parameter`` column and
        one column per parameter.

        >>> from truenorth import clv
        >>> s = clv.simulate_bg_nbd(2000, r=0.5, alpha=5, a=0.7, b=2.5, T=40, seed=1)
        >>> clv.BetaGeo().fit(s).vcov().columns
        ['parameter', 'r', 'alpha', 'a', 'b']
        """
        self._require("intervals", "a parameter covariance (vcov)")
        cov = self._covariance()
        names = self._all_names()  # a covariate fit's coefficients follow the parameters
        return pl.DataFrame(
            {"parameter": names, **{n: [r[j] for r in cov] for j, n in enumerate(names)}}
        )

    def confint(self, level: float = 0.95) -> pl.DataFrame:
        """Confidence intervals of the parameters at ``level``: normal on the log scale, the
        scale of the fit (θ̂ · exp(± z · se(θ̂)/θ̂)), so bounds stay positive and follow the skew
        of scale parameters; columns parameter, estimate, lower, upper."""
        self._require("intervals", "parameter confidence intervals (confint)")
        if isinstance(level, bool) or not (isinstance(level, int | float) and 0 < level < 1):
            raise ModelInputError(f"level must be strictly between 0 and 1, got {level!r}")
        cov = self._covariance()
        z = z_value(float(level))
        rows = []
        for i, (name, v) in enumerate(self.params.items()):
            k = math.exp(z * math.sqrt(cov[i][i]) / v)
            rows.append((name, v, v / k, v * k))
        return pl.DataFrame(rows, schema=["parameter", "estimate", "lower", "upper"], orient="row")

    def _interval_covariance(self) -> list[list[float]]:
        """The covariance behind delta-method intervals, or an error saying what to do."""
        if self.covariance is None:
            raise ModelInputError(
                f"{self.label} has no parameter covariance (built from parameters, or its "
                "Hessian was not positive definite at the optimum): fit it on data, or use "
                "method='bootstrap'"
            )
        return self.covariance

    def _covariance(self) -> list[list[float]]:
        self.params  # noqa: B018 - raises NotFittedError first
        if self.covariance is None:
            raise ModelInputError(
                f"{self.label} has no parameter covariance: it was built from parameters, or "
                "its Hessian was not positive definite at the optimum"
            )
        return self.covariance

    def __repr__(self) -> str:
        if self._params is None:
            return f"{type(self).__name__}(time_unit={self.time_unit!r}, unfitted)"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        extra = (
            f", log_likelihood={self.log_likelihood:.2f}" if self.log_likelihood is not None else ""
        )
        return f"{type(self).__name__}({ps}, time_unit={self.time_unit!r}{extra})"

    def to_json(self, path: str | None = None) -> str:
        """The model as a small JSON document (see ``truenorth.clv.load``)."""
        return to_json(self, path)

    def _require(self, capability: str, what: str) -> None:
        """Refuse a method the model does not offer, naming the models that do."""
        if not getattr(self.capabilities, capability):
            able = ", ".join(models_registry(**{capability: True})) or "none"
            raise ModelInputError(
                f"{self.label} does not offer {what}: its capability {capability} is False; "
                f"models with it: {able}"
            )


class _PurchaseModel(_Model):
    """A purchase process: the methods read the class's capabilities (``discrete`` time,
    ``new_customer`` and ``conditional_pmf`` predictions)."""

    def _fit_columns(self, data: Any) -> tuple[pl.Series, pl.Series, pl.Series]:
        return rfm_columns(data, discrete=self.capabilities.discrete)

    def fit(
        self,
        summary: Any,
        weights: str | pl.Series | Sequence[float] | None = None,
        *,
        time_unit: str | None = None,
        start: dict[str, float] | None = None,
        max_iter: int = 500,
        covariates: Any = None,
        transaction: Sequence[str] = (),
        lifetime: Sequence[str] = (),
        constrain: Sequence[str] = (),
        l2: dict[str, float] | None = None,
        reference: dict[str, str] | None = None,
        id: str | None = None,
    ):
        """Maximum-likelihood fit on a customer summary; returns self.

        weights: a column name or a sequence (one per row): each row counts that many
        customers. time_unit: the unit of recency and T (overrides the constructor's). A
        summary made by ``summarize`` brings its own unit: the model takes it, and a different
        unit given here or to the constructor is an error.

        Covariates (models with the ``covariates`` capability; see
        ``truenorth.clv.covariates`` for the link functions and coding): ``transaction`` and
        ``lifetime`` name the columns of each process, found in ``covariates`` (a customer
        attribute table joined on ``id``) or, without it, in the summary itself;
        ``constrain`` columns share one coefficient in both processes; ``l2`` penalises
        ``{"transaction": λ, "lifetime": λ}``; ``reference`` picks the reference level of
        categorical columns; ``start`` may also give coefficients by name
        (``"trans.age"``). Predictions then read the covariate columns from their data.
        """
        cov = None
        if covariates is not None or transaction or lifetime:
            cov = {
                "covariates": covariates,
                "transaction": list(transaction),
                "lifetime": list(lifetime),
                "constrain": list(constrain),
                "l2": l2 or {},
                "reference": reference or {},
                "id": id,
            }
        return self._fit(summary, weights, time_unit, start, max_iter, cov)

    def _predict(
        self, what: _Prediction, data: Any, horizon: float = 0.0, name: str | None = None
    ) -> pl.Series:
        x, tx, t = rfm_columns(data, discrete=self.capabilities.discrete)
        if self.covariates is not None:
            col = _core.predict_rows(
                self._native, what, list(self._row_params(data)), x, tx, t, float(horizon)
            )
        else:
            col = _core.predict(self._native, what, self._p(), x, tx, t, float(horizon))
        return _finite(pl.Series(col).alias(name or what), self.label)

    def _row_params(self, data: Any) -> list[pl.Series]:
        """Each row's parameters under the covariates (columns of ``data``)."""
        assert self.covariates is not None
        return self.covariates.row_params(self._native, self._p(), list(self._coef), as_frame(data))

    def _new_params(self, covariates: dict[str, Any] | None, what: str) -> list[float]:
        """Parameters of a new customer: with covariates, those of the profile given."""
        if self.covariates is None:
            if covariates is not None:
                raise ModelInputError(f"{what}: {self.label} was fitted without covariates")
            return self._p()
        if covariates is None:
            raise ModelInputError(
                f"{what}: {self.label} has covariates; pass the new customer's as "
                "covariates={column: value, ...}"
            )
        frame = pl.DataFrame({k: [v] for k, v in covariates.items()})
        return [float(c[0]) for c in self._row_params(frame)]

    @overload
    def p_alive(self, data: Any) -> pl.Series: ...
    @overload
    def p_alive(
        self,
        data: Any,
        *,
        interval: float,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.DataFrame: ...
    def p_alive(
        self,
        data: Any,
        *,
        interval: float | None = None,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.Series | pl.DataFrame:
        """P(the customer is still active at T | frequency, recency, T), per row.

        With ``interval`` (e.g. 0.9) a DataFrame ``p_alive``, ``p_alive_lower``,
        ``p_alive_upper``: the estimate and the central interval of its parameter uncertainty,
        by the delta method (``method="delta"``, the default) or over ``draws`` parameter
        draws (``"normal"`` or ``"bootstrap"``, seeded by ``seed``); see
        ``truenorth.clv._uncertainty`` for the methods and their trade-off.
        """
        point = self._predict("p_alive", data)
        if interval is None:
            return point
        return self._interval(point, data, "p_alive", interval, draws, seed, method)

    @overload
    def expected_purchases(self, data: Any, t: float | str | pl.Series) -> pl.Series: ...
    @overload
    def expected_purchases(
        self,
        data: Any,
        t: float,
        *,
        interval: float,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.DataFrame: ...
    def expected_purchases(
        self,
        data: Any,
        t: float | str | pl.Series,
        *,
        interval: float | None = None,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.Series | pl.DataFrame:
        """Expected purchases in the next ``t`` time units (opportunities for a discrete-time
        model), conditional on each row's history. ``t`` is one horizon for every row, or a
        horizon per row: a column of ``data`` (e.g. ``"duration_holdout"``) or a Series.
        A per-row horizon runs in one native pass (the horizon-dependent part once per
        distinct (frequency, T, horizon)).

        With ``interval`` (one horizon for every row only): a DataFrame ``expected_purchases``, ``expected_purchases_lower``,
        ``expected_purchases_upper`` (see ``p_alive``).

        Example::

            m = BetaGeo(time_unit="1w").fit(summary)
            band = m.expected_purchases(summary, 52, interval=0.9, draws=200, seed=1)
        """
        if isinstance(t, str | pl.Series):
            if interval is not None:
                raise ModelInputError(
                    "expected_purchases: interval= needs one horizon for every row, not a "
                    "horizon per row"
                )
            return _per_row_horizon(self, data, t)
        if self.capabilities.discrete:
            _check_opportunities(t, self.label)
        _check_horizon(t)
        point = self._predict("expected_purchases", data, t)
        if interval is None:
            return point
        return self._interval(
            point, data, "expected_purchases", interval, draws, seed, method, horizon=float(t)
        )

    def _interval(
        self,
        point: pl.Series,
        data: Any,
        what: _IntervalOf,
        interval: Any,
        draws: Any,
        seed: Any,
        method: Any,
        **kw: Any,
    ) -> pl.DataFrame:
        """The point column with its ``_lower`` and ``_upper`` bounds over parameter draws."""
        self._require("intervals", "prediction intervals (interval=)")
        level = check_interval(interval, draws, seed, method)
        x, tx, t = rfm_columns(data, discrete=self.capabilities.discrete)
        lo: Any
        hi: Any
        if self.covariates is not None:
            _delta_only(self, method)
            lo, hi = self._covariate_interval(data, what, z_value(level), x, tx, t, kw)
        elif method == "delta":
            cov = self._interval_covariance()
            lo, hi = _core.delta_interval(self._native, what, self._p(), cov, x, tx, t, level, **kw)
        else:
            ps = param_draws(self, method, draws, seed)
            lo, hi = _core.interval(self._native, what, ps, x, tx, t, level, **kw)
        name = point.name
        return pl.DataFrame(
            [
                point,
                _finite(pl.Series(lo).alias(f"{name}_lower"), self.label),
                _finite(pl.Series(hi).alias(f"{name}_upper"), self.label),
            ]
        )

    def _covariate_interval(
        self, data: Any, what: str, z: float, x: Any, tx: Any, t: Any, kw: dict[str, Any]
    ) -> tuple[Any, Any]:
        """Delta-method bounds of a covariate model (see ``_cov_intervals``)."""
        horizon, n = float(kw.get("horizon", 0.0)), int(kw.get("n", 0))
        row_what: Any = what

        def predict(rows: list[pl.Series]) -> Any:
            return _core.predict_rows(self._native, row_what, rows, x, tx, t, horizon, n)

        link: Link = "logit" if what in ("p_alive", "conditional_p_purchases") else "log"
        return delta_bounds(self, as_frame(data), predict, z, link)

    def log_likelihood_rows(self, data: Any) -> pl.Series:
        """Per-row log-likelihood at the current parameters."""
        return self._predict("log_likelihood", data)

    def expected_purchases_new(
        self, t: float | Sequence[float], *, covariates: dict[str, Any] | None = None
    ) -> float | pl.Series:
        """E[X(t)]: expected purchases of a new customer in the first ``t`` after their first
        (a covariate model needs the customer's ``covariates={column: value}``)."""
        self._require("new_customer", "expected_purchases_new (a new-customer prediction)")
        ts = _horizons(t)
        p = self._new_params(covariates, "expected_purchases_new")
        out = _core.predict_new(self._native, "expected_purchases", p, ts)
        return out[0] if isinstance(t, int | float) else pl.Series("expected_purchases", out)

    def p_purchases(
        self, n: int, t: float | Sequence[float], *, covariates: dict[str, Any] | None = None
    ) -> float | pl.Series:
        """P(X(t) = n): probability that a new customer makes n repeat purchases in (0, t]
        (a covariate model needs the customer's ``covariates={column: value}``)."""
        self._require("new_customer", "p_purchases (a new-customer prediction)")
        if not (isinstance(n, int) and n >= 0):
            raise ModelInputError(f"n must be a non-negative integer, got {n!r}")
        ts = _horizons(t)
        p = self._new_params(covariates, "p_purchases")
        out = _core.predict_new(self._native, "p_purchases", p, ts, n)
        return out[0] if isinstance(t, int | float) else pl.Series("p_purchases", out)

    @overload
    def conditional_p_purchases(self, data: Any, n: int, t: float) -> pl.Series: ...
    @overload
    def conditional_p_purchases(
        self,
        data: Any,
        n: int,
        t: float,
        *,
        interval: float,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.DataFrame: ...
    def conditional_p_purchases(
        self,
        data: Any,
        n: int,
        t: float,
        *,
        interval: float | None = None,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.Series | pl.DataFrame:
        """P(n purchases in (T, T+t] | frequency, recency, T), per row (models with the
        ``conditional_pmf`` capability).

        For the continuous-time models a customer alive at T restarts as a new customer with
        posterior parameters, so P(n | ·) = P(alive)·P_post(X(t) = n) + (1 − P(alive))·[n = 0],
        where P_post is the new-customer PMF of BG/NBD(r+x, α+T, a, b+x) for BG/NBD,
        BG/NBD(r+x, α+T, a, b+x+1) for MBG/NBD (the time-0 drop-out is already survived), and
        Pareto/NBD(r+x, α+T, s, β+T) for Pareto/NBD. Summed over n it is 1; its mean is
        ``expected_purchases(data, t)``. Vectorised in Rust (once per distinct (x, T)).

        With ``interval``: a DataFrame ``conditional_p_purchases`` with ``_lower`` and
        ``_upper`` bounds (see ``p_alive``).

        Example::

            m = BetaGeo(time_unit="1w").fit(summary)
            p0 = m.conditional_p_purchases(summary, 0, 52)  # no purchase in the next year
        """
        self._require("conditional_pmf", "conditional_p_purchases (a conditional PMF)")
        if not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
            raise ModelInputError(f"n must be a non-negative integer, got {n!r}")
        _check_horizon(t)
        discrete = self.capabilities.discrete
        if discrete:
            _check_opportunities(t, self.label)
        x, tx, tt = rfm_columns(data, discrete=discrete)
        if self.covariates is not None:
            col = _core.predict_rows(
                self._native,
                "conditional_p_purchases",
                self._row_params(data),
                x,
                tx,
                tt,
                float(t),
                n,
            )
        else:
            col = _core.conditional_p_purchases(self._native, self._p(), x, tx, tt, n, float(t))
        point = _finite(pl.Series(col).alias("conditional_p_purchases"), self.label)
        if interval is None:
            return point
        return self._interval(
            point,
            data,
            "conditional_p_purchases",
            interval,
            draws,
            seed,
            method,
            horizon=float(t),
            n=n,
        )


def _per_row_horizon(model: _PurchaseModel, data: Any, t: str | pl.Series) -> pl.Series:
    """expected_purchases with a horizon per row, in one native pass (the bracket once per
    distinct (frequency, T, horizon))."""
    df = as_frame(data)
    x, tx, tt = rfm_columns(df, discrete=model.capabilities.discrete)
    if isinstance(t, str):
        h = numeric_column(df, t)
    else:
        named = t.rename(t.name or "t")
        h = numeric_column(named.to_frame(), named.name, what="t")
        if h.len() != df.height:
            raise ModelInputError(f"t: expected {df.height} horizons (one per row), got {h.len()}")
    if model.capabilities.discrete:
        whole_numbers(h, what="t")
    col = _core.expected_purchases_rows(model._native, model._p(), x, tx, tt, h.cast(pl.Float64))
    return _finite(pl.Series(col).alias("expected_purchases"), model.label)


def _delta_only(model: _Model, method: str) -> None:
    if method != "delta":
        raise ModelInputError(
            f"{model.label} with covariates: prediction intervals use method='delta' only "
            f"(got method={method!r}); the coefficients' standard errors are in coefficients()"
        )


def _agreed_unit(summary: Any, given: str | None, label: str) -> str | None:
    """The model's time unit after fitting ``summary``: the one given, else the summary's."""
    if given is not None:
        time_unit_days(given)
    made = summary_unit(summary)
    if made is not None and given is not None and time_unit_days(made) != time_unit_days(given):
        raise ModelInputError(
            f"{label}: the summary measures recency and T in {made!r} (summarize(unit={made!r})) "
            f"but the model's time_unit is {given!r}; drop time_unit or pass {made!r}"
        )
    return given or made


def _finite(s: pl.Series, label: str) -> pl.Series:
    """Never hand back NaN silently: a non-finite prediction is an error naming the row
    (counted from 1, the project's convention)."""
    bad = ~s.is_finite()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise ArithmeticError(
            f"{label}: {s.name} is not finite at row {i + 1} ({s[i]}); the parameters or the "
            "horizon are outside the range where the series used converges"
        )
    return s


def _check_horizon(t: float) -> None:
    if not (isinstance(t, int | float) and math.isfinite(t) and t >= 0):
        raise ModelInputError(f"t must be a non-negative finite number of time units, got {t!r}")


def _horizons(t: float | Sequence[float]) -> list[float]:
    ts = [t] if isinstance(t, int | float) else list(t)
    for v in ts:
        _check_horizon(v)
    return [float(v) for v in ts]


def _check_opportunities(t: float, label: str) -> None:
    if isinstance(t, bool) or not (isinstance(t, int) or (isinstance(t, float) and t.is_integer())):
        raise ModelInputError(f"t must be a whole number of opportunities for {label}, got {t!r}")


class _SpendModel(_Model):
    """A spend process: expected mean spend per purchase."""

    def expected_spend(self, data: Any) -> pl.Series:
        raise NotImplementedError


def _largest(column: pl.Series) -> float:
    """The largest value of a Float64 model column (for messages)."""
    top = column.max()
    return float(top) if isinstance(top, (int, float)) else math.nan
