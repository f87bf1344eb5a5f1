"""Strong peers for the customer summary: hand-tuned pure Polars and DuckDB SQL.

Both compute what ``truenorth.clv.summarize(log, customer=..., time=..., amount=...)`` returns
with its defaults (day periods, recency and ``T`` in days, observation end = the latest
purchase, no calibration split) for a log whose ``time`` column is a ``Date`` — the only
shape ``bench_summary.py`` feeds them; they are not general replacements:

- ``frequency``: distinct purchase days after the first; ``recency``: days from the first to
  the last purchase day; ``T``: days from the first purchase day to the latest purchase day of
  the whole log; ``monetary_value``: mean of the day totals after the first day (0 without
  repeat days), computed as ``(revenue - first-day total) / frequency`` (equal up to rounding);
  ``n_transactions``, ``revenue``, ``first_purchase``, ``last_purchase``; sorted by customer.

Several formulations were timed (see ``VARIANTS``); ``bench_summary.py`` benchmarks all of
them side by side; the headline ratio is against the fastest per case. For integer ids the
packed variants put (customer, day) into one Int64 group key, which Polars hashes faster than
a two-column key: exact here because ids are non-negative and below 2**47 and the log spans
fewer than 2**16 days (checked, else they raise). String ids have no such trick in Polars 2
(Categorical physical codes are no longer exposed), so they use the general formulations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

C, TS, AMT = "customer_id", "ts", "amount"
SHIFT = 65536  # days in the packed key's low bits
OUT = [
    C,
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "n_transactions",
    "revenue",
    "first_purchase",
    "last_purchase",
]


def _finish(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Per-customer aggregates (``first_purchase``/``last_purchase`` as Date, ``__f`` the
    first-day total) to the summary's columns, sorted by customer."""
    return (
        lf.with_columns(
            recency=(pl.col("last_purchase") - pl.col("first_purchase"))
            .dt.total_days()
            .cast(pl.Float64),
            T=(pl.col("last_purchase").max() - pl.col("first_purchase"))
            .dt.total_days()
            .cast(pl.Float64),
            monetary_value=pl.when(pl.col("frequency") > 0)
            .then((pl.col("revenue") - pl.col("__f")) / pl.col("frequency"))
            .otherwise(0.0),
        )
        .select(OUT)
        .sort(C)
    )


def two_level(df: pl.DataFrame, engine: str = "auto") -> pl.DataFrame:
    """Group by (customer, day), then by customer: the textbook formulation."""
    per = df.lazy().group_by(C, TS).agg(__tot=pl.col(AMT).sum(), __n=pl.len())
    s = per.group_by(C).agg(
        frequency=(pl.len() - 1).cast(pl.Int64),
        first_purchase=pl.col(TS).min(),
        last_purchase=pl.col(TS).max(),
        n_transactions=pl.col("__n").sum().cast(pl.Int64),
        revenue=pl.col("__tot").sum(),
        __f=pl.col("__tot").sort_by(TS).first(),
    )
    return _finish(s).collect(engine=engine)


def one_level(df: pl.DataFrame, engine: str = "auto") -> pl.DataFrame:
    """One group-by per customer, distinct days by ``n_unique``."""
    s = (
        df.lazy()
        .group_by(C)
        .agg(
            frequency=(pl.col(TS).n_unique() - 1).cast(pl.Int64),
            first_purchase=pl.col(TS).min(),
            last_purchase=pl.col(TS).max(),
            n_transactions=pl.len().cast(pl.Int64),
            revenue=pl.col(AMT).sum(),
            __f=pl.col(AMT).filter(pl.col(TS) == pl.col(TS).min()).sum(),
        )
    )
    return _finish(s).collect(engine=engine)


def _packed(lf: pl.LazyFrame, key: pl.Expr, lo: int) -> pl.LazyFrame:
    day = pl.col(TS).to_physical().cast(pl.Int64) - lo
    per = lf.group_by(__k=key * SHIFT + day).agg(__tot=pl.col(AMT).sum(), __n=pl.len())
    s = per.group_by(__id=pl.col("__k") // SHIFT).agg(
        frequency=(pl.len() - 1).cast(pl.Int64),
        __d0=(pl.col("__k") % SHIFT).min(),
        __d1=(pl.col("__k") % SHIFT).max(),
        n_transactions=pl.col("__n").sum().cast(pl.Int64),
        revenue=pl.col("__tot").sum(),
        __f=pl.col("__tot").sort_by("__k").first(),
    )
    return s.with_columns(
        first_purchase=(pl.col("__d0") + lo).cast(pl.Int32).cast(pl.Date),
        last_purchase=(pl.col("__d1") + lo).cast(pl.Int32).cast(pl.Date),
    )


def _day_range(df: pl.DataFrame) -> int:
    lo, hi = df.select(lo=pl.col(TS).min().to_physical(), hi=pl.col(TS).max().to_physical()).row(0)
    if hi - lo >= SHIFT:
        raise ValueError("packed key: the log spans 2**16 days or more")
    return lo


def packed_int(df: pl.DataFrame, engine: str = "auto") -> pl.DataFrame:
    """Integer ids: (customer, day) packed into one Int64 key."""
    lo = _day_range(df)
    ids = df.select(lo=pl.col(C).min(), hi=pl.col(C).max()).row(0)
    if ids[0] < 0 or ids[1] >= 2**47:
        raise ValueError("packed key: ids must lie in [0, 2**47)")
    s = _packed(df.lazy(), pl.col(C), lo).rename({"__id": C})
    return _finish(s).collect(engine=engine)


def sorted_scan(df: pl.DataFrame, engine: str = "auto") -> pl.DataFrame:
    """Input already sorted by (customer, time): day changes and each customer's first day
    come from comparisons with the previous row (no hashing of days); the group-by then runs
    on a sorted key. Raises on unsorted input."""
    if not df.get_column(C).flags["SORTED_ASC"]:
        raise ValueError("sorted_scan needs a frame sorted by customer (then time)")
    new_cust = pl.col(C) != pl.col(C).shift()
    first_day = pl.when(new_cust.fill_null(True)).then(pl.col(TS)).forward_fill()
    s = (
        df.lazy()
        .with_columns(
            __new=(new_cust | (pl.col(TS) != pl.col(TS).shift())).fill_null(True),
            __fa=pl.when(pl.col(TS) == first_day).then(pl.col(AMT)).otherwise(0.0),
        )
        .group_by(C)
        .agg(
            frequency=(pl.col("__new").sum() - 1).cast(pl.Int64),
            first_purchase=pl.col(TS).first(),
            last_purchase=pl.col(TS).last(),
            n_transactions=pl.len().cast(pl.Int64),
            revenue=pl.col(AMT).sum(),
            __f=pl.col("__fa").sum(),
        )
    )
    return _finish(s).collect(engine=engine)


VARIANTS: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "two_level": two_level,
    "two_level_streaming": lambda df: two_level(df, "streaming"),
    "two_level_eager": lambda df: two_level(df, "in-memory"),
    "one_level": one_level,
    "one_level_streaming": lambda df: one_level(df, "streaming"),
    "packed_int": packed_int,
    "packed_int_streaming": lambda df: packed_int(df, "streaming"),
    "sorted_scan": sorted_scan,
    "sorted_scan_streaming": lambda df: sorted_scan(df, "streaming"),
}

# DuckDB: per-day totals, then per customer; the first day's total by arg_min over the days
# (one row per day there). The overall latest day comes from a scalar subquery over the
# per-customer table (faster than a window over it in these runs).
SQL = """
WITH per AS (
  SELECT customer_id, ts, sum(amount) AS tot, count(*) AS n FROM df GROUP BY customer_id, ts
), s AS (
  SELECT customer_id, count(*) - 1 AS frequency, min(ts) AS first_purchase,
         max(ts) AS last_purchase, sum(n) AS n_transactions, sum(tot) AS revenue,
         arg_min(tot, ts) AS f
  FROM per GROUP BY customer_id
)
SELECT customer_id, frequency,
       CAST(last_purchase - first_purchase AS DOUBLE) AS recency,
       CAST((SELECT max(last_purchase) FROM s) - first_purchase AS DOUBLE) AS "T",
       CASE WHEN frequency > 0 THEN (revenue - f) / frequency ELSE 0.0 END AS monetary_value,
       CAST(n_transactions AS BIGINT) AS n_transactions, revenue, first_purchase, last_purchase
FROM s ORDER BY customer_id
"""


def duckdb_summary(df: pl.DataFrame, con: Any = None) -> pl.DataFrame:
    """The summary in DuckDB SQL over the Polars frame (registered as a view; a replacement
    scan of a local variable timed the same or slower), back as Polars. ``con``: a ``duckdb``
    connection (default: a new one)."""
    if con is None:
        import duckdb  # the test extra has it; the legacy peer environment does not

        con = duckdb.connect()
    con.register("df", df)
    try:
        return con.sql(SQL).pl()
    finally:
        con.unregister("df")


def supported(name: str, df: pl.DataFrame) -> bool:
    """Whether variant ``name`` applies to ``df`` (packed: integer ids; scan: sorted input)."""
    if name.startswith("packed_int"):
        return df.schema[C].is_integer()
    if name.startswith("sorted_scan"):
        return bool(df.get_column(C).flags["SORTED_ASC"])
    return True
