"""Funnels over an event log, as pure Polars (see :mod:`.events` for columns and ordering).

Semantics. A unit (customer or session) *enters* the funnel at its first step-1 event (first in
the ordering rule: timestamp, then row order). Re-entries into step 1 do not restart the funnel.
With a ``window``, only events at most ``window`` after the entry time count. Then:

``sequential`` (default)
    step k is reached at the first step-k event after the event that reached step k-1 (other
    events may happen in between). Greedy earliest matching is optimal: no other choice of
    events reaches further.
``strict``
    step k is reached when the event directly after the one that reached step k-1 — the next
    event of the unit of *any* name, not only funnel steps — is a step-k event.
``any``
    step k is reached when each of steps 2..k occurred after the entry, in any order; it is
    reached at the latest of their first occurrences after the entry.

So for every unit, strict depth <= sequential depth <= any depth, and the counts per step never
increase along the steps. Time to convert to step k is measured from the entry event.

The computation never loops over rows: it loops over the (few) steps, each a join + group-by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from .events import ROW, STEP, TS, UNIT

MODES = ("sequential", "strict", "any")

FUNNEL_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "step_index": pl.Int32,
    "step": pl.String,
    "reached": pl.UInt32,
    "conversion_from_start": pl.Float64,
    "conversion_from_previous": pl.Float64,
    "drop_off": pl.Int64,
    "drop_off_rate": pl.Float64,
    "median_seconds_from_start": pl.Float64,
    "mean_seconds_from_start": pl.Float64,
}


def _step_index(steps: Sequence[str]) -> pl.Expr:
    expr: Any = pl.when(pl.col(STEP) == steps[0]).then(pl.lit(0, dtype=pl.Int32))  # a chain
    for i, s in enumerate(steps[1:], start=1):
        expr = expr.when(pl.col(STEP) == s).then(pl.lit(i, dtype=pl.Int32))
    return expr


# The ordering rule as one integer: (timestamp in µs) · 2³² + row. Rows are < 2³² (UInt32), so
# comparing keys compares (timestamp, row) lexicographically, and a group's first event is a plain
# ``min`` (no sort). Int128 holds any µs timestamp times 2³².
_SHIFT = 2**32


def _key() -> pl.Expr:
    return pl.col(TS).dt.cast_time_unit("us").cast(pl.Int64).cast(pl.Int128) * _SHIFT + pl.col(
        ROW
    ).cast(pl.Int128)


def _us(key: pl.Expr) -> pl.Expr:
    """The µs timestamp of a key."""
    return (key // _SHIFT).cast(pl.Int64)


def _keyed(lazy: pl.LazyFrame, steps: Sequence[str]) -> pl.DataFrame:
    return (
        lazy.select(UNIT, _key().alias("key"), _step_index(steps).alias("k"))
        .filter(pl.col("k").is_not_null())
        .collect()
    )


def _entries(ev: pl.DataFrame) -> pl.DataFrame:
    """Per unit its entry: the first step-1 event (``key``) and its time ``t0`` (µs)."""
    return (
        ev.lazy()
        .filter(pl.col("k") == 0)
        .group_by(UNIT)
        .agg(pl.col("key").min())
        .with_columns(t0=_us(pl.col("key")))
        .collect()
    )


def _within(window: timedelta | None, at: pl.Expr) -> pl.Expr:
    if window is None:
        return pl.lit(True)
    return at <= pl.col("t0") + (window // timedelta(microseconds=1))


def _level(frame: pl.DataFrame, k: int, at: str) -> pl.DataFrame:
    return frame.select(UNIT, pl.lit(k, dtype=pl.Int32).alias("k"), "t0", pl.col(at).alias("at"))


def reached_events(
    events: pl.DataFrame | pl.LazyFrame,
    steps: Sequence[str],
    *,
    mode: str = "sequential",
    window: timedelta | None = None,
) -> pl.DataFrame:
    """Long frame ``unit, k (0-based step), t0, at`` (entry time and time step k was reached,
    both in µs since the epoch). One row per unit and step it reached; ``events`` has the
    columns of :func:`events.prepare`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if len(set(steps)) != len(steps) or not steps:
        raise ValueError(f"steps must be a non-empty list of distinct names, not {list(steps)}")
    lazy = events.lazy()
    if mode == "strict":
        return _strict(lazy, steps, window)
    ev = _keyed(lazy, steps)
    entry = _entries(ev)
    levels = [_level(entry, 0, "t0")]
    if mode == "sequential":
        state = entry
        for k in range(1, len(steps)):
            state = (
                ev.lazy()
                .filter(pl.col("k") == k)
                .join(state.lazy().select(UNIT, "t0", pl.col("key").alias("cur")), on=UNIT)
                .filter((pl.col("key") > pl.col("cur")) & _within(window, _us(pl.col("key"))))
                .group_by(UNIT)
                .agg(pl.col("t0").first(), pl.col("key").min())
                .collect()
            )
            levels.append(_level(state.with_columns(at=_us(pl.col("key"))), k, "at"))
        return pl.concat(levels)
    # any order: first occurrence of each later step after the entry, then a prefix check
    if len(steps) > 1:
        firsts = (
            ev.lazy()
            .filter(pl.col("k") > 0)
            .join(entry.lazy().select(UNIT, "t0", pl.col("key").alias("cur")), on=UNIT)
            .filter((pl.col("key") > pl.col("cur")) & _within(window, _us(pl.col("key"))))
            .group_by(UNIT)
            .agg(
                pl.col("t0").first(),
                *[
                    pl.col("key").filter(pl.col("k") == j).min().alias(f"f{j}")
                    for j in range(1, len(steps))
                ],
            )
            .collect()
        )
        for j in range(1, len(steps)):
            cols = [pl.col(f"f{i}") for i in range(1, j + 1)]
            hit = firsts.filter(pl.all_horizontal(c.is_not_null() for c in cols))
            levels.append(_level(hit.with_columns(at=_us(pl.max_horizontal(cols))), j, "at"))
    return pl.concat(levels)


_STEP_BITS = 2**16  # strict mode packs the step index (+1, 0 = not a step) below the key


def _strict(lazy: pl.LazyFrame, steps: Sequence[str], window: timedelta | None) -> pl.DataFrame:
    # Strict needs every event (an event of any name breaks a run). Iteratively: the event
    # directly after the one that reached step j-1 is the unit's smallest key above it; the
    # unit reaches step j when that event is a step-j event (inside the window). The step
    # index rides in the low bits of the key, so "the next event and its step" is one min().
    if len(steps) >= _STEP_BITS - 1:
        raise ValueError(f"strict mode supports at most {_STEP_BITS - 2} steps")
    packed = (pl.col("key") * _STEP_BITS + (pl.col("k") + 1).fill_null(0)).alias("kk")
    everything = (
        lazy.select(UNIT, _key().alias("key"), _step_index(steps).alias("k"))
        .select(UNIT, packed)
        .collect()
    )
    entry = (
        everything.lazy()
        .filter(pl.col("kk") % _STEP_BITS == 1)
        .group_by(UNIT)
        .agg(pl.col("kk").min())
        .with_columns(t0=_us(pl.col("kk") // _STEP_BITS))
        .collect()
    )
    levels = [_level(entry, 0, "t0")]
    state = entry
    for j in range(1, len(steps)):
        if state.height == 0:
            break
        state = (
            everything.lazy()
            .join(state.lazy().select(UNIT, "t0", pl.col("kk").alias("cur")), on=UNIT)
            .filter(pl.col("kk") > pl.col("cur"))
            .group_by(UNIT)
            .agg(pl.col("t0").first(), pl.col("kk").min())
            .with_columns(at=_us(pl.col("kk") // _STEP_BITS))
            .filter((pl.col("kk") % _STEP_BITS == j + 1) & _within(window, pl.col("at")))
            .collect()
        )
        levels.append(_level(state, j, "at"))
    return pl.concat(levels)


def funnel_table(reached: pl.DataFrame, steps: Sequence[str]) -> pl.DataFrame:
    """The funnel table (see :data:`FUNNEL_SCHEMA`) from :func:`reached_events`."""
    seconds = (pl.col("at") - pl.col("t0")).cast(pl.Float64) / 1e6
    per_step = reached.group_by("k").agg(
        pl.len().alias("reached"),
        seconds.median().alias("median_seconds_from_start"),
        seconds.mean().alias("mean_seconds_from_start"),
    )
    base = pl.DataFrame(
        {"k": list(range(len(steps))), "step": list(steps)},
        schema={"k": pl.Int32, "step": pl.String},
    )
    table = (
        base.join(per_step, on="k", how="left")
        .sort("k")
        .with_columns(pl.col("reached").fill_null(0).cast(pl.UInt32))
    )
    reached_n = pl.col("reached").cast(pl.Int64)
    start = reached_n.first()
    prev = reached_n.shift(1)
    return table.select(
        (pl.col("k") + 1).alias("step_index"),
        "step",
        "reached",
        pl.when(start > 0).then(reached_n / start).alias("conversion_from_start"),
        pl.when(prev > 0).then(reached_n / prev).alias("conversion_from_previous"),
        (prev - reached_n).alias("drop_off"),
        pl.when(prev > 0).then(1 - reached_n / prev).alias("drop_off_rate"),
        "median_seconds_from_start",
        "mean_seconds_from_start",
    )


def funnel(
    events: pl.DataFrame | pl.LazyFrame,
    steps: Sequence[str],
    *,
    mode: str = "sequential",
    window: timedelta | None = None,
) -> pl.DataFrame:
    """The funnel table of ``events`` (columns of :func:`events.prepare`)."""
    return funnel_table(reached_events(events, steps, mode=mode, window=window), steps)
