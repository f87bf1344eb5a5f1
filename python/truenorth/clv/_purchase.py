"""The purchase-process base: per-customer predictions (``p_alive``, ``expected_purchases``,
``conditional_p_purchases``), new-customer predictions (``expected_purchases_new``,
``p_purchases``) and their intervals. Each checks the model's declared capabilities
(``Capabilities``) rather than its kind.

Separate from ``_model`` because only purchase processes predict purchases; a spend model
shares the fit but none of this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import polars as pl

from .. import _core
from ._checks import _check_horizon, _check_opportunities, _delta_only, _finite, _horizons
from ._cov_intervals import Link, delta_bounds
from ._input import ModelInputError, as_frame, numeric_column, rfm_columns, whole_numbers
from ._model import _Model
from ._uncertainty import Method, check_interval, param_draws, z_value

if TYPE_CHECKING:
    from .._core import _IntervalOf, _Prediction


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
            _delta_only(self.label, method)
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

    def _pmf_new(
        self, ts: Sequence[float], max_count: int, weights: Sequence[float] | None = None
    ) -> list[list[float]]:
        """P(X(t) = n) of a new customer for n = 0..``max_count``, one row per horizon in
        ``ts``: the whole PMF in one native call (the terms of successive n share their work,
        and a death-time integral is done once for all n). With ``weights`` (one per
        horizon): the one row Σ_i w_i P(X(t_i) = n)."""
        self._require("new_customer", "p_purchases (a new-customer prediction)")
        if not (isinstance(max_count, int) and max_count >= 0):
            raise ModelInputError(f"max_count must be a non-negative integer, got {max_count!r}")
        p = self._new_params(None, "p_purchases")
        w = None if weights is None else [float(v) for v in weights]
        return _core.pmf_new(self._native, p, _horizons(ts), max_count, w)

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
