from __future__ import annotations

import polars as pl


def require_numeric(df: pl.DataFrame, column: str, role: str) -> pl.Series:
    """The column as Float64, rejecting missing columns, non-numeric dtypes, nulls and NaN/inf."""
    if column not in df.columns:
        raise ValueError(
            f"column '{column}' ({role}) not found; the table has columns {df.columns}"
        )
    s = df.get_column(column)
    if not s.dtype.is_numeric():
        raise ValueError(f"column '{column}' ({role}): expected numbers, got {s.dtype}")
    s = s.cast(pl.Float64)
    if s.null_count():
        raise ValueError(
            f"column '{column}' ({role}): null at row {first_row(s.is_null())}; "
            "scores need a value for every customer"
        )
    bad = ~s.is_finite()
    if bad.any():
        row = first_row(bad)
        raise ValueError(f"column '{column}' ({role}): non-finite value {s[row - 1]} at row {row}")
    return s


def first_row(mask: pl.Series) -> int:
    """1-based number of the first True row: messages count data rows from 1, as everywhere in
    truenorth."""
    first = mask.arg_max()
    if first is None:  # an empty mask: callers only ask when some row is flagged
        raise ValueError("first_row of an empty mask")
    return first + 1


def frame(customers: object) -> pl.DataFrame:
    if isinstance(customers, pl.LazyFrame):
        return customers.collect()
    if isinstance(customers, pl.DataFrame):
        return customers
    if hasattr(customers, "__arrow_c_stream__"):
        return pl.DataFrame(customers)
    raise TypeError(
        "customers: expected a Polars DataFrame/LazyFrame or an Arrow table, "
        f"got {type(customers).__name__}"
    )


def quantile_scores(values: pl.Series, bins: int) -> pl.Series:
    """Scores 1..bins by rank: ``1 + floor(bins * (r - 1) / n)`` with ``r`` the *minimum* rank
    among ties. Equal values always share a score and scores depend only on the values, never on
    row order (unlike ``qcut`` on ranks "first"); a tie block straddling a bin edge goes to the
    lower bin, so the top bins may hold fewer customers when values repeat a lot."""
    n = values.len()
    r = values.rank(method="min").cast(pl.Int64)
    return (1 + (bins * (r - 1)) // n).cast(pl.Int8)
