"""Unit weights: a count column standing for replicated journeys (pre-aggregated data).

A unit's weight is the number of identical journeys it stands for, so every count of units
(funnel steps, breakdowns, comparisons, time-to-convert bins) counts it that many times and
every mean or median over units is taken as over the replicated rows. The weight is a property
of the unit: it must be a whole number >= 0, present and the same on all of the unit's rows
(otherwise a data error naming the column and the row). A unit of weight 0 stands for no
journey and drops out of the funnel, as it would if its rows were replicated zero times.
"""

from __future__ import annotations

import polars as pl

from truenorth.errors import DataError

from .events import ROW, UNIT

W = "w"  # the weight column of a reached frame (absent: every unit weighs 1)


def unit_weights(ev: pl.DataFrame, column: str) -> pl.DataFrame:
    """``unit, w`` (Int64) from the prepared events' ``column``; DataError when not a count
    constant per unit."""
    values = ev.select(UNIT, ROW, pl.col(column).alias("v"))
    bad = values.filter(pl.col("v").is_null()).head(1)
    if bad.height:
        raise DataError(
            f"column '{column}', row {bad[ROW][0]}: missing value; expected the unit's "
            "weight (a whole number of journeys >= 0) on each of its rows"
        )
    bad = values.filter(pl.col("v") != pl.col("v").round()).head(1)
    if bad.height:
        raise DataError(
            f"column '{column}', row {bad[ROW][0]}: value {bad['v'][0]:g} is not a whole "
            "number; expected a count of journeys"
        )
    firsts = (
        values.sort(ROW)
        .group_by(UNIT)
        .agg(pl.col("v").first().alias("first"), pl.col(ROW).first().alias("r0"))
    )
    bad = values.join(firsts, on=UNIT).filter(pl.col("v") != pl.col("first")).sort(ROW).head(1)
    if bad.height:
        row = bad.row(0, named=True)
        raise DataError(
            f"column '{column}', row {row[ROW]}: weight {row['v']:g} differs from "
            f"{row['first']:g} on row {row['r0']} of the same unit ({row[UNIT]!r}); a weight "
            "counts journeys, so it must be the same on all rows of a unit"
        )
    return firsts.select(UNIT, pl.col("first").cast(pl.Int64).alias(W))


def weigh(reached: pl.DataFrame, weights: pl.DataFrame | None) -> pl.DataFrame:
    """``reached`` with the ``w`` column of ``weights`` (units of weight 0 dropped)."""
    if weights is None:
        return reached
    return reached.join(weights, on=UNIT).filter(pl.col(W) > 0)


def count(frame: pl.DataFrame | pl.LazyFrame) -> pl.Expr:
    """Units in a group: the sum of their weights, or the rows when unweighted."""
    names = frame.collect_schema().names()
    return pl.col(W).sum() if W in names else pl.len()


def mean_median(frame: pl.DataFrame | pl.LazyFrame, x: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(mean, median) of ``x`` over units, as over the replicated rows when weighted."""
    empty = isinstance(frame, pl.DataFrame) and frame.height == 0  # polars: cum_sum of null
    if W not in frame.collect_schema().names() or empty:
        return x.mean(), x.median()
    w = pl.col(W)
    total = w.sum()
    mean = (x * w).sum() / total
    order = x.arg_sort()
    xs, cum = x.gather(order), w.gather(order).cum_sum()

    def at(position: pl.Expr) -> pl.Expr:  # the position-th replicated value (1-based)
        return xs.filter(cum >= position).first()

    median = (at((total + 1) // 2) + at(total // 2 + 1)) / 2
    return mean, median.cast(pl.Float64)
