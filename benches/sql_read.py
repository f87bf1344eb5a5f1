"""Reading a PostgreSQL table into Polars: ADBC (what truenorth uses) against connectorx.

Starts a throwaway cluster (tests/sql/pgcluster.py), loads ROWS generated rows (5 columns:
text id, text country, float8 amount, date day, int4 quantity), then reads the whole table
REPEAT times with each driver and prints the best time. Usage::

    PYTHONPATH=python:tests/sql python benches/sql_read.py [ROWS] [REPEAT]
"""

from __future__ import annotations

import sys
import time

import polars as pl
from pgcluster import Cluster


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    cluster = Cluster().start()
    try:
        cluster.sql(
            "CREATE TABLE tx AS SELECT 'c' || (i % 50000) AS customer, "
            "(ARRAY['DE','FR','US','GB'])[1 + i % 4] AS country, (i % 997) * 1.25::float8 AS amount, "
            f"DATE '2024-01-01' + (i % 365) AS day, (i % 7)::int4 AS quantity "
            f"FROM generate_series(1, {rows}) AS i"
        )
        from truenorth.io.sql import SqlSource, read_sql

        src = SqlSource(uri=cluster.uri, table="tx")
        results = {}

        def adbc() -> pl.DataFrame:
            return read_sql(src, role="tx")[0].collect()

        def connectorx() -> pl.DataFrame:
            return pl.read_database_uri("SELECT * FROM tx", cluster.uri, engine="connectorx")

        def adbc_one_country() -> pl.DataFrame:
            return read_sql(src, role="tx", conditions=["country = 'DE'"])[0].collect()

        for name, fn in [
            ("adbc (truenorth.io.sql)", adbc),
            ("connectorx (pl.read_database_uri)", connectorx),
            ("adbc, when: country = 'DE' pushed", adbc_one_country),
        ]:
            best = float("inf")
            for _ in range(repeat):
                t = time.perf_counter()
                df = fn()
                best = min(best, time.perf_counter() - t)
            results[name] = (best, df.height)
        for name, (sec, height) in results.items():
            print(f"{name:40s} {sec:7.3f} s  {height:>9,d} rows")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
