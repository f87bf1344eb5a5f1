"""CLV tiers by quantile share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from ._checks import frame, require_numeric

DEFAULT_TIERS: tuple[tuple[str, float], ...] = (("top", 0.10), ("high", 0.40), ("rest", 0.50))


def clv_tiers(
    customers: object,
    *,
    column: str = "clv",
    tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
) -> pl.DataFrame:
    """Add ``clv_tier``: tiers listed best first with their share of customers (summing to 1).

    A customer's position is ``(r − 1) / n`` with ``r`` its descending rank (minimum rank among
    ties); it belongs to the first tier whose cumulative share exceeds that position. Equal CLVs
    always share a tier (ties at a boundary go to the better tier), independent of row order.
    """
    names = [t[0] for t in tiers]
    shares = [float(t[1]) for t in tiers]
    if not tiers or len(set(names)) != len(names):
        raise ValueError(f"tiers: expected distinct (name, share) pairs, got {tiers!r}")
    if any(not (s > 0) for s in shares) or abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"tiers: shares must be positive and sum to 1, got {shares}")
    df = frame(customers)
    if df.height == 0:
        raise ValueError("the customer table is empty: nothing to tier")
    clv = require_numeric(df, column, "CLV")
    n = df.height
    pos = (clv.rank(method="min", descending=True).cast(pl.Float64) - 1) / n
    cum = 0.0
    expr: Any = None  # polars' When/Then chain (typed classes differ per link)
    for name, share in zip(names, shares, strict=True):
        cum += share
        cond = pl.lit(pos) < (cum if name != names[-1] else float("inf"))
        expr = (
            pl.when(cond).then(pl.lit(name)) if expr is None else expr.when(cond).then(pl.lit(name))
        )
    assert expr is not None
    return df.with_columns(expr.otherwise(pl.lit(names[-1])).cast(pl.Enum(names)).alias("clv_tier"))
