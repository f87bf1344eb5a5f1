"""Time handling shared by the summary kernel and its pure-Polars reference.

Periods and units are fixed-length Polars-style durations: ``"<n><unit>"`` with unit one of
``ns, us, ms, s, m, h, d, w``. Periods are aligned to the Unix epoch, except weeks, which start
on Monday (as pandas' ``W`` periods used by lifetimes, and Polars' ``dt.truncate("1w")``; for
``"Nw"`` counted from Monday 1970-01-05, as Polars).
Calendar durations (``mo``, ``q``, ``y``) have no fixed length and are rejected.
"""

from __future__ import annotations

import re
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


def parse_duration(value: str, name: str) -> tuple[int, str]:
    """``"7d"`` -> (nanoseconds, unit letter). Raises ValueError naming the parameter."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a duration string like '1d' or '1w', got {value!r}")
    m = _DURATION.match(value)
    if m is None:
        hint = ""
        if re.match(r"^\s*\d+\s*(mo|q|y)\s*$", value):
            hint = (
                " (calendar months, quarters and years have no fixed length and are not supported)"
            )
        raise ValueError(
            f"{name}: {value!r} is not a fixed-length duration such as '1d', '7d', '1w' or '12h'{hint}"
        )
    n = int(m.group(1))
    if n <= 0:
        raise ValueError(f"{name}: {value!r} must be positive")
    return n * _NS[m.group(2)], m.group(2)


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
