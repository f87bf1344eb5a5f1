"""Spark local[N] vs local truenorth on one generated log: the overhead of the distributed path,
and the per-partition costs the scale model in docs/guides/spark.md is built from.

Run manually (not part of the test suite; needs truenorth[spark] and Java 17+)::

    PYTHONPATH=python python benches/bench_spark.py --rows 10000000 --cores 2

Both sides read the same Parquet file (``synthetic.bgnbd_log``: Int64 customer ids, Date
times over two years, ~rows/10 customers) and compute the same things: the customer summary,
a BG/NBD and a Gamma-Gamma fit, and P(alive) / expected purchases / CLV per customer; the
Spark side checks its fitted parameters against the local fit (to 1e-8). Spark phases are
forced with the ``noop`` sink (no collect). Shuffle bytes come from Spark's REST API (the UI
runs on a free port for the measurement). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import bgnbd_log
from truenorth import clv


def _clock() -> float:
    return time.perf_counter()


def local_run(path: Path) -> dict:
    out: dict = {}
    t = _clock()
    s = clv.summarize(
        pl.scan_parquet(path), customer="customer_id", time="ts", amount="amount", unit="1w"
    )
    out["summary_s"] = _clock() - t
    t = _clock()
    m = clv.BetaGeo().fit(s)
    g = clv.GammaGamma().fit(s)
    out["fit_s"] = _clock() - t
    t = _clock()
    es = g.expected_spend(s.select("frequency", pl.col("monetary_value").clip(lower_bound=0.0)))
    s.with_columns(
        m.p_alive(s), m.expected_purchases(s, 52), clv.lifetime_value(m, es, s, horizon=12)
    )
    out["score_s"] = _clock() - t
    out["customers"] = s.height
    out["params"] = {"bg_nbd": m.params, "gamma_gamma": g.params}
    out["n_patterns"] = m.n_patterns
    return out


def _shuffle_bytes(ui: str) -> tuple[int, int]:
    """(shuffle write bytes, records) over all stages so far."""
    apps = json.load(urllib.request.urlopen(f"{ui}/api/v1/applications"))
    stages = json.load(urllib.request.urlopen(f"{ui}/api/v1/applications/{apps[0]['id']}/stages"))
    return (
        sum(s.get("shuffleWriteBytes", 0) for s in stages),
        sum(s.get("shuffleWriteRecords", 0) for s in stages),
    )


def spark_run(path: Path, cores: int, partitions: int) -> dict:
    from pyspark.sql import SparkSession

    import truenorth.spark as tns

    out: dict = {}
    t = _clock()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.ui.enabled", "true")
        .config("spark.ui.port", "0")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    ui = spark.sparkContext.uiWebUrl or ""
    out["session_s"] = _clock() - t
    log = spark.read.parquet(str(path))
    t = _clock()
    s = tns.summarize(log, customer="customer_id", time="ts", amount="amount", unit="1w")
    s = s.cache()
    s.write.format("noop").mode("overwrite").save()
    out["summary_s"] = _clock() - t
    shuffle, records = _shuffle_bytes(ui)
    out["shuffle_bytes"], out["shuffle_records"] = shuffle, records
    t = _clock()
    m = tns.fit(s, "bg_nbd")
    g = tns.fit(s, "gamma_gamma")
    out["fit_s"] = _clock() - t
    t = _clock()
    tns.score(s, m, g, horizon=12).write.format("noop").mode("overwrite").save()
    out["score_s"] = _clock() - t
    out["params"] = {"bg_nbd": m.params, "gamma_gamma": g.params}
    out["n_patterns"] = m.n_patterns
    spark.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.parquet"
        bgnbd_log(args.rows).write_parquet(path, row_group_size=1_000_000)
        local = local_run(path)
        dist = spark_run(path, args.cores, args.partitions)
    for kind, ps in local["params"].items():
        for k, v in ps.items():
            assert abs(dist["params"][kind][k] - v) <= 1e-8 * abs(v), (kind, k)
    rows = args.rows
    report = {
        "rows": rows,
        "customers": local["customers"],
        "cores": args.cores,
        "local": {k: v for k, v in local.items() if k != "params"},
        "spark": {k: v for k, v in dist.items() if k != "params"},
        "shuffle_bytes_per_transaction": dist["shuffle_bytes"] / rows,
        "overhead": {p: dist[f"{p}_s"] / local[f"{p}_s"] for p in ("summary", "fit", "score")},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
