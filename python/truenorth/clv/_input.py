"""Validation of summary frames before they cross into Rust.

Every check names the column, the first offending row and what was expected, so a bad input
never reaches a kernel (where it would at best produce NaN). Rows are numbered from 1 in
messages, as everywhere in truenorth ("row 1" is the first data row).
"""

from __future__ import annotations

from typing import Any

import polars as pl


class ModelInputError(ValueError):
    """A summary frame or argument that a model cannot use."""


def as_frame(data: Any) -> pl.DataFrame:
    """Polars DataFrame from a DataFrame, LazyFrame, pandas frame or Arrow-stream object."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    try:
        if hasattr(data, "__arrow_c_stream__") or type(data).__module__.startswith("pandas"):
            return pl.DataFrame(data)
    except Exception as exc:  # pragma: no cover - depends on the producer
        raise ModelInputError(f"could not read the summary as a frame: {exc}") from exc
    raise ModelInputError(
        f"expected a Polars DataFrame/LazyFrame or an Arrow-compatible frame, got {type(data).__name__}"
    )


def _first_row(mask: pl.Series) -> tuple[int, str]:
    """(0-based index of the first True, its label for messages: 1-based "row N")."""
    i = int(mask.arg_true()[0])
    return i, f"row {i + 1}"


def numeric_column(df: pl.DataFrame, name: str, *, what: str = "summary") -> pl.Series:
    """The column as Float64, checked: present, numeric, no nulls, finite, non-negative."""
    if name not in df.columns:
        raise ModelInputError(
            f"{what}: column '{name}' is missing (columns present: {', '.join(df.columns) or 'none'})"
        )
    s = df.get_column(name)
    if not s.dtype.is_numeric():
        raise ModelInputError(f"{what}: column '{name}' must be numeric, got {s.dtype}")
    if s.null_count():
        raise ModelInputError(
            f"{what}: column '{name}', {_first_row(s.is_null())[1]}: null value (nulls are not allowed)"
        )
    s = s.cast(pl.Float64)
    bad = ~s.is_finite()
    if bad.any():
        i, row = _first_row(bad)
        raise ModelInputError(
            f"{what}: column '{name}', {row}: expected a finite number, got {s[i]}"
        )
    neg = s < 0
    if neg.any():
        i, row = _first_row(neg)
        raise ModelInputError(
            f"{what}: column '{name}', {row}: expected a non-negative value, got {s[i]}"
        )
    return s


def whole_numbers(s: pl.Series, *, what: str = "summary") -> None:
    frac = s != s.floor()
    if frac.any():
        i, row = _first_row(frac)
        raise ModelInputError(
            f"{what}: column '{s.name}', {row}: expected a whole number of repeat purchases, got {s[i]}"
        )


def rfm_columns(data: Any, *, discrete: bool = False) -> tuple[pl.Series, pl.Series, pl.Series]:
    """frequency, recency, T as checked Float64 Series (any frame with those columns)."""
    df = as_frame(data)
    if df.height == 0:
        raise ModelInputError("summary is empty (no customers)")
    x = numeric_column(df, "frequency")
    tx = numeric_column(df, "recency")
    t = numeric_column(df, "T")
    whole_numbers(x)
    over = tx > t
    if over.any():
        i, row = _first_row(over)
        raise ModelInputError(
            f"summary: column 'recency', {row}: recency {tx[i]} is greater than T {t[i]} "
            "(recency must be <= T)"
        )
    impossible = (x > 0) & (tx == 0)
    if impossible.any():
        i, row = _first_row(impossible)
        raise ModelInputError(
            f"summary: column 'recency', {row}: frequency {x[i]:g} > 0 but recency 0 "
            "(a repeat purchase happens after the first one, so recency must be > 0)"
        )
    impossible = (x == 0) & (tx > 0)
    if impossible.any():
        i, row = _first_row(impossible)
        raise ModelInputError(
            f"summary: column 'recency', {row}: frequency 0 but recency {tx[i]} "
            "(without repeat purchases recency must be 0)"
        )
    if discrete:
        for s in (tx, t):
            whole_numbers(s)
        over = x > tx
        if over.any():
            i, row = _first_row(over)
            raise ModelInputError(
                f"summary: column 'frequency', {row}: frequency {x[i]:g} exceeds recency "
                f"{tx[i]:g} (at most one transaction per opportunity)"
            )
    else:
        zero_t = t == 0
        if zero_t.any():
            i, row = _first_row(zero_t)
            raise ModelInputError(
                f"summary: column 'T', {row}: T is 0 (customers must be observed for a positive time)"
            )
    return x, tx, t


def weights_column(df_or_data: Any, weights: Any, n: int) -> pl.Series | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        df = as_frame(df_or_data)
        w = numeric_column(df, weights, what="weights")
    else:
        w = pl.Series("weights", weights) if not isinstance(weights, pl.Series) else weights
        w = numeric_column(w.to_frame(), w.name, what="weights")
    if w.len() != n:
        raise ModelInputError(f"weights: expected {n} values (one per row), got {w.len()}")
    if w.sum() <= 0:
        raise ModelInputError("weights: all weights are zero")
    return w.rename("weights")


# Calendar units (a summary with period="1mo" counts recency and T in whole months) get the
# mean Gregorian length: a model's horizon in months then converts to exactly that many units.
_UNIT_DAYS = {"h": 1 / 24, "d": 1.0, "w": 7.0, "mo": 365.25 / 12, "q": 365.25 / 4, "y": 365.25}
_UNIT_ALIASES = {
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
    "month": "mo",
    "months": "mo",
    "quarter": "q",
    "quarters": "q",
    "year": "y",
    "years": "y",
}


def time_unit_days(unit: str) -> float:
    """Length in days of a time unit written as Polars durations are ("1d", "7d", "1w", "12h").

    Calendar units (``"1mo"``, ``"1q"``, ``"1y"``: the units of a summary made with calendar
    periods, which counts whole months) count as their mean Gregorian length (365.25/12 days a
    month), so a horizon in months converts to exactly that many monthly units.

    >>> time_unit_days("1w"), time_unit_days("12h"), time_unit_days("1mo") * 12
    (7.0, 0.5, 365.25)
    """
    if not isinstance(unit, str):
        raise ModelInputError(f"time_unit must be a string like '1d' or '1w', got {unit!r}")
    u = unit.strip().lower()
    u = _UNIT_ALIASES.get(u, u)
    num = ""
    while u and (u[0].isdigit() or u[0] == "."):
        num, u = num + u[0], u[1:]
    u = _UNIT_ALIASES.get(u.strip(), u.strip())
    if u not in _UNIT_DAYS:
        raise ModelInputError(
            f"time_unit {unit!r} is not understood: use a number and one of h, d, w, mo, q, y "
            "(e.g. '1d', '1w', '1mo')"
        )
    try:
        k = float(num) if num else 1.0
    except ValueError:
        raise ModelInputError(f"time_unit {unit!r}: bad number {num!r}") from None
    if not k > 0:
        raise ModelInputError(f"time_unit {unit!r} must be positive")
    return k * _UNIT_DAYS[u]
