"""Generated transactions for the SQL tests, and where the session keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pgcluster import Cluster

ROWS = 20_000


def generated(rows: int = ROWS, seed: int = 7) -> pl.DataFrame:
    """Transactions: 5 countries, amounts with a long tail, some nulls, one quoted name."""
    import numpy as np

    rng = np.random.default_rng(seed)
    countries = np.array(["DE", "FR", "US", "GB", "O'Land"])
    amount = np.round(rng.lognormal(3.5, 1.0, rows), 2)
    amount[rng.random(rows) < 0.01] = np.nan  # missing amounts -> NULL
    return pl.DataFrame(
        {
            "tx_id": np.arange(1, rows + 1, dtype=np.int64),
            "cust_id": [f"c{i:05d}" for i in rng.integers(0, 3000, rows)],
            "country": countries[rng.integers(0, len(countries), rows)],
            "amount": amount,
            "qty": rng.integers(1, 8, rows).astype(np.int32),  # 1-7: a CES scale too
            "day": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 12, 31), eager=True).sample(
                rows, with_replacement=True, seed=seed
            ),
            "refunded": rng.random(rows) < 0.05,
        }
    ).with_columns(pl.col("amount").fill_nan(None))


@dataclass
class Sources:
    pg: Cluster
    frame: pl.DataFrame
    parquet: Path
    duckdb: Path
    sqlite: Path
