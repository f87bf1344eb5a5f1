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

import polars as pl

from .events import ROW, STEP, TS, UNIT, after

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
    return pl.col(STEP).replace_strict(
        {s: i for i, s in enumerate(steps)}, default=None, return_dtype=pl.Int32
    )


def _first_event(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Per unit, the first event (ts, row) in the ordering rule."""
    return frame.group_by(UNIT).agg(pl.col(TS, ROW).sort_by(TS, ROW).first())


def _entries(ev: pl.LazyFrame) -> pl.LazyFrame:
    return _first_event(ev.filter(pl.col("k") == 0)).select(
        UNIT, pl.col(TS).alias("t0"), pl.col(TS).alias("cur_ts"), pl.col(ROW).alias("cur_row")
    )


def _within(window: timedelta | None) -> pl.Expr:
    return pl.lit(True) if window is None else pl.col(TS) <= pl.col("t0") + window


def reached_events(
    events: pl.DataFrame | pl.LazyFrame,
    steps: Sequence[str],
    *,
    mode: str = "sequential",
    window: timedelta | None = None,
) -> pl.DataFrame:
    """Long frame ``unit, k (0-based step), t0 (entry time), at (time step k was reached)``.

    One row per unit and step it reached; ``events`` has the columns of :func:`events.prepare`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if len(set(steps)) != len(steps) or not steps:
        raise ValueError(f"steps must be a non-empty list of distinct names, not {list(steps)}")
    lazy = events.lazy()
    if mode == "strict":
        return _strict(lazy, steps, window)
    ev = lazy.filter(pl.col(STEP).is_in(list(steps))).select(
        UNIT, TS, ROW, _step_index(steps).alias("k")
    )
    entry = _entries(ev)
    first = entry.select(UNIT, pl.lit(0, dtype=pl.Int32).alias("k"), "t0", pl.col("t0").alias("at"))
    if mode == "sequential":
        levels = [first]
        state = entry
        for k in range(1, len(steps)):
            nxt = (
                ev.filter(pl.col("k") == k)
                .join(state, on=UNIT)
                .filter(after(TS, ROW, "cur_ts", "cur_row") & _within(window))
                .group_by(UNIT)
                .agg(pl.col("t0").first(), pl.col(TS, ROW).sort_by(TS, ROW).first())
                .select(UNIT, "t0", pl.col(TS).alias("cur_ts"), pl.col(ROW).alias("cur_row"))
            )
            state = nxt.cache()
            levels.append(
                state.select(
                    UNIT, pl.lit(k, dtype=pl.Int32).alias("k"), "t0", pl.col("cur_ts").alias("at")
                )
            )
        return pl.concat(levels).collect()
    # any order: first occurrence of each later step after the entry, then a prefix check
    firsts = (
        ev.filter(pl.col("k") > 0)
        .join(entry, on=UNIT)
        .filter(after(TS, ROW, "cur_ts", "cur_row") & _within(window))
        .group_by(UNIT, "k")
        .agg(pl.col("t0").first(), pl.col(TS).min().alias("at"))
        .sort(UNIT, "k")
        .with_columns(
            prefix=(pl.col("k") == pl.int_range(1, pl.len() + 1).over(UNIT)),
            at=pl.col("at").cum_max().over(UNIT),
        )
        .filter(pl.col("prefix"))
        .select(UNIT, "k", "t0", "at")
    )
    return pl.concat([first, firsts]).collect()


def _strict(lazy: pl.LazyFrame, steps: Sequence[str], window: timedelta | None) -> pl.DataFrame:
    ordered = lazy.select(UNIT, TS, ROW, _step_index(steps).alias("k")).sort(UNIT, TS, ROW)
    is_zero = (pl.col("k") == 0).fill_null(False)
    entry_flag = is_zero & (is_zero.cast(pl.UInt32).cum_sum().over(UNIT) == 1)
    ahead: list[pl.Expr] = []
    ok = pl.lit(True)
    for j in range(1, len(steps)):
        ok = (
            ok
            & (pl.col(UNIT).shift(-j) == pl.col(UNIT)).fill_null(False)
            & (pl.col("k").shift(-j) == j).fill_null(False)
        )
        in_window = pl.lit(True) if window is None else pl.col(TS).shift(-j) <= pl.col(TS) + window
        ok = ok & in_window.fill_null(False)
        ahead.append(pl.when(ok).then(pl.col(TS).shift(-j)).alias(f"at{j}"))
    wide = ordered.with_columns(*ahead, entry=entry_flag).filter(pl.col("entry"))
    levels = [
        wide.select(
            UNIT,
            pl.lit(0, dtype=pl.Int32).alias("k"),
            pl.col(TS).alias("t0"),
            pl.col(TS).alias("at"),
        )
    ]
    for j in range(1, len(steps)):
        levels.append(
            wide.filter(pl.col(f"at{j}").is_not_null()).select(
                UNIT,
                pl.lit(j, dtype=pl.Int32).alias("k"),
                pl.col(TS).alias("t0"),
                pl.col(f"at{j}").alias("at"),
            )
        )
    return pl.concat(levels).collect()


def funnel_table(reached: pl.DataFrame, steps: Sequence[str]) -> pl.DataFrame:
    """The funnel table (see :data:`FUNNEL_SCHEMA`) from :func:`reached_events`."""
    seconds = (pl.col("at") - pl.col("t0")).dt.total_microseconds().cast(pl.Float64) / 1e6
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
