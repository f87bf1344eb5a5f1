"""RFM scoring and named segments.

Scores are quantile bins 1..``bins`` of each measure (see :func:`quantile_scores` for the tie
rule). Higher is better on all three:

- **Recency**: in a BTYD summary ``recency`` is the span first → last purchase, so "how recently
  did they buy" is the *time since the last purchase*, ``T − recency``. By default ``rfm`` uses
  that gap (``age="T"``); the smallest gap scores highest. With ``age=None`` the ``recency``
  column is taken to already be the time since the last purchase (classic RFM tables).
- **Frequency** and **monetary value**: larger scores higher.

Segments (``SEGMENT_GRID``) follow the widely used R×F grid of RFM practice (Putler's/Kaggle's
"RFM segmentation" map): champions, loyal, potential_loyalist, new, promising, need_attention,
about_to_sleep, at_risk, cannot_lose, hibernating, and lost — the grid's bottom-left
"hibernating" cell is split into lost (R = 1) and hibernating (R = 2). The grid is defined on the
5-point scale; with another ``bins`` each score is rescaled as ``ceil(5·s / bins)`` first.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ._checks import frame, quantile_scores, require_numeric

# (R scores, F scores) -> segment, on the 5-point scale. Every one of the 25 cells is covered.
SEGMENT_GRID: tuple[tuple[frozenset[int], frozenset[int], str], ...] = (
    (frozenset({5}), frozenset({4, 5}), "champions"),
    (frozenset({3, 4}), frozenset({4, 5}), "loyal"),
    (frozenset({4, 5}), frozenset({2, 3}), "potential_loyalist"),
    (frozenset({5}), frozenset({1}), "new"),
    (frozenset({4}), frozenset({1}), "promising"),
    (frozenset({3}), frozenset({3}), "need_attention"),
    (frozenset({3}), frozenset({1, 2}), "about_to_sleep"),
    (frozenset({1, 2}), frozenset({3, 4}), "at_risk"),
    (frozenset({1, 2}), frozenset({5}), "cannot_lose"),
    (frozenset({2}), frozenset({1, 2}), "hibernating"),
    (frozenset({1}), frozenset({1, 2}), "lost"),
)


def _segment_expr(r: pl.Expr, f: pl.Expr) -> pl.Expr:
    expr: Any = None  # polars' When/Then chain (typed classes differ per link)
    for rs, fs, name in SEGMENT_GRID:
        cond = r.is_in(sorted(rs)) & f.is_in(sorted(fs))
        expr = (
            pl.when(cond).then(pl.lit(name)) if expr is None else expr.when(cond).then(pl.lit(name))
        )
    assert expr is not None
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def rfm(
    customers: object,
    *,
    bins: int = 5,
    recency: str = "recency",
    frequency: str = "frequency",
    monetary: str = "monetary_value",
    age: str | None = "T",
) -> pl.DataFrame:
    """Add ``r_score``, ``f_score``, ``m_score`` (Int8, 1..bins), ``rfm_score`` (e.g. ``"545"``)
    and ``segment`` to a customer table.

    Args:
        customers: a customer table (e.g. the output of ``truenorth.clv.summarize``).
        bins: number of quantile bins per measure (2..9, so ``rfm_score`` stays one digit each).
        recency: the recency column.
        frequency: the frequency column.
        monetary: the monetary-value column.
        age: the customer-age column (``T``); recency scores use ``age − recency``, the time since
            the last purchase. ``None``: ``recency`` already is the time since the last purchase.
    """
    if not isinstance(bins, int) or not 2 <= bins <= 9:
        raise ValueError(f"bins must be an integer from 2 to 9, got {bins!r}")
    df = frame(customers)
    if df.height == 0:
        raise ValueError("the customer table is empty: nothing to score")
    rec = require_numeric(df, recency, "recency")
    if age is not None:
        since_last = require_numeric(df, age, "customer age") - rec
    else:
        since_last = rec
    freq = require_numeric(df, frequency, "frequency")
    mon = require_numeric(df, monetary, "monetary value")
    r = quantile_scores(-since_last, bins)
    f = quantile_scores(freq, bins)
    m = quantile_scores(mon, bins)
    out = df.with_columns(r.alias("r_score"), f.alias("f_score"), m.alias("m_score"))
    five = (lambda c: (pl.col(c).cast(pl.Int32) * 5 + bins - 1) // bins) if bins != 5 else pl.col
    return out.with_columns(
        pl.concat_str(
            pl.col("r_score").cast(pl.String),
            pl.col("f_score").cast(pl.String),
            pl.col("m_score").cast(pl.String),
        ).alias("rfm_score"),
        _segment_expr(five("r_score"), five("f_score")).alias("segment"),
    )
