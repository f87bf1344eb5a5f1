"""Stage transition matrix and touchpoint satisfaction, as pure Polars.

Transitions are counted between consecutive events of a unit in the ordering rule (timestamp,
then row order), with a ``(start)`` state before each unit's first event and an ``(end)`` state
after its last one, so every row of the matrix (every ``from_stage``) sums to probability 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from .events import ROW, STEP, TS, UNIT

START = "(start)"
END = "(end)"

TRANSITIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "from_stage": pl.String,
    "to_stage": pl.String,
    "count": pl.UInt32,
    "probability": pl.Float64,
}

TOUCHPOINTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "touchpoint": pl.String,
    "events": pl.UInt32,
    "units": pl.UInt32,
    "stages": pl.String,
    "responses": pl.UInt32,
    "mean_satisfaction": pl.Float64,
}


def transitions(
    events: pl.DataFrame | pl.LazyFrame, steps: Sequence[str] | None = None
) -> pl.DataFrame:
    """Long transition matrix: ``from_stage, to_stage, count, probability``.

    With ``steps``, only events of those steps are kept (the matrix between funnel stages);
    otherwise every distinct step name is a state. Sorted by from_stage, to_stage.
    """
    lazy = events.lazy().select(UNIT, TS, ROW, STEP)
    if steps is not None:
        lazy = lazy.filter(pl.col(STEP).is_in(list(steps)))
    ordered = lazy.sort(UNIT, TS, ROW)
    prev = pl.col(STEP).shift(1).over(UNIT)
    moves = ordered.select(
        pl.coalesce(prev, pl.lit(START)).alias("from_stage"), pl.col(STEP).alias("to_stage")
    )
    ends = (
        ordered.group_by(UNIT)
        .agg(pl.col(STEP).last().alias("from_stage"))
        .select("from_stage", pl.lit(END).alias("to_stage"))
    )
    counts = (
        pl.concat([moves, ends])
        .group_by("from_stage", "to_stage")
        .agg(pl.len().alias("count"))
        .with_columns(
            probability=pl.col("count") / pl.col("count").sum().over("from_stage"),
        )
        .sort("from_stage", "to_stage")
    )
    return counts.collect()


def touchpoints(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per touchpoint: events, distinct units, the stages it appears in, satisfaction.

    ``responses`` counts events with a satisfaction score; ``mean_satisfaction`` is their mean
    (null without scores). Empty (with the declared schema) when there is no touchpoint column.
    """
    lazy = events.lazy()
    schema = lazy.collect_schema()
    if "touchpoint" not in schema:
        return pl.DataFrame(schema=TOUCHPOINTS_SCHEMA)
    sat = pl.col("satisfaction") if "satisfaction" in schema else pl.lit(None, dtype=pl.Float64)
    return (
        lazy.filter(pl.col("touchpoint").is_not_null())
        .with_columns(sat.alias("satisfaction"))
        .group_by("touchpoint")
        .agg(
            pl.len().alias("events"),
            pl.col(UNIT).n_unique().cast(pl.UInt32).alias("units"),
            pl.col(STEP).unique().sort().str.join(", ").alias("stages"),
            pl.col("satisfaction").count().cast(pl.UInt32).alias("responses"),
            pl.col("satisfaction").mean().alias("mean_satisfaction"),
        )
        .sort("touchpoint")
        .collect()
    )


PATHS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "path": pl.String,
    "units": pl.UInt32,
    "share": pl.Float64,
    "converted": pl.UInt32,
    "conversion_rate": pl.Float64,
}


def paths(
    events: pl.DataFrame | pl.LazyFrame, steps: Sequence[str], conversion: str, top: int = 20
) -> pl.DataFrame:
    """The most common stage paths: each unit's funnel-step events in order, repeats of the same
    step in a row collapsed, joined with " > ". ``converted`` counts the units on the path that
    reached ``conversion``. Sorted by units (descending), then path; at most ``top`` rows.
    """
    lazy = events.lazy().select(UNIT, TS, ROW, STEP).filter(pl.col(STEP).is_in(list(steps)))
    ordered = lazy.sort(UNIT, TS, ROW).filter(
        (pl.col(STEP) != pl.col(STEP).shift(1).over(UNIT)).fill_null(True)
    )
    per_unit = ordered.group_by(UNIT).agg(
        pl.col(STEP).str.join(" > ").alias("path"),
        (pl.col(STEP) == conversion).any().alias("converted"),
    )
    return (
        per_unit.group_by("path")
        .agg(pl.len().alias("units"), pl.col("converted").sum().cast(pl.UInt32))
        .with_columns(
            share=pl.col("units") / pl.col("units").sum(),
            conversion_rate=pl.col("converted") / pl.col("units"),
        )
        .sort(["units", "path"], descending=[True, False])
        .head(top)
        .select("path", "units", "share", "converted", "conversion_rate")
        .collect()
    )


def stages_without_touchpoint(
    events: pl.DataFrame | pl.LazyFrame, steps: Sequence[str]
) -> list[str]:
    """The steps (in order) none of whose events names a touchpoint."""
    lazy = events.lazy()
    if "touchpoint" not in lazy.collect_schema():
        return []
    covered = set(
        lazy.filter(pl.col("touchpoint").is_not_null() & pl.col(STEP).is_in(list(steps)))
        .select(pl.col(STEP).unique())
        .collect()[STEP]
        .to_list()
    )
    return [s for s in steps if s not in covered]


STEP_MATRIX_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "position": pl.Int32,
    "event": pl.String,
    "units": pl.UInt32,
    "share": pl.Float64,
}

ENDED = "(ended)"


def step_matrix(events: pl.DataFrame | pl.LazyFrame, positions: int = 10) -> pl.DataFrame:
    """Retentioneering's step matrix, long: the share of units whose ``position``-th event (in
    the ordering rule, all events, repeats kept) is ``event``; ``(ended)`` counts the units
    whose journey had already ended. Each position's shares sum to 1."""
    lazy = events.lazy().select(UNIT, TS, ROW, STEP).sort(UNIT, TS, ROW)
    ranked = lazy.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int32).over(UNIT) + 1).alias("position")
    ).filter(pl.col("position") <= positions)
    n_units = lazy.select(pl.col(UNIT).n_unique()).collect().item()
    counts = ranked.group_by("position", pl.col(STEP).alias("event")).agg(
        pl.len().cast(pl.UInt32).alias("units")
    )
    per_pos = counts.group_by("position").agg(pl.col("units").sum().alias("seen"))
    ended = (
        pl.LazyFrame({"position": pl.int_range(1, positions + 1, dtype=pl.Int32, eager=True)})
        .join(per_pos, on="position", how="left")
        .select(
            "position",
            pl.lit(ENDED).alias("event"),
            (n_units - pl.col("seen").fill_null(0)).cast(pl.UInt32).alias("units"),
        )
        .filter(pl.col("units") > 0)
    )
    return (
        pl.concat([counts, ended])
        .with_columns(share=pl.col("units") / n_units)
        .sort(["position", "units", "event"], descending=[False, True, False])
        .collect()
    )
