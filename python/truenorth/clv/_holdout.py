"""Each model's holdout expectation E[X(T, T + t*) | x, t_x, T] for every customer of a
summary, computed once per distinct (x, t_x, T) when every customer has the same holdout
length t* (a backtest's holdout): the diagnostics' conditional-expectation and ranking tables
then read the same predictions, and rank the distinct histories instead of the customers.

Why: on a million day-grained customers (~300k distinct histories) each model's native call
deduplicated the million rows again, and each ranking grouped the million predictions by
value; one deduplication serves every model and every table. The values are those of
``expected_purchases(summary, horizon_column)``: the same native pass over the same distinct
rows (it deduplicates them itself, in the same sorted order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .. import _core
from ._input import numeric_column
from ._purchase import _PurchaseModel


@dataclass(frozen=True)
class Holdout:
    """``predicted``: per customer, by model. With one horizon for every customer also
    ``pattern`` (each customer's index into the distinct histories), ``by_pattern`` (each
    model's prediction per distinct history) and ``customers`` (customers per history)."""

    predicted: dict[str, pl.Series]
    pattern: pl.Series | None = None
    by_pattern: dict[str, pl.Series] | None = None
    customers: pl.Series | None = None

    def actual_by_pattern(self, actual: pl.Series) -> pl.Series | None:
        """Sum of ``actual`` over each distinct history's customers (None without patterns)."""
        if self.pattern is None or self.customers is None:
            return None
        sums = np.bincount(
            self.pattern.to_numpy(), weights=actual.to_numpy(), minlength=self.customers.len()
        )
        return pl.Series("a", sums, dtype=pl.Float64)


def holdout_predictions(
    named: dict[str, _PurchaseModel],
    df: pl.DataFrame,
    x: pl.Series,
    tx: pl.Series,
    t: pl.Series,
    horizon: str | float,
) -> Holdout:
    """Each model's ``expected_purchases(df, horizon)`` per customer (x, tx, t: the checked
    frequency, recency and T of ``df``)."""
    if isinstance(horizon, str):
        h = numeric_column(df, horizon)
        one = h.len() > 0 and h.min() == h.max()
    else:
        one = False
    if not one or any(m.capabilities.discrete for m in named.values()):
        return Holdout({name: m.expected_purchases(df, horizon) for name, m in named.items()})
    ux, utx, ut, idx = (pl.Series(c) for c in _core.row_patterns(x, tx, t))
    pattern = idx.cast(pl.UInt32)
    patterns = pl.DataFrame(
        {"frequency": ux, "recency": utx, "T": ut, "h": pl.repeat(h[0], ux.len(), eager=True)}
    )
    by_pattern = {}
    for name, m in named.items():
        e = m.expected_purchases(patterns, "h")
        assert isinstance(e, pl.Series)
        by_pattern[name] = e
    counts = np.bincount(pattern.to_numpy(), minlength=ux.len())
    return Holdout(
        predicted={name: e.gather(pattern) for name, e in by_pattern.items()},
        pattern=pattern,
        by_pattern=by_pattern,
        customers=pl.Series("n", counts, dtype=pl.Int64),
    )
