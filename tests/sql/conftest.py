"""A real PostgreSQL server for the SQL tests: one throwaway cluster per session (see
pgcluster.py), loaded with generated data that the tests also write to Parquet, DuckDB and
SQLite files, so every pack can be run on the same rows from each place."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pgcluster import Cluster
from sqldata import Sources, generated


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
