"""Discounted customer lifetime value from a purchase model and a spend model."""

from __future__ import annotations

import math
from typing import Any, overload

import numpy as np
import polars as pl

from .. import _core
from ._checks import _delta_only, _finite
from ._cov_intervals import delta_bounds
from ._input import ModelInputError, as_frame, numeric_column, rfm_columns, time_unit_days
from ._model import _SpendModel
from ._purchase import _PurchaseModel
from ._uncertainty import Method, check_interval, param_draws, z_value
from .registry import models_registry

#: Mean Gregorian month in days (365.25 / 12), the default length of a CLV "month".
DAYS_PER_MONTH = 30.4375

_HORIZON_DAYS = {"day": 1.0, "week": 7.0, "year": 365.25}


@overload
def lifetime_value(
    purchase_model: _PurchaseModel,
    spend_model: _SpendModel | str | pl.Series | float,
    data: Any,
    *,
    horizon: int = 12,
    start: int = 0,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    time_unit: str | None = None,
    days_per_month: float = DAYS_PER_MONTH,
) -> pl.Series: ...
@overload
def lifetime_value(
    purchase_model: _PurchaseModel,
    spend_model: _SpendModel | str | pl.Series | float,
    data: Any,
    *,
    horizon: int = 12,
    start: int = 0,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    time_unit: str | None = None,
    days_per_month: float = DAYS_PER_MONTH,
    interval: float,
    draws: int = 200,
    seed: int = 0,
    method: Method = "delta",
) -> pl.DataFrame: ...
def lifetime_value(
    purchase_model: _PurchaseModel,
    spend_model: _SpendModel | str | pl.Series | float,
    data: Any,
    *,
    horizon: int = 12,
    start: int = 0,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    time_unit: str | None = None,
    days_per_month: float = DAYS_PER_MONTH,
    interval: float | None = None,
    draws: int = 200,
    seed: int = 0,
    method: Method = "delta",
) -> pl.Series | pl.DataFrame:
    """Discounted CLV per customer (row of ``data``):

        CLV = Σ_{i=1..horizon} spend · (E[Y(i·Δ)] − E[Y((i−1)·Δ)]) / (1 + discount_rate)^i

    over the steps i = ``start`` + 1 .. ``horizon``: ``start=0`` (the default) is the value of
    the next ``horizon`` units, ``start=1, horizon=3, horizon_unit="year"`` the value of years 2
    and 3 only (discounted to today, as the same years are within a 3-year CLV); the window's
    value is the ``horizon`` CLV minus the ``start`` one. E[Y(t)] is the purchase model's expected purchases in the next t given the row's
    history, Δ is one ``horizon_unit`` ("month", "week", "day", "year"; for BG/BB "period",
    one opportunity) expressed in the model's time unit, and spend is the spend model's
    expected spend per purchase (``GammaGamma.expected_spend``), a column name of ``data``,
    a Series or a constant. ``discount_rate`` is per ``horizon_unit``. Any registered model
    with ``process="purchase"`` (resp. ``"spend"``) can be the purchase (spend) model; one
    with ``discrete`` time counts horizons in opportunities.

    The conversion uses the time unit the purchase model was fitted in (``time_unit`` of the
    model, e.g. ``"1w"`` for a weekly summary, taken from ``summarize``'s frame or given;
    override with ``time_unit=``); a model whose unit is unknown is an error, never a guess.
    A month is
    ``days_per_month`` days (default 30.4375 = 365.25/12). lifetimes'
    ``customer_lifetime_value`` instead assumes daily data unless told ``freq`` and uses
    4.345 weeks (30.415 days) or 30 days per month; pass ``days_per_month`` to reproduce it.

    With ``interval`` (e.g. 0.9) the result is a DataFrame ``clv``, ``clv_lower``,
    ``clv_upper``: the central interval of the parameter uncertainty, by the delta method
    (``method="delta"``, the default) or over ``draws`` parameter draws (``"normal"`` or
    ``"bootstrap"``, seeded by ``seed``; see ``truenorth.clv._uncertainty``). With a fitted
    ``GammaGamma`` as the spend model (it reads ``monetary_value`` of ``data``), its parameter
    uncertainty is in the bounds too, independent of the purchase model's (separate
    likelihoods); with spend given as a column, Series or constant, spend is held fixed and the
    bounds carry the purchase model's uncertainty only.

    Example::

        band = lifetime_value(bg, gg, summary, horizon=12, interval=0.9, draws=200, seed=1)
    """
    if not (
        isinstance(purchase_model, _PurchaseModel)
        and purchase_model.capabilities.process == "purchase"
    ):
        raise ModelInputError(
            f"purchase_model must be a fitted {_names('purchase')}, "
            f"got {type(purchase_model).__name__}"
        )
    if not (isinstance(horizon, int) and horizon >= 0):
        raise ModelInputError(
            f"horizon must be a non-negative whole number of steps, got {horizon!r}"
        )
    if not (isinstance(start, int) and not isinstance(start, bool) and 0 <= start <= horizon):
        raise ModelInputError(
            f"start must be a whole number of steps from 0 to horizon ({horizon}), got {start!r}"
        )
    if not (
        isinstance(discount_rate, int | float)
        and math.isfinite(discount_rate)
        and discount_rate > -1
    ):
        raise ModelInputError(f"discount_rate must be a number > -1, got {discount_rate!r}")
    discrete = purchase_model.capabilities.discrete
    if discrete:
        if horizon_unit != "period":
            raise ModelInputError(
                f"{purchase_model.label} counts discrete opportunities: use "
                "horizon_unit='period' (one step = one opportunity)"
            )
        step = 1.0
    else:
        if horizon_unit != "month" and horizon_unit not in _HORIZON_DAYS:
            raise ModelInputError(
                f"horizon_unit must be one of month, week, day, year, got {horizon_unit!r}"
            )
        unit = time_unit or purchase_model.time_unit
        if unit is None:
            raise ModelInputError(
                f"{purchase_model.label}: the time unit of recency and T is unknown (the model "
                "was fitted on a frame not made by summarize, and no time_unit was given), so "
                f"a horizon in {horizon_unit}s cannot be converted; pass the summary's unit, "
                "e.g. time_unit='1w', to the model, its fit or lifetime_value"
            )
        unit_days = time_unit_days(unit)
        if horizon_unit == "month":
            if not (days_per_month > 0 and math.isfinite(days_per_month)):
                raise ModelInputError("days_per_month must be positive")
            step_days = days_per_month
        else:
            step_days = _HORIZON_DAYS[horizon_unit]
        step = step_days / unit_days
    level = None if interval is None else check_interval(interval, draws, seed, method)
    if level is not None:
        purchase_model._require("intervals", "prediction intervals (interval=)")
        if start:
            raise ModelInputError(
                "lifetime_value: interval= covers the value from now (start=0); the interval of "
                "a later window is not computed"
            )
    df = as_frame(data)
    x, tx, t = rfm_columns(df, discrete=discrete)
    if isinstance(spend_model, _SpendModel) and spend_model.capabilities.process == "spend":
        spend = spend_model.expected_spend(df)
    elif isinstance(spend_model, str):
        spend = numeric_column(df, spend_model)
    elif isinstance(spend_model, pl.Series):
        spend = numeric_column(spend_model.to_frame(), spend_model.name, what="spend")
        if spend.len() != x.len():
            raise ModelInputError(f"spend: expected {x.len()} values, got {spend.len()}")
    elif isinstance(spend_model, int | float) and math.isfinite(spend_model) and spend_model >= 0:
        spend = pl.Series("spend", [float(spend_model)] * x.len())
    else:
        raise ModelInputError(
            f"spend_model must be a fitted {_names('spend')}, a column name, a Series or a "
            "non-negative number"
        )

    def clv(steps: int) -> pl.Series:
        if purchase_model.covariates is not None:
            return pl.Series(
                _core.clv_rows(
                    purchase_model._native,
                    purchase_model._row_params(df),
                    x,
                    tx,
                    t,
                    spend.cast(pl.Float64),
                    steps,
                    float(step),
                    float(discount_rate),
                )
            )
        col = _core.clv(
            purchase_model._native,
            purchase_model._p(),
            x,
            tx,
            t,
            spend.cast(pl.Float64),
            steps,
            float(step),
            float(discount_rate),
        )
        return pl.Series(col)

    # Each step carries the same discount in both sums, so the difference is exactly the
    # discounted value of the window's steps.
    value = clv(horizon) - clv(start) if start else clv(horizon)
    point = _finite(value.alias("clv"), purchase_model.label)
    if level is None:
        return point
    kw: dict[str, Any] = {
        "steps": horizon,
        "step_length": float(step),
        "discount_rate": float(discount_rate),
    }
    gg = spend_model if isinstance(spend_model, _SpendModel) else None
    if gg is not None and gg.kind == "gamma_gamma":
        gg_cov = gg._interval_covariance()
        kw["monetary"] = numeric_column(df, "monetary_value").cast(pl.Float64)
    else:
        kw["spend"] = spend.cast(pl.Float64)
        gg = None
    native = purchase_model._native
    if purchase_model.covariates is not None:
        lo, hi = _covariate_clv_interval(purchase_model, gg, df, x, tx, t, spend, level, method, kw)
    elif method == "delta":
        cov = purchase_model._interval_covariance()
        if gg is not None:
            kw |= {"spend_params": gg._p(), "spend_covariance": gg_cov}
        lo, hi = _core.delta_interval(
            native, "clv", purchase_model._p(), cov, x, tx, t, level, **kw
        )
    else:
        ps = param_draws(purchase_model, method, draws, seed)
        if gg is not None:
            # The spend model's own stream of draws, paired with the purchase draws.
            kw["spend_draws"] = _core.param_draws(gg._p(), gg_cov, len(ps), _spend_seed(seed))
        lo, hi = _core.interval(native, "clv", ps, x, tx, t, level, **kw)
    label = purchase_model.label
    return pl.DataFrame(
        [
            point,
            _finite(pl.Series(lo).alias("clv_lower"), label),
            _finite(pl.Series(hi).alias("clv_upper"), label),
        ]
    )


def _spend_seed(seed: int) -> int:
    """A seed for the spend model's draws that differs from the purchase model's."""
    return (seed + 0x9E3779B97F4A7C15) % 2**64


def _names(process: str) -> str:
    """The registered models of a process, for messages: "A, B or C"."""
    names = [c.__name__ for c in models_registry(process=process).values()]
    return " or ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else "model"


def _covariate_clv_interval(
    model: _PurchaseModel,
    gg: _SpendModel | None,
    df: pl.DataFrame,
    x: pl.Series,
    tx: pl.Series,
    t: pl.Series,
    spend: pl.Series,
    level: float,
    method: Any,
    kw: dict[str, Any],
) -> tuple[Any, Any]:
    """Delta-method CLV bounds of a covariate purchase model; a Gamma-Gamma spend model's
    uncertainty adds its log-scale variance per row, as without covariates (independent
    parameter blocks): with s = p(v + x m)/(p x + q − 1), ∂ln s/∂(ln p, ln q, ln v) =
    (1 − p x/(p x + q − 1), −q/(p x + q − 1), v/(v + x m))."""
    _delta_only(model.label, method)
    extra = None
    if gg is not None:
        theta = np.asarray(gg._p(), dtype=float)
        sigma = np.asarray(gg._interval_covariance(), dtype=float) / np.outer(theta, theta)
        p, q, v = theta
        xf = x.cast(pl.Float64).to_numpy()
        m = kw["monetary"].to_numpy()
        den = p * xf + q - 1.0
        g = np.stack([1.0 - p * xf / den, -q / den, v / (v + xf * m)])
        extra = np.einsum("ir,ij,jr->r", g, sigma, g)

    def predict(rows: list[pl.Series]) -> Any:
        return _core.clv_rows(
            model._native,
            rows,
            x,
            tx,
            t,
            spend.cast(pl.Float64),
            kw["steps"],
            kw["step_length"],
            kw["discount_rate"],
        )

    return delta_bounds(model, df, predict, z_value(level), "log", extra)
