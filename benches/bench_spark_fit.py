"""The distributed fit (patterns summed over Spark partitions) against the driver fit and a
local fit, on one summary with about ``--customers`` distinct patterns (continuous recency
and T: every customer its own pattern).

Run manually (not part of the test suite; needs truenorth[spark] and Java 17+)::

    PYTHONPATH=python python benches/bench_spark_fit.py --customers 1000000 --cores 2

The driver fit collects the patterns and fits them locally (``max_patterns`` above their
number); the distributed fit is forced with ``max_patterns=1``: each log-likelihood
evaluation is one Spark job. Prints one JSON document: times, Spark jobs (evaluations) and the
largest relative parameter difference to the local fit.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--model", default="bg_nbd")
    args = ap.parse_args()

    from pyspark.sql import SparkSession

    import truenorth.spark as tns
    import truenorth.spark._distributed as dist
    from truenorth import clv

    rng = np.random.default_rng(0)
    t = rng.uniform(10, 104, args.customers)
    s = clv.simulate_bg_nbd(args.customers, r=0.5, alpha=5, a=0.7, b=2.5, T=t, seed=1)
    s = s.select("frequency", "recency", "T")
    cls = clv.models_registry()[args.model]
    t0 = time.perf_counter()
    local = cls(time_unit="week").fit(s)
    out: dict = {"customers": args.customers, "model": args.model, "cores": args.cores}
    out["local_fit_s"] = time.perf_counter() - t0
    out["n_patterns"] = local.n_patterns

    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "3g")
        .config("spark.sql.shuffle.partitions", str(args.partitions))
        .config("spark.sql.adaptive.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    sdf = spark.createDataFrame(s.to_arrow()).repartition(args.partitions).cache()
    sdf.count()
    jobs = [0]
    partial = dist._partial

    def counting(model, thetas):
        jobs[0] += 1
        return partial(model, thetas)

    dist._partial = counting
    for name, limit in (("driver", 10**8), ("distributed", 1)):
        jobs[0] = 0
        t0 = time.perf_counter()
        got = tns.fit(sdf, args.model, time_unit="week", max_patterns=limit)
        out[f"{name}_fit_s"] = time.perf_counter() - t0
        out[f"{name}_jobs"] = jobs[0]
        out[f"{name}_max_rel_diff"] = max(
            abs(got.params[k] / v - 1) for k, v in local.params.items()
        )
    spark.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
