"""A real PostgreSQL server for the SQL tests: one throwaway cluster per session (see
pgcluster.py), loaded with generated data that the tests also write to Parquet, DuckDB and
SQLite files, so every pack can be run on the same rows from each place."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
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


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    frame = generated()
    folder = tmp_path_factory.mktemp("sql-data")
    parquet = folder / "tx.parquet"
    frame.write_parquet(parquet)
    duck = folder / "shop.duckdb"
    import duckdb

    con = duckdb.connect(str(duck))
    con.register("frame", frame)
    con.execute("CREATE TABLE tx AS SELECT * FROM frame")
    con.close()
    lite = folder / "shop.db"
    with sqlite3.connect(lite) as db:
        db.execute(
            "CREATE TABLE tx (tx_id INTEGER, cust_id TEXT, country TEXT, amount REAL, "
            "qty INTEGER, day TEXT, refunded INTEGER)"
        )
        db.executemany(
            "INSERT INTO tx VALUES (?, ?, ?, ?, ?, ?, ?)",
            frame.with_columns(pl.col("day").cast(pl.String)).rows(),
        )
    cluster = Cluster()
    try:
        cluster.start()
        cluster.load("tx", frame)
        yield Sources(cluster, frame, parquet, duck, lite)
    finally:
        cluster.stop()
