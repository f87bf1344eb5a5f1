"""The ordering rule as one sortable integer key, and the step index of an event.

Events of a unit are ordered by timestamp, then by input row (:mod:`.events`). The key
``timestamp_µs · 2³² + row`` packs both, so "first event" is a plain ``min`` and "after" is ``>``.
Rows are < 2³² (UInt32); Int128 holds any µs timestamp times 2³².
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from .events import ROW, STEP, TS, UNIT

SHIFT = 2**32


def step_index(steps: Sequence[str]) -> pl.Expr:
    """0-based index of the event's step in ``steps``; null for other events."""
    expr: Any = pl.when(pl.col(STEP) == steps[0]).then(pl.lit(0, dtype=pl.Int32))  # a chain
    for i, s in enumerate(steps[1:], start=1):
        expr = expr.when(pl.col(STEP) == s).then(pl.lit(i, dtype=pl.Int32))
    return expr


def key() -> pl.Expr:
    """The ordering key of an event (see the module docstring)."""
    return pl.col(TS).dt.cast_time_unit("us").cast(pl.Int64).cast(pl.Int128) * SHIFT + pl.col(
        ROW
    ).cast(pl.Int128)


def us(k: pl.Expr) -> pl.Expr:
    """The µs timestamp of a key."""
    return (k // SHIFT).cast(pl.Int64)


def window_us(window: timedelta | None) -> int | None:
    return None if window is None else window // timedelta(microseconds=1)


def within(window: timedelta | None, at: pl.Expr, t0: pl.Expr | None = None) -> pl.Expr:
    """``at`` (µs) is at most ``window`` after the entry time ``t0`` (µs; column ``t0``)."""
    if window is None:
        return pl.lit(True)
    start = pl.col("t0") if t0 is None else t0
    return at <= start + window_us(window)


def keyed(
    lazy: pl.LazyFrame,
    steps: Sequence[str],
    extra: Sequence[str] = (),
    *,
    everything: bool = False,
) -> pl.DataFrame:
    """``unit, key, k`` of the events of ``steps`` (plus ``extra`` step names with k = -1-i);
    with ``everything``, all events (k null for the others)."""
    idx: Any = step_index(steps)
    for i, name in enumerate(extra):
        idx = idx.when(pl.col(STEP) == name).then(pl.lit(-1 - i, dtype=pl.Int32))
    out = lazy.select(UNIT, key().alias("key"), idx.alias("k"))
    return (out if everything else out.filter(pl.col("k").is_not_null())).collect()
