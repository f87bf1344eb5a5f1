"""Pure-Polars customer summary: the reference for tests and the baseline for benchmarks.

It implements the same documented semantics as :func:`truenorth.clv.summarize` with ordinary
Polars expressions (``dt.truncate`` for periods, fixed or calendar; calendar spans counted as
year*12+month differences of the truncated starts; two group-bys), independently of the Rust
kernel's tick arithmetic. It assumes valid input (no nulls, finite amounts); validation is the
public function's job.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ._time import instant_to_wall, parse_span, resolve_unit, wall_clock


def reference_summary(
    data: pl.DataFrame | pl.LazyFrame,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    period: str = "1d",
    unit: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
) -> pl.DataFrame:
    """Same output as :func:`truenorth.clv.summarize` (columns, dtypes, order)."""
    unit_span = resolve_unit(unit, parse_span(period, "period"))
    lf = data.lazy()
    schema = lf.collect_schema()
    tdtype = schema[time]
    naive = tdtype if not isinstance(tdtype, pl.Datetime) else pl.Datetime(tdtype.time_unit)
    amt = pl.col(amount).cast(pl.Float64) if amount is not None else pl.lit(0.0)
    lf = lf.select(
        pl.col(customer),
        pl.col(time).alias("__t"),
        pl.col(time).map_batches(wall_clock, return_dtype=naive).dt.truncate(period).alias("__p"),
        amt.alias("__a"),
    )

    def period_of(value: Any, name: str) -> Any:
        return instant_to_wall(value, name, tdtype).dt.truncate(period)[0]

    if observation_end is None:
        end = lf.select(pl.col("__p").max()).collect().item()
    else:
        end = period_of(observation_end, "observation_end")
    cal = end if calibration_end is None else period_of(calibration_end, "calibration_end")

    def units(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
        if unit_span.calendar:
            # calendar: whole months between the two truncated period starts
            def months(e: pl.Expr) -> pl.Expr:
                return e.dt.year().cast(pl.Int64) * 12 + e.dt.month().cast(pl.Int64)

            return (months(later) - months(earlier)).cast(pl.Float64) / unit_span.months
        return (later - earlier).dt.total_nanoseconds().cast(pl.Float64) / unit_span.ns

    calib = lf.filter(pl.col("__p") <= cal)
    per_period = calib.group_by(customer, "__p").agg(
        pl.col("__a").sum().alias("__tot"),
        pl.len().alias("__n"),
        pl.col("__t").min().alias("__tmin"),
        pl.col("__t").max().alias("__tmax"),
    )
    summary = per_period.group_by(customer).agg(
        (pl.len() - 1).cast(pl.Int64).alias("frequency"),
        pl.col("__p").min().alias("__first"),
        pl.col("__p").max().alias("__last"),
        pl.col("__tot").filter(pl.col("__p") != pl.col("__p").min()).mean().alias("__mv"),
        pl.col("__n").sum().cast(pl.Int64).alias("n_transactions"),
        pl.col("__tot").sum().alias("revenue"),
        pl.col("__tmin").min().alias("first_purchase"),
        pl.col("__tmax").max().alias("last_purchase"),
    )
    summary = summary.with_columns(
        units(pl.col("__last"), pl.col("__first")).alias("recency"),
        units(pl.lit(cal, dtype=naive), pl.col("__first")).alias("T"),
        pl.col("__mv").fill_null(0.0).alias("monetary_value"),
    )
    cols = [customer, "frequency", "recency", "T"]
    if amount is not None:
        cols.append("monetary_value")
    cols.append("n_transactions")
    if amount is not None:
        cols.append("revenue")
    cols += ["first_purchase", "last_purchase"]
    if calibration_end is not None:
        hold = (
            lf.filter((pl.col("__p") > cal) & (pl.col("__p") <= end))
            .group_by(customer, "__p")
            .agg(pl.col("__a").sum().alias("__tot"))
            .group_by(customer)
            .agg(
                pl.len().cast(pl.Int64).alias("frequency_holdout"),
                pl.col("__tot").mean().alias("monetary_value_holdout"),
            )
        )
        duration = pl.select(
            units(pl.lit(end, dtype=naive), pl.lit(cal, dtype=naive)).alias("d")
        ).item()
        summary = summary.join(hold, on=customer, how="left").with_columns(
            pl.col("frequency_holdout").fill_null(0),
            pl.col("monetary_value_holdout").fill_null(0.0),
            pl.lit(duration, dtype=pl.Float64).alias("duration_holdout"),
        )
        cols += ["frequency_holdout"]
        if amount is not None:
            cols.append("monetary_value_holdout")
        cols.append("duration_holdout")
    return summary.select(cols).sort(customer).collect()
