"""Discounted customer lifetime value under the time-varying-covariate Pareto/NBD
(``truenorth.clv.covariates_dynamic``).

The same sum as ``truenorth.clv.lifetime_value`` for the other purchase models:

    CLV = Σ_{i=1..horizon} spend · (E[Y(i·Δ)] − E[Y((i−1)·Δ)]) / (1 + discount_rate)^i

where E[Y(t)] is the customer's expected number of purchases in the t periods after the
calibration end given their history and covariate path, and Δ is one ``horizon_unit`` in the
model's periods (a month is 30.4375/7 ≈ 4.35 weekly periods). The covariate values of the
future periods come from the covariate table, exactly as ``DynamicCovariateFit.predict(...,
horizon=)`` reads them: every period the window touches must be there for every customer
(planned contacts, a seasonal pattern, the last value carried forward: the table states
the assumption). With covariates that never change this equals the static-covariate
model's CLV; the tests check it.

Intervals (``interval=``, with ``method``, ``draws``, ``seed`` as ``lifetime_value``'s):
the purchase model's estimation error by the delta method or over parameter draws
(``_dyn_intervals``); with a fitted Gamma-Gamma as ``spend`` (and ``spend_data``, the
customers' frequency and monetary_value) the spend model's too, as an independent block
(``_dyn_spend``); with spend given as numbers it is held fixed.

Example::

    fit = fit_dynamic_covariates(transactions, weekly, transaction=["contacts"],
                                 calibration_end=date(1998, 6, 30))
    gg = GammaGamma().fit(summary)
    dynamic_lifetime_value(fit, transactions, weekly, gg, spend_data=summary, horizon=12,
                           interval=0.9)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from . import _dyn_spend
from ._dyn_draws import evaluate_draws, quantile_bounds
from ._dyn_intervals import Window, band, delta_bounds
from ._dynpath import calibration, column_params, future
from ._input import ModelInputError
from ._uncertainty import Method
from .covariates_dynamic import DynamicCovariateFit
from .value import DAYS_PER_MONTH, _spend_seed

__all__ = ["dynamic_lifetime_value"]

_HORIZON_DAYS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH, "year": 365.25}


def _f64(v: Any) -> pl.Series:
    return pl.Series(np.asarray(v, dtype=np.float64))


def dynamic_lifetime_value(
    fit: DynamicCovariateFit,
    transactions: Any,
    covariates: Any,
    spend: Any,
    *,
    horizon: int = 12,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    days_per_month: float = DAYS_PER_MONTH,
    interval: float | None = None,
    draws: int = 200,
    seed: int = 0,
    method: Method = "delta",
    spend_data: Any = None,
) -> pl.DataFrame:
    """Per customer (the model's customer column, sorted as ``predict``): ``p_alive`` at the
    calibration end, ``expected_purchases`` over the whole window and ``clv``, the discounted
    value of the next ``horizon`` steps of one ``horizon_unit`` (day, week, month, year;
    ``discount_rate`` per step).

    ``spend``, the expected spend per purchase: a number; a DataFrame of the customer column
    and one spend column (every customer needs a value); or a fitted spend model such as
    ``GammaGamma``, with ``spend_data`` a DataFrame of the customer column, ``frequency`` and
    ``monetary_value`` (``summarize``'s output) that it reads.

    With ``interval`` (e.g. 0.9): also ``p_alive_lower/_upper``,
    ``expected_purchases_lower/_upper`` and ``clv_lower/_upper``: the central interval of the
    parameters' estimation error, by the delta method (``method="delta"``, the default) or
    over ``draws`` parameter draws (``"normal"`` or ``"bootstrap"``, seeded by ``seed``), as
    ``lifetime_value``'s. With a fitted ``GammaGamma`` as ``spend`` its estimation error is
    in the CLV bounds too, independent of the purchase model's (separate likelihoods: the
    delta method adds the two log-scale variances, the draws pair each purchase draw with a
    spend draw); with spend given as numbers it is held fixed.

    Example::

        gg = GammaGamma().fit(summary)
        band = dynamic_lifetime_value(fit, tr, weekly, gg, spend_data=summary, horizon=12,
                                      interval=0.9, method="normal", draws=200, seed=1)
    """
    if not (isinstance(horizon, int) and not isinstance(horizon, bool) and horizon >= 0):
        raise ModelInputError(
            f"horizon must be a non-negative whole number of steps, got {horizon!r}"
        )
    if horizon_unit not in _HORIZON_DAYS:
        raise ModelInputError(
            f"horizon_unit must be one of {', '.join(_HORIZON_DAYS)}, got {horizon_unit!r}"
        )
    if not (
        isinstance(discount_rate, int | float)
        and math.isfinite(discount_rate)
        and discount_rate > -1
    ):
        raise ModelInputError(f"discount_rate must be a number > -1, got {discount_rate!r}")
    if not (days_per_month > 0 and math.isfinite(days_per_month)):
        raise ModelInputError("days_per_month must be positive")
    b = None if interval is None else band(interval, draws, seed, method)
    step_days = days_per_month if horizon_unit == "month" else _HORIZON_DAYS[horizon_unit]
    step = step_days / fit.calendar.period_days
    table = fit._table(covariates)
    paths = calibration(transactions, table, fit.spec, fit.columns, fit.calendar)
    per = _dyn_spend.resolve(spend, spend_data, paths, fit.columns.customer)
    past = (
        _f64(paths.x),
        _f64(paths.tx),
        _f64(paths.T),
        _f64(paths.offsets),
        _f64(paths.dur),
        [_f64(z) for z in paths.zt],
        [_f64(z) for z in paths.zl],
    )
    # one window over the whole horizon (a missing future period is one error naming it),
    # read off at every step's end in one native pass
    f_off, f_dur, f_zt, f_zl = future(
        paths, table, fit.spec, fit.columns, fit.calendar, horizon * step
    )
    whole = Window(
        paths, past, (_f64(f_off), _f64(f_dur), [_f64(z) for z in f_zt], [_f64(z) for z in f_zl])
    )
    ends = [i * step for i in range(1, horizon + 1)]
    discount = np.array([(1.0 + discount_rate) ** -i for i in range(1, horizon + 1)])
    n = len(per.point)
    seen: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def evaluate(vector: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P(alive), expected purchases over the horizon, discounted purchases: the CLV of
        one unit of spend per purchase) at a parameter vector (each vector once: the bounds
        move the same parameters)."""
        key = tuple(vector)
        if key not in seen:
            seen[key] = _at(vector)
        return seen[key]

    def _at(vector: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not horizon:
            return whole.predict(vector)[0], np.zeros(n), np.zeros(n)
        pa, cumulative = whole.predict_steps(vector, ends)
        steps = np.diff(cumulative, axis=0, prepend=0.0)
        return pa, cumulative[-1], discount @ steps

    p_alive, before, units = evaluate(fit._vector())
    if not np.isfinite(before).all():
        j = int(np.argmax(~np.isfinite(before)))
        raise ModelInputError(
            f"covariates: customer {paths.customers[j]!r} has covariate values so large "
            "that exp(coefficients · covariates) overflows; check their scale"
        )
    out = pl.DataFrame(
        {
            fit.columns.customer: paths.customers,
            "p_alive": p_alive,
            "expected_purchases": before,
            "clv": per.point * units,
        }
    )
    if b is None:
        return out
    if b.method == "delta":
        bounds = [
            delta_bounds(fit, lambda v: evaluate(v)[0], b.level, "logit"),
            delta_bounds(fit, lambda v: evaluate(v)[1], b.level, "log"),
            delta_bounds(
                fit, lambda v: per.point * evaluate(v)[2], b.level, "log", per.log_variance()
            ),
        ]
    else:
        pa_d, ex_d, units_d = evaluate_draws(
            fit,
            lambda base, coef: _at(column_params(fit.spec, base, coef)),
            b.method,
            b.draws,
            b.seed,
        )
        spend_d = per.draws(units_d.shape[0], _spend_seed(b.seed))
        bounds = [
            quantile_bounds(pa_d, b.level),
            quantile_bounds(ex_d, b.level),
            quantile_bounds(units_d * spend_d, b.level),
        ]
    cols = []
    for name, (lo, hi) in zip(("p_alive", "expected_purchases", "clv"), bounds, strict=True):
        cols += [pl.Series(f"{name}_lower", lo), pl.Series(f"{name}_upper", hi)]
    return out.with_columns(cols)
