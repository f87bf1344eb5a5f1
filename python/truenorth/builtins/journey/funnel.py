"""Funnels over an event log, as pure Polars (see :mod:`.events` for columns and ordering).

Semantics. An *attempt* starts at a step-1 event (its *entry*); with ``attempt: first`` (the
default of the ordered modes) only a unit's first step-1 event starts one, with ``attempt: best``
every step-1 event does and the unit counts with the attempt that reaches furthest (the earliest
of those on a tie). With a ``window``, only events at most ``window`` after the entry count. Then:

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
``unordered``
    PostHog's unordered funnel (:mod:`.unordered`): row k counts the units that completed any k
    of the steps, in any order, starting from any of them.

For every unit (ordered modes, same ``attempt``), strict depth <= sequential depth <= any depth,
and the counts per step never increase along the steps. Time to convert to step k is measured
from the entry event.

Exclusions ``(event, i, j)``: an attempt with an ``event`` after the event that reached step i
and before the one that reached step j — or, when step j was not reached, before the end of the
window (no window: any time later) — is discarded, as in PostHog; a unit without an attempt left
drops out of the funnel entirely.

The computation never loops over rows: it loops over the (few) steps, each a join + group-by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from . import unordered as unordered_mod
from . import weights as weights_mod
from .events import UNIT
from .keys import SHIFT, keyed, us, window_us, within

ORDERED_MODES = ("sequential", "strict", "any")
MODES = (*ORDERED_MODES, "unordered")
ATTEMPTS = ("first", "best")
_NO_LIMIT = 2**126  # a key beyond any event: "any time later" when there is no window

Exclusion = tuple[str, int, int]  # (event name, from step index, to step index), 0-based

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

# A level frame has one row per (unit, attempt, step reached): ``unit``, ``a`` (the attempt's
# anchor key), ``k`` (0-based step), ``t0`` (entry, µs), ``at`` (µs) and ``key`` of the event
# that reached step k.
LEVEL = (UNIT, "a", "k", "t0", "at", "key")


def _level(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    return frame.select(
        UNIT, "a", pl.lit(k, dtype=pl.Int32).alias("k"), "t0", us(pl.col("key")).alias("at"), "key"
    )


def _entries(ev: pl.DataFrame, attempt: str) -> pl.DataFrame:
    first = ev.lazy().filter(pl.col("k") == 0)
    if attempt == "first":
        first = first.group_by(UNIT).agg(pl.col("key").min())
    return first.select(UNIT, pl.col("key").alias("a"), "key", t0=us(pl.col("key"))).collect()


def _sequential(ev: pl.DataFrame, n: int, window: timedelta | None, attempt: str) -> list:
    state = _entries(ev, attempt)
    levels = [_level(state, 0)]
    for k in range(1, n):
        state = (
            ev.lazy()
            .filter(pl.col("k") == k)
            .join(state.lazy().select(UNIT, "a", "t0", pl.col("key").alias("cur")), on=UNIT)
            .filter((pl.col("key") > pl.col("cur")) & within(window, us(pl.col("key"))))
            .group_by(UNIT, "a")
            .agg(pl.col("t0").first(), pl.col("key").min())
            .collect()
        )
        levels.append(_level(state, k))
    return levels


def _any(ev: pl.DataFrame, n: int, window: timedelta | None, attempt: str) -> list:
    entry = _entries(ev, attempt)
    levels = [_level(entry, 0)]
    if n == 1:
        return levels
    firsts = (
        ev.lazy()
        .filter(pl.col("k") > 0)
        .join(entry.lazy().select(UNIT, "a", "t0", pl.col("key").alias("cur")), on=UNIT)
        .filter((pl.col("key") > pl.col("cur")) & within(window, us(pl.col("key"))))
        .group_by(UNIT, "a")
        .agg(
            pl.col("t0").first(),
            *[pl.col("key").filter(pl.col("k") == j).min().alias(f"f{j}") for j in range(1, n)],
        )
        .collect()
    )
    for j in range(1, n):
        cols = [pl.col(f"f{i}") for i in range(1, j + 1)]
        hit = firsts.filter(pl.all_horizontal(c.is_not_null() for c in cols))
        levels.append(_level(hit.with_columns(key=pl.max_horizontal(cols)), j))
    return levels


_STEP_BITS = 2**16  # strict mode packs the step index (+1, 0 = not a step) below the key


def _strict(
    lazy: pl.LazyFrame, steps: Sequence[str], window: timedelta | None, attempt: str
) -> list:
    # Strict needs every event (an event of any name breaks a run). Iteratively: the event
    # directly after the one that reached step j-1 is the unit's smallest key above it; the
    # unit reaches step j when that event is a step-j event (inside the window). The step
    # index rides in the low bits of the key, so "the next event and its step" is one min().
    if len(steps) >= _STEP_BITS - 1:
        raise ValueError(f"strict mode supports at most {_STEP_BITS - 2} steps")
    everything = keyed(lazy, steps, everything=True).select(
        UNIT, (pl.col("key") * _STEP_BITS + (pl.col("k") + 1).fill_null(0)).alias("kk")
    )
    starts = everything.lazy().filter(pl.col("kk") % _STEP_BITS == 1)
    if attempt == "first":
        starts = starts.group_by(UNIT).agg(pl.col("kk").min())
    state = starts.with_columns(
        a=pl.col("kk") // _STEP_BITS, t0=us(pl.col("kk") // _STEP_BITS)
    ).collect()
    levels = [_level(state.with_columns(key=pl.col("a")), 0)]
    for j in range(1, len(steps)):
        if state.height == 0:
            break
        state = (
            everything.lazy()
            .join(state.lazy().select(UNIT, "a", "t0", pl.col("kk").alias("cur")), on=UNIT)
            .filter(pl.col("kk") > pl.col("cur"))
            .group_by(UNIT, "a")
            .agg(pl.col("t0").first(), pl.col("kk").min())
            .with_columns(key=pl.col("kk") // _STEP_BITS)
            .filter((pl.col("kk") % _STEP_BITS == j + 1) & within(window, us(pl.col("key"))))
            .collect()
        )
        levels.append(_level(state, j))
    return levels


def exclude(
    levels: pl.DataFrame,
    ev: pl.DataFrame,
    exclusions: Sequence[Exclusion],
    window: timedelta | None,
) -> pl.DataFrame:
    """Drop the attempts (rows of a level frame) with an exclusion event inside their range;
    ``ev`` holds the exclusion events with ``k = -1 - (index in exclusions)``."""
    w = window_us(window)
    bad = []
    for x, (_, i, j) in enumerate(exclusions):
        frm = (
            levels.lazy().filter(pl.col("k") == i).select(UNIT, "a", "t0", pl.col("key").alias("f"))
        )
        to = levels.lazy().filter(pl.col("k") == j).select(UNIT, "a", pl.col("key").alias("to"))
        end = (
            pl.lit(_NO_LIMIT, pl.Int128)
            if w is None
            else (pl.col("t0").cast(pl.Int128) + w + 1) * SHIFT
        )
        hits = ev.lazy().filter(pl.col("k") == -1 - x).select(UNIT, pl.col("key").alias("x"))
        bad.append(
            frm.join(to, on=[UNIT, "a"], how="left")
            .join(hits, on=UNIT)
            .filter((pl.col("x") > pl.col("f")) & (pl.col("x") < pl.coalesce("to", end)))
            .select(UNIT, "a")
        )
    if not bad:
        return levels
    dropped = pl.concat(bad).unique().collect()
    return levels.join(dropped, on=[UNIT, "a"], how="anti")


def best_attempt(levels: pl.DataFrame) -> pl.DataFrame:
    """Per unit the attempt reaching furthest (the earliest anchor on a tie)."""
    chosen = (
        levels.lazy()
        .group_by(UNIT, "a")
        .agg(pl.col("k").max().alias("depth"))
        .sort(["depth", "a"], descending=[True, False])
        .group_by(UNIT)
        .agg(pl.col("a").first())
    )
    return levels.lazy().join(chosen, on=[UNIT, "a"]).collect()


def reached_events(
    events: pl.DataFrame | pl.LazyFrame,
    steps: Sequence[str],
    *,
    mode: str = "sequential",
    window: timedelta | None = None,
    attempt: str | None = None,
    exclusions: Sequence[Exclusion] = (),
) -> pl.DataFrame:
    """Long frame ``unit, k (0-based step), t0, at`` (entry time and time step k was reached,
    both in µs since the epoch). One row per unit and step it reached; ``events`` has the
    columns of :func:`events.prepare`. ``attempt`` defaults to ``first`` in the ordered modes
    and ``best`` in ``unordered`` (PostHog's rule).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if len(set(steps)) != len(steps) or not steps:
        raise ValueError(f"steps must be a non-empty list of distinct names, not {list(steps)}")
    attempt = attempt or ("best" if mode == "unordered" else "first")
    if attempt not in ATTEMPTS:
        raise ValueError(f"attempt must be one of {', '.join(ATTEMPTS)}, not {attempt!r}")
    check_exclusions(steps, exclusions, mode)
    lazy = events.lazy()
    names = [name for name, _, _ in exclusions]
    ev = keyed(lazy, steps, names) if exclusions or mode != "strict" else None
    if mode == "strict":
        parts = _strict(lazy, steps, window, attempt)
    elif mode == "unordered":
        assert ev is not None
        parts = [unordered_mod.levels(ev.filter(pl.col("k") >= 0), len(steps), window, attempt)]
    else:
        assert ev is not None
        step_ev = ev.filter(pl.col("k") >= 0)
        grow = _sequential if mode == "sequential" else _any
        parts = grow(step_ev, len(steps), window, attempt)
    levels = pl.concat([p.select(LEVEL) for p in parts])
    if exclusions:
        assert ev is not None
        levels = exclude(levels, ev, exclusions, window)
    if attempt == "best":
        levels = best_attempt(levels)
    return levels.select(UNIT, "k", "t0", "at")


def check_exclusions(steps: Sequence[str], exclusions: Sequence[Exclusion], mode: str) -> None:
    """Exclusion events are not steps; 0 <= from < to < len(steps); unordered: the full range."""
    for name, i, j in exclusions:
        if name in steps:
            raise ValueError(f"exclusion event {name!r} is a funnel step")
        if not 0 <= i < j < len(steps):
            raise ValueError(
                f"exclusion {name!r}: steps {i + 1}..{j + 1} are not a range of the "
                f"{len(steps)} funnel steps (from before to)"
            )
        if mode == "unordered" and (i, j) != (0, len(steps) - 1):
            raise ValueError(
                f"exclusion {name!r}: an unordered funnel has no step order, so an exclusion "
                "spans all its steps (from the first to the last), as in PostHog"
            )


def funnel_table(reached: pl.DataFrame, steps: Sequence[str]) -> pl.DataFrame:
    """The funnel table (see :data:`FUNNEL_SCHEMA`) from :func:`reached_events`; with a ``w``
    column (:mod:`.weights`) each unit counts that many times."""
    seconds = (pl.col("at") - pl.col("t0")).cast(pl.Float64) / 1e6
    mean, median = weights_mod.mean_median(reached, seconds)
    per_step = reached.group_by("k").agg(
        weights_mod.count(reached).alias("reached"),
        median.alias("median_seconds_from_start"),
        mean.alias("mean_seconds_from_start"),
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
    attempt: str | None = None,
    exclusions: Sequence[Exclusion] = (),
) -> pl.DataFrame:
    """The funnel table of ``events`` (columns of :func:`events.prepare`).

    In ``unordered`` mode the ``step`` column reads ``1 step``, ``2 steps``, … (row k counts
    units that completed any k steps), as PostHog names them.
    """
    reached = reached_events(
        events, steps, mode=mode, window=window, attempt=attempt, exclusions=exclusions
    )
    return funnel_table(reached, step_labels(steps, mode))


def step_labels(steps: Sequence[str], mode: str) -> list[str]:
    if mode != "unordered":
        return list(steps)
    return [f"{i} step" + ("s" if i > 1 else "") for i in range(1, len(steps) + 1)]
