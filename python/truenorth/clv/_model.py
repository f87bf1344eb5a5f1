"""The fitted-model base every model shares: parameters, the maximum-likelihood fit through
``truenorth._core``, the fit statistics and parameter tables (summary, vcov, confint,
covariate coefficients) and JSON export. Purchase predictions live in ``_purchase`` (a spend
model shares all of this but none of them); the model classes themselves are in ``models``,
and this module names none of them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import polars as pl

from .. import _core
from ._checks import _agreed_unit, _largest
from ._input import ModelInputError, rfm_columns, time_unit_days, weights_column
from ._uncertainty import z_value
from .covariates import CovariateSpec, fit_covariates
from .persist import to_json
from .registry import Capabilities, models_registry


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


class _SpendModel(_Model):
    """A spend process: expected mean spend per purchase."""

    def expected_spend(self, data: Any) -> pl.Series:
        raise NotImplementedError
