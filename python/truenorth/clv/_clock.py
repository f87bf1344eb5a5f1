"""The time column as the summary kernel's integer ticks.

Fixed periods (hours, days, "Nw") use the column's own physical values; calendar periods
(months, quarters, years) become ``month << bits | position in the month`` so that the kernel,
which only knows fixed periods, still picks the true first and last row of each period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from ._time import Span, instant_to_wall, month_index, tick_ns, wall_clock


@dataclass(frozen=True)
class Clock:
    """The time column as the kernel's integer ticks, with period, offset and unit in ticks."""

    ticks: pl.Series
    # whether the ticks are the time column's own physical values (fixed periods, no time
    # zone): then the kernel's first/last ticks are the purchase times, no gather needed
    own: bool
    period: int
    offset: int
    unit: float
    tick_of: Callable[[Any, str], int | None]


def time_clock(t: pl.Series, name: str, period: Span, unit: Span) -> Clock:
    if period.calendar:
        return _calendar_clock(t, name, period, unit)
    tick = tick_ns(t.dtype)
    if period.ns % tick:
        raise ValueError(
            f"period {period.text!r} is finer than the resolution of column '{name}' ({t.dtype})"
        )
    # week periods ("Nw") start on Mondays, counted from Monday 1970-01-05 (as Polars'
    # dt.truncate); other periods, "7d" included, are aligned to the epoch
    offset_ns = 4 * 86_400 * 10**9 if period.letter == "w" else 0

    def tick_of(value: Any, what: str) -> int | None:
        if value is None:
            return None
        return int(instant_to_wall(value, what, t.dtype).to_physical()[0])

    own = not (isinstance(t.dtype, pl.Datetime) and t.dtype.time_zone is not None)
    return Clock(
        wall_clock(t).to_physical(),
        own,
        period.ns // tick,
        offset_ns // tick,
        unit.ns / tick,
        tick_of,
    )


# Bits below the month in a calendar tick: the position inside the month, in the column's own
# ticks (31 days fit), so the kernel's tie rules pick the true earliest/latest row of a period.
_INTRA_BITS = {"date": 5, "ms": 32, "us": 42, "ns": 52}
_DAY_NS = 86_400 * 10**9


def _calendar_clock(t: pl.Series, name: str, period: Span, unit: Span) -> Clock:
    """Calendar periods on the fixed-period kernel: a tick is ``month << bits | position in the
    month``, months counted from the data's first (period-aligned) month. Periods and units are
    whole multiples of ``1 << bits``, so recency and T stay exact ratios of month counts."""
    dtype = t.dtype
    bits = _INTRA_BITS["date" if not isinstance(dtype, pl.Datetime) else str(dtype.time_unit)]
    wall = wall_clock(t)
    months = month_index(t)
    base = (whole(months.min()) // period.months) * period.months
    span = whole(months.max()) - base
    limit = 1 << (62 - bits)
    if span >= limit:
        raise ValueError(
            f"column '{name}': calendar periods on {t.dtype} cover at most {limit} months of "
            f"data, got {span + 1}; cast the column to a coarser unit such as Datetime('us')"
        )
    intra = wall.dt.day().cast(pl.Int64) - 1
    if t.dtype != pl.Date:
        # day of month plus time of day (Polars' % floors, so pre-1970 times work too)
        per_day = _DAY_NS // tick_ns(t.dtype)
        intra = intra * per_day + wall.to_physical() % per_day
    ticks = ((months.cast(pl.Int64) - base) * (1 << bits) + intra).rename(name)

    def tick_of(value: Any, what: str) -> int | None:
        if value is None:
            return None
        rel = int(month_index(instant_to_wall(value, what, t.dtype))[0]) - base
        if rel > limit:
            raise ValueError(
                f"{what}: {value!r} is more than {limit} months after the first purchase, too "
                f"far for calendar periods on {t.dtype}; cast column '{name}' to Datetime('us')"
            )
        # an end long before the data excludes every row either way: clamp, don't overflow
        return max(rel, -limit) << bits

    return Clock(ticks, False, period.months << bits, 0, float(unit.months << bits), tick_of)


def whole(value: object) -> int:
    """An integer aggregate of a non-empty column (Polars types it as any Python value)."""
    if not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value
