"""Views of a funnel: per property value (breakdown) and the time to convert between two steps.

Both start from the reached frame of :func:`.funnel.reached_events` (``unit, k, t0, at``).

Breakdown value of a unit: the first non-null value of the property among the unit's events in
the ordering rule (timestamp, then row) — a "first touch" rule, PostHog's default breakdown
attribution; units without a value fall under ``(none)``. Values beyond the ``limit`` most
common (by units entering the funnel) are pooled as ``(other)``.

Time to convert from step i to step j (i < j): for each unit that reached step j, the seconds
between the event that reached step i and the one that reached step j (in ``unordered`` mode:
the i-th and j-th completions). The histogram has ``bins`` equal-width bins from the shortest to
the longest time (one bin when they are equal), the left edge inclusive, the last bin closed.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from . import weights as weights_mod
from .events import ROW, TS, UNIT
from .funnel import FUNNEL_SCHEMA, funnel_table

NONE = "(none)"
OTHER = "(other)"

BREAKDOWN_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "breakdown": pl.String,
    **FUNNEL_SCHEMA,
}

TIME_TO_CONVERT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "from_step": pl.String,
    "to_step": pl.String,
    "bin": pl.Int32,
    "lower_seconds": pl.Float64,
    "upper_seconds": pl.Float64,
    "units": pl.UInt32,
    "share": pl.Float64,
    "cumulative_share": pl.Float64,
}


RANGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "from_step_index": pl.Int32,
    "from_step": pl.String,
    "to_step_index": pl.Int32,
    "to_step": pl.String,
    "entered": pl.UInt32,
    "converted": pl.UInt32,
    "conversion_rate": pl.Float64,
    "drop_off": pl.Int64,
    "median_seconds": pl.Float64,
    "mean_seconds": pl.Float64,
}


def unit_values(events: pl.DataFrame | pl.LazyFrame, column: str) -> pl.DataFrame:
    """``unit, value``: each unit's first non-null ``column`` value (``(none)`` if it has none)."""
    lazy = events.lazy()
    firsts = (
        lazy.filter(pl.col(column).is_not_null())
        .group_by(UNIT)
        .agg(pl.col(column).cast(pl.String).sort_by(TS, ROW).first().alias("value"))
    )
    return (
        lazy.select(UNIT)
        .unique()
        .join(firsts, on=UNIT, how="left")
        .with_columns(pl.col("value").fill_null(NONE))
        .collect()
    )


def breakdown(
    reached: pl.DataFrame, values: pl.DataFrame, steps: Sequence[str], limit: int = 25
) -> pl.DataFrame:
    """The funnel table per breakdown value (:data:`BREAKDOWN_SCHEMA`), the most common first."""
    tagged = reached.join(values, on=UNIT, how="left").with_columns(pl.col("value").fill_null(NONE))
    sizes = (
        tagged.filter(pl.col("k") == 0)
        .group_by("value")
        .agg(weights_mod.count(tagged).alias("n"))
        .sort(["n", "value"], descending=[True, False])
    )
    top = sizes["value"].head(limit).to_list()
    tagged = tagged.with_columns(
        pl.when(pl.col("value").is_in(top)).then(pl.col("value")).otherwise(pl.lit(OTHER))
    )
    order = top + ([OTHER] if sizes.height > limit else [])
    parts = [
        funnel_table(tagged.filter(pl.col("value") == v), steps).select(
            pl.lit(v).alias("breakdown"), pl.all()
        )
        for v in order
    ]
    if not parts:
        return pl.DataFrame(schema=BREAKDOWN_SCHEMA)
    return pl.concat(parts)


def step_pairs(reached: pl.DataFrame, i: int, j: int) -> pl.DataFrame:
    """``unit, seconds`` (+ ``w``) from step ``i`` to step ``j`` of the units that reached both."""
    names = reached.columns
    return (
        reached.filter(pl.col("k").is_in([i, j]))
        .group_by(UNIT)
        .agg(
            pl.col("at").filter(pl.col("k") == i).first().alias("a"),
            pl.col("at").filter(pl.col("k") == j).first().alias("b"),
            *([pl.col(weights_mod.W).first()] if weights_mod.W in names else []),
        )
        .drop_nulls()
        .select(
            UNIT,
            ((pl.col("b") - pl.col("a")).cast(pl.Float64) / 1e6).alias("seconds"),
            pl.exclude(UNIT, "a", "b"),
        )
    )


def time_to_convert(
    reached: pl.DataFrame, steps: Sequence[str], i: int, j: int, bins: int = 10
) -> pl.DataFrame:
    """Histogram of the seconds from step ``i`` to step ``j`` (0-based; see the module doc)."""
    if not 0 <= i < j < len(steps):
        raise ValueError(f"time to convert needs two steps in funnel order, not {i + 1}, {j + 1}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    wide = step_pairs(reached, i, j)
    secs = wide["seconds"]
    if secs.len() == 0:
        return pl.DataFrame(schema=TIME_TO_CONVERT_SCHEMA)
    lo, hi = float(secs.min()), float(secs.max())  # type: ignore[arg-type]
    n_bins = 1 if hi == lo else bins
    width = (hi - lo) / n_bins if hi > lo else 1.0
    idx = ((pl.col("seconds") - lo) / width).floor().clip(0, n_bins - 1).cast(pl.Int32)
    counts = wide.group_by(idx.alias("b")).agg(weights_mod.count(wide).alias("units"))
    edges = pl.DataFrame({"b": pl.int_range(n_bins, eager=True, dtype=pl.Int32)})
    total = counts["units"].sum()
    return (
        edges.join(counts, on="b", how="left")
        .sort("b")
        .select(
            pl.lit(steps[i]).alias("from_step"),
            pl.lit(steps[j]).alias("to_step"),
            (pl.col("b") + 1).alias("bin"),
            (lo + pl.col("b") * width).cast(pl.Float64).alias("lower_seconds"),
            pl.when(pl.col("b") == n_bins - 1)
            .then(pl.lit(hi))
            .otherwise(lo + (pl.col("b") + 1) * width)
            .cast(pl.Float64)
            .alias("upper_seconds"),
            pl.col("units").fill_null(0).cast(pl.UInt32),
        )
        .with_columns(
            share=pl.col("units") / total,
            cumulative_share=pl.col("units").cum_sum() / total,
        )
    )


def step_range(reached: pl.DataFrame, steps: Sequence[str], i: int, j: int) -> pl.DataFrame:
    """The conversion from step ``i`` to step ``j`` (0-based, i < j; :data:`RANGE_SCHEMA`).

    ``entered``: units that reached step i; ``converted``: those that also reached step j;
    the seconds are between the events that reached the two steps, over the converted units.
    """
    if not 0 <= i < j < len(steps):
        raise ValueError(f"a step range needs two steps in funnel order, not {i + 1}, {j + 1}")
    entered = reached.filter(pl.col("k") == i)
    n = int(entered.select(weights_mod.count(entered)).item())
    pairs = step_pairs(reached, i, j)
    mean, median = weights_mod.mean_median(pairs, pl.col("seconds"))
    x, mid, avg = pairs.select(
        weights_mod.count(pairs).alias("n"), median.alias("m"), mean.alias("a")
    ).row(0)
    return pl.DataFrame(
        [(i + 1, steps[i], j + 1, steps[j], n, x, x / n if n else None, n - x, mid, avg)],
        schema=RANGE_SCHEMA,
        orient="row",
    )
