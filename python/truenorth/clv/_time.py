"""Time handling shared by the summary kernel and its pure-Polars reference.

Periods and units are Polars-style durations ``"<n><unit>"``:

- fixed-length, unit one of ``ns, us, ms, s, m, h, d, w``. Periods are aligned to the Unix epoch,
  except weeks, which start on Monday (as pandas' ``W`` periods used by lifetimes, and Polars'
  ``dt.truncate("1w")``; for ``"Nw"`` counted from Monday 1970-01-05, as Polars);
- calendar, unit one of ``mo, q, y`` (a quarter is 3 months, a year 12). A timestamp's period is
  found from its wall-clock year and month alone; ``"Nmo"`` periods are counted from January
  1970, as Polars' ``dt.truncate``, so quarters start in January/April/July/October.

The two kinds never mix as period and unit: months differ in length, so a span of days has no
exact length in months and a span of months none in days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
    "d": 86_400 * 1_000_000_000,
    "w": 7 * 86_400 * 1_000_000_000,
}
_DAY_NS = _NS["d"]
_TICK_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ns|us|ms|s|m|h|d|w)\s*$")
_CALENDAR = re.compile(r"^\s*(\d+)\s*(mo|q|y)\s*$")
_MONTHS = {"mo": 1, "q": 3, "y": 12}


@dataclass(frozen=True)
class Span:
    """A parsed period or unit: fixed-length (``ns`` set) or calendar (``months`` set)."""

    text: str
    letter: str
    ns: int = 0
    months: int = 0

    @property
    def calendar(self) -> bool:
        return self.months > 0


def parse_span(value: str, name: str) -> Span:
    """``"7d"`` or ``"1q"`` as a :class:`Span`. Raises ValueError naming the parameter."""
    if not isinstance(value, str):
        raise TypeError(
            f"{name}: expected a duration string like '1d', '1w' or '1mo', got {value!r}"
        )
    fixed, calendar = _DURATION.match(value), _CALENDAR.match(value)
    m = fixed or calendar
    if m is None:
        raise ValueError(
            f"{name}: {value!r} is not a duration: expected a fixed length such as '1d', '7d', "
            "'1w' or '12h', or calendar months, quarters or years such as '1mo', '3mo', '1q', '1y'"
        )
    n, letter = int(m.group(1)), m.group(2)
    if n <= 0:
        raise ValueError(f"{name}: {value!r} must be positive")
    if calendar is not None:
        return Span(value, letter, months=n * _MONTHS[letter])
    return Span(value, letter, ns=n * _NS[letter])


def resolve_unit(unit: str | None, period: Span) -> Span:
    """The unit for ``period``: by default one day for fixed periods and the period itself for
    calendar ones. A fixed unit with a calendar period (or vice versa) is refused."""
    if unit is None:
        return period if period.calendar else parse_span("1d", "unit")
    u = parse_span(unit, "unit")
    if period.calendar and not u.calendar:
        raise ValueError(
            f"unit: {unit!r} is a fixed-length duration but period {period.text!r} is a calendar "
            "period; months differ in length (28-31 days), so recency and T are counted in whole "
            "calendar periods and can only be expressed in calendar units ('1mo', '1q', '1y'); "
            "omit unit to measure in periods"
        )
    if u.calendar and not period.calendar:
        raise ValueError(
            f"unit: {unit!r} is a calendar unit but period {period.text!r} is fixed-length; months "
            "differ in length (28-31 days), so a span of days has no exact length in months. Use a "
            "calendar period (e.g. period='1mo') or a fixed unit such as '1d' or '1w'"
        )
    return u


def month_index(s: pl.Series) -> pl.Series:
    """Months since January 1970 (Int32) of each wall-clock timestamp or date: the integer time
    the kernel buckets calendar periods on. Time zones are dropped first (local wall clock)."""
    w = wall_clock(s)
    return ((w.dt.year().cast(pl.Int32) - 1970) * 12 + w.dt.month().cast(pl.Int32) - 1).rename(
        s.name
    )


def tick_ns(dtype: pl.DataType) -> int:
    """Nanoseconds per physical tick of a Date or Datetime column."""
    if dtype == pl.Date:
        return _DAY_NS
    assert isinstance(dtype, pl.Datetime)
    return _TICK_NS[dtype.time_unit or "us"]


def wall_clock(s: pl.Series) -> pl.Series:
    """A Date/Datetime series with time zones replaced by their local wall-clock time."""
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
        return s.dt.replace_time_zone(None)
    return s


def instant_to_wall(value: object, name: str, dtype: pl.DataType) -> pl.Series:
    """A user-given instant (date, datetime or ISO string) as a one-element wall-clock series of
    the time column's (naive) dtype.

    - On a tz-aware column, a naive value is read as wall-clock time in the column's zone and an
      aware value is converted to the column's zone first.
    - On a naive column, an aware value is converted to UTC and its zone dropped.
    """
    if isinstance(value, str):
        try:
            value = (
                date.fromisoformat(value)
                if len(value.strip()) == 10
                else datetime.fromisoformat(value)
            )
        except ValueError:
            raise ValueError(
                f"{name}: {value!r} is not an ISO date or datetime (e.g. '1997-09-30')"
            ) from None
    if not isinstance(value, (date, datetime)):
        raise TypeError(f"{name}: expected a date, datetime or ISO string, got {value!r}")
    s = pl.Series(name, [value])
    col_tz = dtype.time_zone if isinstance(dtype, pl.Datetime) else None
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
        s = s.dt.convert_time_zone(col_tz or "UTC").dt.replace_time_zone(None)
    naive = pl.Datetime(dtype.time_unit) if isinstance(dtype, pl.Datetime) else pl.Date
    return s.cast(naive)
