"""Side by side in one Spark session: the driver fit, the distributed fit as it was before
packing (rows converted to Arrow in every job; ``old_dist.py``, the module of commit e865d65,
put on ``sys.path`` by the caller) and the packed distributed fit.

Run manually (needs truenorth[spark] and Java 17+)::

    git show e865d65:python/truenorth/spark/_distributed.py \
      | sed 's/from ._arrow/from truenorth.spark._arrow/' > /tmp/old_dist.py
    PYTHONPATH=python:/tmp python benches/ab_spark_fit.py 300000 2   # patterns, rounds
"""

import json
import sys
import time

import numpy as np
import old_dist as old
from pyspark.sql import SparkSession

import truenorth.spark as tns
import truenorth.spark._distributed as new
from truenorth import clv


def main() -> None:
    n = int(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = np.random.default_rng(0)
    t = rng.uniform(10, 104, n)
    s = clv.simulate_bg_nbd(n, r=0.5, alpha=5, a=0.7, b=2.5, T=t, seed=1)
    s = s.select("frequency", "recency", "T")
    t0 = time.perf_counter()
    local = clv.BetaGeo(time_unit="week").fit(s)
    out: dict = {"patterns": n, "local_s": round(time.perf_counter() - t0, 2)}
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "3g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.adaptive.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    sdf = spark.createDataFrame(s.to_arrow()).repartition(8).cache()
    sdf.count()
    jobs = [0]
    for mod in (old, new):
        orig = mod._partial

        def counting(model, thetas, orig=orig):
            jobs[0] += 1
            return orig(model, thetas)

        mod._partial = counting
    for rnd in range(rounds):
        for name in ("driver", "before", "after"):
            jobs[0] = 0
            t0 = time.perf_counter()
            if name == "driver":
                m = tns.fit(sdf, "bg_nbd", time_unit="week", max_patterns=10**8)
            else:
                mod = old if name == "before" else new
                m = mod.fit_distributed(
                    tns.patterns(sdf), clv.BetaGeo(time_unit="week"), start=None, max_iter=500
                )
            out[f"{name}_s_{rnd}"] = round(time.perf_counter() - t0, 2)
            out[f"{name}_jobs"] = jobs[0]
            out[f"{name}_rel"] = max(abs(m.params[k] / v - 1) for k, v in local.params.items())
    spark.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
