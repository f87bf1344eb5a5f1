"""Event-log validation and the ordering rule shared by the journey computations.

Canonical columns of an event log: ``customer`` (or ``session``, per ``by``), ``timestamp``,
``event`` or ``stage`` (the step names), and optional ``touchpoint``, ``channel``,
``satisfaction``.

Ordering (the tie-breaking rule for equal timestamps): events of a customer (or session) are
ordered by timestamp, then by their row order in the input. Row order is the order in which the
dataset lists the events (a stable sort), so two events with the same timestamp keep the order
the log gives them — the order in which the tracker wrote them. The rule is deterministic and
needs no knowledge of the step names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from truenorth.errors import DataError

ROW = "row"  # 1-based data row number in the input: the tie-breaker, and the row of errors
UNIT = "unit"  # the journey unit: the customer or the session id
TS = "ts"
STEP = "step"

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}


def parse_window(text: str) -> timedelta:
    """``"14d"``, ``"2 hours"``, ``"30m"``, ``"1w"``, ``"90s"`` → a timedelta.

    >>> parse_window("14d")
    datetime.timedelta(days=14)
    >>> parse_window("1.5 h")
    datetime.timedelta(seconds=5400)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(
            f"window {text!r} is not a duration; expected a number and a unit such as "
            "'14d', '36h', '30m', '90s' or '2w' (units: s, m, h, d, w)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def _first_bad(frame: pl.DataFrame, mask: pl.Series | pl.Expr, column: str) -> tuple[int, object]:
    hit = frame.filter(mask).head(1)
    return hit[ROW][0], hit[column][0]


def prepare(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    by: str = "customer",
    step_column: str = "auto",
    extra: Sequence[str] = (),
    numbers: Sequence[str] = (),
) -> pl.DataFrame:
    """Validate an event log; return ``unit, ts, step, row`` (+ touchpoint/channel/satisfaction,
    + the ``extra`` columns, e.g. a breakdown property, as strings, + the ``numbers`` columns,
    e.g. a weight, as non-negative Float64).

    ``ts`` is a Datetime (dates become midnight; strings are parsed); ``row`` is the 1-based row
    number of the event in the input. Errors name the column, the row and the value.
    """
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    names = lazy.collect_schema().names()
    if step_column == "auto":
        step_column = "stage" if "stage" in names else "event"
    required = [by, "timestamp", step_column]
    absent = [c for c in required if c not in names]
    if absent:
        raise DataError(
            f"event log lacks column(s) {', '.join(repr(c) for c in absent)}; expected "
            f"{by}, timestamp and {step_column} (found: {', '.join(names)})"
        )
    optional = [c for c in ("touchpoint", "channel", "satisfaction") if c in names]
    missing = [c for c in (*extra, *numbers) if c not in names]
    if missing:
        raise DataError(
            f"event log lacks column(s) {', '.join(repr(c) for c in missing)} named by the "
            f"journey options (found: {', '.join(names)})"
        )
    kept = [c for c in dict.fromkeys(extra) if c not in optional and c not in required]
    kept_numbers = [c for c in dict.fromkeys(numbers) if c not in (*optional, *required, *kept)]
    df = (
        lazy.select(
            pl.col(by).alias(UNIT),
            pl.col("timestamp"),
            pl.col(step_column).alias(STEP),
            *optional,
            *[pl.col(c).cast(pl.String) for c in kept],
            *kept_numbers,
        )
        .with_row_index(ROW, offset=1)
        .collect()
    )
    for col, shown in ((UNIT, by), (STEP, step_column), ("timestamp", "timestamp")):
        if df[col].null_count():
            row, _ = _first_bad(df, df[col].is_null(), col)
            raise DataError(f"column '{shown}', row {row}: missing value; expected a {shown}")
    ts = df["timestamp"]
    if ts.dtype == pl.String:
        parsed = ts.str.strip_chars().str.to_datetime(strict=False, time_unit="us")
        if parsed.null_count():
            row, value = _first_bad(df, parsed.is_null(), "timestamp")
            raise DataError(
                f"column 'timestamp', row {row}: value {value!r} is not a timestamp; expected "
                "a date or date-time such as 2024-03-13 10:21:14 (one format for the column)"
            )
        ts = parsed
    elif ts.dtype == pl.Date:
        ts = ts.cast(pl.Datetime("us"))
    elif not isinstance(ts.dtype, pl.Datetime):
        row, value = _first_bad(df, pl.lit(True), "timestamp")
        raise DataError(
            f"column 'timestamp', row {row}: value {value!r} ({ts.dtype}) is not a timestamp; "
            "expected a date, a date-time or a string such as 2024-03-13 10:21:14"
        )
    out = df.with_columns(ts.alias(TS), pl.col(STEP).cast(pl.String)).drop("timestamp")
    for col in ("touchpoint", "channel"):
        if col in out.columns:
            out = out.with_columns(pl.col(col).cast(pl.String))
    for col in [c for c in ("satisfaction",) if c in out.columns] + kept_numbers:
        out = out.with_columns(
            _number(out, col, "a satisfaction score" if col == "satisfaction" else "a number")
        )
    if kept_numbers:
        negative = pl.any_horizontal(pl.col(c) < 0 for c in kept_numbers)
        bad = out.filter(negative).head(1)
        if bad.height:
            col = next(c for c in kept_numbers if (bad[c] < 0).any())
            raise DataError(
                f"column '{col}', row {bad[ROW][0]}: value {bad[col][0]!r} is negative; "
                "expected a count or value >= 0"
            )
    return out.select(UNIT, TS, STEP, ROW, *optional, *kept, *kept_numbers)


def _number(out: pl.DataFrame, col: str, expected: str) -> pl.Series:
    """Column ``col`` as Float64; strings are parsed; errors name the row and the value."""
    values = out[col]
    if values.dtype == pl.String:
        num = values.str.strip_chars().cast(pl.Float64, strict=False)
        bad = values.is_not_null() & (values.str.strip_chars() != "") & num.is_null()
        if bad.any():
            row, value = _first_bad(out, bad, col)
            raise DataError(
                f"column '{col}', row {row}: value {value!r} is not a number; expected {expected}"
            )
        values = num
    elif not values.dtype.is_numeric() and values.dtype != pl.Null:
        row, value = _first_bad(out, values.is_not_null(), col)
        raise DataError(
            f"column '{col}', row {row}: value {value!r} ({values.dtype}) is not a number; "
            f"expected {expected}"
        )
    values = values.cast(pl.Float64)
    if values.is_nan().any() or values.is_infinite().any():
        row, value = _first_bad(out, values.is_nan() | values.is_infinite(), col)
        raise DataError(
            f"column '{col}', row {row}: value {value!r} is not finite; expected {expected}"
        )
    return values.alias(col)


def after(ts: str, row: str, ref_ts: str, ref_row: str) -> pl.Expr:
    """Event (ts, row) comes after (ref_ts, ref_row) in the ordering rule."""
    return (pl.col(ts) > pl.col(ref_ts)) | (
        (pl.col(ts) == pl.col(ref_ts)) & (pl.col(row) > pl.col(ref_row))
    )
