"""Aggregated paths for attribution: from an event log, or given pre-aggregated.

The paths frame has one row per distinct path: ``path`` (list of channels), ``conversions``,
``nulls`` (journeys on the path that did not convert) and ``value`` (their total conversion
value). Weights are non-negative numbers, so a row stands for any number of journeys and
pre-aggregated data is never replicated row by row.

Pre-aggregated input is ChannelAttribution's format: a path column (``"a > b > c"``, channels
separated by ``separator``, blanks around them ignored), a conversions column, and optionally a
nulls column (default 0) and a conversion-value column (default 0).
"""

from __future__ import annotations

import polars as pl

from truenorth.errors import DataError

from .events import UNIT

PATHS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "path": pl.List(pl.String),
    "conversions": pl.Float64,
    "nulls": pl.Float64,
    "value": pl.Float64,
}


def from_touches(
    touches: pl.DataFrame, outcomes: pl.DataFrame, weights: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Paths frame from :func:`.attribution.paths` (``weights``: ``unit, weight, value`` — a
    unit stands for ``weight`` journeys, each converting with ``value``)."""
    per_unit = touches.sort(UNIT, "pos").group_by(UNIT).agg(pl.col("channel").alias("path"))
    per_unit = per_unit.join(outcomes.select(UNIT, "converted"), on=UNIT)
    if weights is None:
        per_unit = per_unit.with_columns(weight=pl.lit(1.0), value=pl.lit(0.0))
    else:
        per_unit = per_unit.join(weights, on=UNIT, how="left").with_columns(
            pl.col("weight").fill_null(1.0), pl.col("value").fill_null(0.0)
        )
    return (
        per_unit.group_by("path")
        .agg(
            pl.col("weight").filter(pl.col("converted")).sum().alias("conversions"),
            pl.col("weight").filter(~pl.col("converted")).sum().alias("nulls"),
            (pl.col("weight") * pl.col("value")).filter(pl.col("converted")).sum().alias("value"),
        )
        .select(
            pl.col("path"),
            *[pl.col(c).cast(pl.Float64) for c in ("conversions", "nulls", "value")],
        )
        .sort(pl.col("path").list.join(" > "))
    )


def from_table(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    path: str = "path",
    conversions: str = "total_conversions",
    nulls: str | None = "total_null",
    value: str | None = None,
    separator: str = ">",
) -> pl.DataFrame:
    """Paths frame from pre-aggregated rows; errors name the column, the row and the value."""
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    wanted = [c for c in (path, conversions, nulls, value) if c is not None]
    absent = [c for c in wanted if c not in names]
    if absent:
        raise DataError(
            f"path data lacks column(s) {', '.join(repr(c) for c in absent)} "
            f"(found: {', '.join(names)})"
        )
    df = lazy.select(wanted).with_row_index("row", offset=1).collect()
    p = df[path].cast(pl.String)
    bad = p.is_null() | (p.str.strip_chars() == "")
    if bad.any():
        row = df.filter(bad)["row"][0]
        raise DataError(f"column '{path}', row {row}: empty path; expected channels like a > b")
    parts = p.str.split(separator).list.eval(pl.element().str.strip_chars())
    empty = parts.list.eval(pl.element() == "").list.any()
    if empty.any():
        row = df.filter(empty)["row"][0]
        raise DataError(
            f"column '{path}', row {row}: value {p.filter(empty)[0]!r} has an empty channel "
            f"between separators {separator!r}"
        )
    cols = {"conversions": conversions, "nulls": nulls, "value": value}
    out = {"path": parts}
    for key, col in cols.items():
        out[key] = _count(df, col) if col is not None else pl.Series(key, [0.0] * df.height)
    return (
        pl.DataFrame(out)
        .group_by("path")
        .agg(pl.col("conversions", "nulls", "value").sum())
        .sort(pl.col("path").list.join(" > "))
    )


def _count(df: pl.DataFrame, col: str) -> pl.Series:
    s = df[col]
    num = (
        s.cast(pl.Float64, strict=False)
        if s.dtype != pl.String
        else s.str.strip_chars().cast(pl.Float64, strict=False)
    )
    bad = num.is_null() | num.is_nan() | num.is_infinite() | (num < 0)
    if bad.any():
        row = df.filter(bad)["row"][0]
        value = df.filter(bad)[col][0]
        raise DataError(
            f"column '{col}', row {row}: value {value!r} is not a count; expected a number >= 0"
        )
    return num
