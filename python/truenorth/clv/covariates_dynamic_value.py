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

Example::

    fit = fit_dynamic_covariates(transactions, weekly, transaction=["contacts"],
                                 calibration_end=date(1998, 6, 30))
    spend = summary.select("customer", gamma_gamma.expected_spend(summary).alias("spend"))
    dynamic_lifetime_value(fit, transactions, weekly, spend, horizon=12)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from .. import _core
from ._dynpath import Paths, calibration, future
from ._input import ModelInputError
from .covariates_dynamic import DynamicCovariateFit
from .value import DAYS_PER_MONTH

__all__ = ["dynamic_lifetime_value"]

_HORIZON_DAYS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH, "year": 365.25}


def _f64(v: Any) -> pl.Series:
    return pl.Series(np.asarray(v, dtype=np.float64))


def _spend(spend: Any, paths: Paths, customer: str) -> np.ndarray:
    """Expected spend per purchase of each customer, in the paths' order."""
    n = paths.customers.len()
    if isinstance(spend, int | float) and not isinstance(spend, bool):
        if not (math.isfinite(spend) and spend >= 0):
            raise ModelInputError(f"spend must be a non-negative number, got {spend!r}")
        return np.full(n, float(spend))
    if not isinstance(spend, pl.DataFrame):
        raise ModelInputError(
            "spend must be a non-negative number or a DataFrame of the customer column and "
            f"one spend column, got {type(spend).__name__}"
        )
    values = [c for c in spend.columns if c != customer]
    if customer not in spend.columns or len(values) != 1:
        raise ModelInputError(
            f"spend: expected the columns {customer!r} and one spend column, got "
            f"{', '.join(spend.columns) or 'none'}"
        )
    col = values[0]
    keyed = pl.DataFrame({customer: paths.customers}).join(
        spend.select(customer, pl.col(col).cast(pl.Float64)),
        on=customer,
        how="left",
        maintain_order="left",
    )
    miss = keyed[col].is_null() | keyed[col].is_nan()
    if miss.any():
        i = int(miss.arg_true()[0])
        raise ModelInputError(
            f"spend: no {col!r} value for customer {keyed[customer][i]!r} "
            f"({int(miss.sum())} customer(s) without one)"
        )
    out = keyed[col].to_numpy()
    if (out < 0).any():
        i = int(np.argmax(out < 0))
        raise ModelInputError(
            f"spend: column {col!r} is negative ({out[i]:g}) for customer {keyed[customer][i]!r}"
        )
    return out


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
) -> pl.DataFrame:
    """Per customer (the model's customer column, sorted as ``predict``): ``p_alive`` at the
    calibration end, ``expected_purchases`` over the whole window and ``clv``, the discounted
    value of the next ``horizon`` steps of one ``horizon_unit`` (day, week, month, year;
    ``discount_rate`` per step). ``spend``: expected spend per purchase, a number or a
    DataFrame of the customer column and one spend column (e.g. Gamma-Gamma's
    ``expected_spend``); every customer needs a value.
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
    step_days = days_per_month if horizon_unit == "month" else _HORIZON_DAYS[horizon_unit]
    step = step_days / fit.calendar.period_days
    table = fit._table(covariates)
    paths = calibration(transactions, table, fit.spec, fit.columns, fit.calendar)
    per_purchase = _spend(spend, paths, fit.columns.customer)
    # the whole window's pieces are checked first, so a missing future period is one error
    # naming the window, not a failure part-way through the steps
    future(paths, table, fit.spec, fit.columns, fit.calendar, horizon * step)
    vector = fit._vector()
    past = (
        _f64(paths.x),
        _f64(paths.tx),
        _f64(paths.T),
        _f64(paths.offsets),
        _f64(paths.dur),
        [_f64(z) for z in paths.zt],
        [_f64(z) for z in paths.zl],
    )
    n = paths.customers.len()
    p_alive = np.full(n, math.nan)
    before = np.zeros(n)
    value = np.zeros(n)
    for i in range(1, horizon + 1):
        f_off, f_dur, f_zt, f_zl = future(
            paths, table, fit.spec, fit.columns, fit.calendar, i * step
        )
        pa, ex = _core.dyncov_predict(
            vector,
            *past,
            _f64(f_off),
            _f64(f_dur),
            [_f64(z) for z in f_zt],
            [_f64(z) for z in f_zl],
        )
        cumulative = np.asarray(ex, dtype=np.float64)
        if not np.isfinite(cumulative).all():
            j = int(np.argmax(~np.isfinite(cumulative)))
            raise ModelInputError(
                f"covariates: customer {paths.customers[j]!r} has covariate values so large "
                "that exp(coefficients · covariates) overflows; check their scale"
            )
        value += per_purchase * (cumulative - before) / (1.0 + discount_rate) ** i
        before = cumulative
        p_alive = np.asarray(pa, dtype=np.float64)
    if horizon == 0:
        p_alive = fit.predict(transactions, covariates, horizon=0)["p_alive"].to_numpy()
    return pl.DataFrame(
        {
            fit.columns.customer: paths.customers,
            "p_alive": p_alive,
            "expected_purchases": before,
            "clv": value,
        }
    )
