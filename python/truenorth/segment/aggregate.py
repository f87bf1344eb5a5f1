"""Per-segment aggregates, computed by the Rust core in one pass over the customer table."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from .. import _core
from ._checks import first_row, frame

_INT = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def aggregate(
    customers: object,
    *,
    by: str = "segment",
    revenue: str | None = "revenue",
    clv: str | None = "clv",
    p_alive: str | None = "p_alive",
    frequency: str | None = "frequency",
) -> pl.DataFrame:
    """One row per segment, sorted by segment.

    Columns: the ``by`` column, ``customers``, ``customer_share``; then, for the measures present
    in the table: ``revenue`` (total), ``clv_total``, ``clv_mean``, ``clv_share`` (of all
    customers' CLV), ``p_alive_mean``, ``frequency_mean``. A measure whose column is absent (or
    passed as ``None``) is skipped, so a plain RFM table aggregates without CLV columns.

    Nulls in a measure are skipped (totals and means over the customers that have a value, as
    Polars' ``sum``/``mean``); a measure that is null for a whole segment has mean null. NaN/inf
    values and nulls in ``by`` are errors naming the column and row.
    """
    df = frame(customers)
    if by not in df.columns:
        raise ValueError(f"column '{by}' (segment) not found; the table has columns {df.columns}")
    if df.height == 0:
        raise ValueError("the customer table is empty: nothing to aggregate")
    key_raw = df.get_column(by)
    if key_raw.null_count():
        raise ValueError(f"column '{by}': null segment at row {first_row(key_raw.is_null())}")
    resort = False
    if key_raw.dtype in _INT:
        keys = key_raw.cast(pl.Int64)
    elif key_raw.dtype == pl.String:
        keys = key_raw
    elif isinstance(key_raw.dtype, (pl.Categorical, pl.Enum)):
        keys, resort = key_raw.to_physical().cast(pl.Int64), True
    elif key_raw.dtype == pl.Boolean:
        keys = key_raw.cast(pl.Int64)
    else:
        raise ValueError(
            f"column '{by}': segments must be strings, categoricals or integers, got {key_raw.dtype}"
        )
    measures = {
        role: col
        for role, col in (
            ("revenue", revenue),
            ("clv", clv),
            ("p_alive", p_alive),
            ("frequency", frequency),
        )
        if col is not None and col in df.columns
    }
    values = []
    for role, col in measures.items():
        s = df.get_column(col)
        if not s.dtype.is_numeric():
            raise ValueError(f"column '{col}' ({role}): expected numbers, got {s.dtype}")
        values.append(s.cast(pl.Float64).rechunk())
    raw = pl.DataFrame(
        _core.group_sums(keys.rechunk(), values, by_name=by, value_names=list(measures.values()))
    )
    n = df.height
    cols: list[pl.Expr | pl.Series] = [
        key_raw.gather(raw["first_row"]).alias(by),
        pl.col("count").alias("customers"),
        (pl.col("count") / n).alias("customer_share"),
    ]

    cols += measure_columns(
        list(measures),
        sums=[f"sum_{i}" for i in range(len(measures))],
        valids=[f"valid_{i}" for i in range(len(measures))],
    )
    out = raw.select(cols)
    if resort:
        out = out.sort(by, maintain_order=True)
    return out


def measure_columns(
    roles: Sequence[str], *, sums: Sequence[str], valids: Sequence[str]
) -> list[pl.Expr]:
    """The per-segment columns of each measure role, from a frame with its per-group sum
    (column ``sums[i]``) and count of non-null values (``valids[i]``): ``revenue`` (the total),
    ``clv_total``/``clv_mean``/``clv_share``, and ``<role>_mean`` for the others. The layout
    of the segment aggregates, shared by the local kernel and the Spark path. A group with no
    values has a total of 0 and a null mean."""
    cols: list[pl.Expr] = []
    for role, sum_col, valid_col in zip(roles, sums, valids, strict=True):
        total = pl.col(sum_col).fill_null(0.0)
        mean = pl.when(pl.col(valid_col) > 0).then(pl.col(sum_col) / pl.col(valid_col))
        if role == "revenue":
            cols.append(total.alias("revenue"))
        elif role == "clv":
            cols += [
                total.alias("clv_total"),
                mean.alias("clv_mean"),
                (total / total.sum()).alias("clv_share"),
            ]
        else:
            cols.append(mean.alias(f"{role}_mean"))
    return cols
