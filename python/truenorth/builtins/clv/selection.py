"""``model: auto``: split the observation window, backtest the candidate purchase models on it
(``truenorth.clv.backtest``), pick one, and describe the choice as tables and findings.

The pick (``select: holdout``, the default) is the candidate with the lowest per-customer root
mean squared error of holdout purchases. RMSE rather than MAE because the models predict each
customer's *expected* (mean) number of purchases, and the mean is what minimises squared error;
absolute error is minimised by the median, which for the many customers with at most one
purchase ahead is 0, so MAE would reward models that predict too little. ``select: bic`` picks
the lowest BIC of the calibration fits instead (no look at the holdout). Converged fits go first:
a candidate whose fit did not converge is chosen only when none converged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

import truenorth

from .options import ClvOptions, duration_days, is_calendar, source_of
from .tables import TABLES

__all__ = ["TABLES", "Choice", "choose", "rank", "split_end"]

#: what ``model: auto`` writes, with the declared column types (the backtest's tables in long
#: form: one row per model and bin or period, so the columns never depend on the candidates)

#: the figure each ``select`` ranks by (lowest first), and how a message names it
METRICS = {
    "holdout": ("rmse", "per-customer RMSE of holdout purchases"),
    "bic": ("bic", "BIC of the calibration fit"),
}


@dataclass(frozen=True)
class Choice:
    """The picked candidate, the backtest behind the pick, and the split it used."""

    kind: str
    backtest: Any
    ranked: pl.DataFrame
    calibration_end: date | datetime
    observation_end: date | datetime


def split_end(opts: ClvOptions, first: Any, last: Any) -> date | datetime:
    """The calibration end: ``calibration_end``, or ``holdout`` before the end of the window,
    or (neither given) three quarters of the way from the first purchase to the end."""
    if opts.calibration_end is not None:
        return opts.calibration_end
    if opts.holdout is not None:
        if is_calendar(opts.holdout):  # months differ in length: step back on the calendar
            at = pl.Series([last])
            if not isinstance(last, datetime):
                at = at.cast(pl.Datetime("us"))
            end = at.dt.offset_by(f"-{opts.holdout}")[0]
            return end.date() if not isinstance(last, datetime) else end
        return last - timedelta(days=duration_days(opts.holdout))
    span = last - first
    if isinstance(last, datetime):
        return first + span * 0.75
    return first + timedelta(days=math.floor(span.days * 0.75))


def rank(comparison: pl.DataFrame, select: str) -> pl.DataFrame:
    """``comparison`` with ``rank`` (1 = picked; null for candidates that cannot be ranked:
    failed fits or a non-finite figure): converged fits first, then the ``select`` figure,
    then fewer parameters."""
    metric = METRICS[select][0]
    ok = pl.col("error").is_null() & pl.col(metric).is_not_null() & pl.col(metric).is_finite()
    order = (
        comparison.with_row_index("_i")
        .filter(ok)
        .sort(
            pl.col("converged").fill_null(False).not_(), metric, "n_params", "_i", nulls_last=True
        )
        .with_row_index("rank", offset=1)
        .select("model", pl.col("rank").cast(pl.Int64))
    )
    return comparison.join(order, on="model", how="left")


def choose(
    ctx: truenorth.RuleContext[ClvOptions], transactions: pl.DataFrame, summary: pl.DataFrame
) -> Choice:
    """Backtest the candidates on the split of the observation window and pick one.

    Bad splits (outside the data, a holdout under one unit, no repeat purchase in the
    calibration window) and all candidates failing are data errors naming the table."""
    from truenorth import clv

    opts = ctx.rule.options
    table = source_of(opts, ctx.rule)
    first: Any = summary["first_purchase"].min()  # a date or datetime: summarize's dtype
    last: Any = summary["last_purchase"].max()
    end: date | datetime = opts.observation_end if opts.observation_end is not None else last
    cal = split_end(opts, first, end)
    how = (
        f"calibration_end {cal}"
        if opts.calibration_end is not None
        else f"holdout {opts.holdout!r} (calibration end {cal})"
        if opts.holdout is not None
        else f"the default split (calibration end {cal})"
    )
    try:
        before, after = _as_dt(cal) < _as_dt(first), _as_dt(cal) >= _as_dt(end)
    except TypeError as exc:
        raise truenorth.DataError(
            f"table {table!r}: {how} cannot be compared with the times in column "
            f"{opts.time!r} ({exc}); give both with or both without a time zone"
        ) from None
    if before or after:
        raise truenorth.DataError(
            f"table {table!r}: {how} falls outside the data, whose observation window runs "
            f"from {first} to {end}; the calibration end must lie inside it"
        )
    try:
        bt = clv.backtest(
            transactions,
            customer=opts.customer,
            time=opts.time,
            calibration_end=cal,
            observation_end=opts.observation_end,
            models=opts.models,
            period=opts.period,
            unit=opts.unit,
            spend=None,
        )
    except clv.ModelInputError as exc:
        raise truenorth.DataError(f"table {table!r}, model: auto with {how}: {exc}") from exc
    ranked = rank(bt.comparison, opts.select)
    best = ranked.filter(pl.col("rank") == 1)
    if best.height == 0:
        said = METRICS[opts.select][1]
        raise truenorth.DataError(
            f"table {table!r}, model: auto with {how}: no candidate has a finite {said} "
            f"({', '.join(ranked['model'])})"
        )
    return Choice(str(best["model"][0]), bt, ranked, cal, end)


def _as_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)
