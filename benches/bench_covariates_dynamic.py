"""Pareto/NBD with time-varying covariates: fit time next to the static-covariate and plain
fits on the same simulated customers (``python benches/bench_covariates_dynamic.py [n]``).

Prints one Markdown row per fit: wall and CPU seconds (process, all threads), iterations, LL.
The dynamic fit's time includes building the covariate paths from the tables (shown apart).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

import polars as pl

from truenorth import clv
from truenorth.clv._dynpath import Calendar, Columns, calibration, check_table
from truenorth.clv.covariates import CovariateSpec
from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic


def timed(f, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - w, time.process_time() - c


def main(n: int) -> None:
    weeks = 52
    end = datetime(2024, 1, 1) + timedelta(weeks=weeks)
    tr, cov = simulate_dynamic(
        n,
        weeks=weeks,
        transaction={"promo": 0.7, "season": 0.4, "vip": 0.5},
        lifetime={"promo": 0.5, "vip": -0.5},
        seed=1,
    )
    print(f"{n} customers x {weeks} weeks, {tr.height} transactions, {cov.height} covariate rows")
    print("| fit | coefficients | wall s | CPU s | iterations | LL |")
    print("|---|---:|---:|---:|---:|---:|")
    vip_only, _, _ = timed(
        lambda: fit_dynamic_covariates(
            tr, cov, transaction=["vip"], lifetime=["vip"], calibration_end=end, max_iter=1
        )
    )
    summary = vip_only.predict(tr, cov, horizon=0).join(
        cov.group_by("customer").agg(pl.col("vip").first()), on="customer"
    )
    m, w, c = timed(lambda: clv.ParetoNBD().fit(summary))
    print(
        f"| Pareto/NBD, no covariates | 0 | {w:.2f} | {c:.2f} | {m.n_iterations} | "
        f"{m.log_likelihood:.1f} |"
    )
    m, w, c = timed(lambda: clv.ParetoNBD().fit(summary, transaction=["vip"], lifetime=["vip"]))
    print(
        f"| static: vip (both processes) | 2 | {w:.2f} | {c:.2f} | {m.n_iterations} | "
        f"{m.log_likelihood:.1f} |"
    )
    for tc, lc in ((["vip"], ["vip"]), (["promo", "season", "vip"], ["promo", "vip"])):
        table, origin = check_table(cov, Columns(), list(dict.fromkeys(tc + lc)), 7.0)
        spec = CovariateSpec.build(table, tc, lc, [], {}, {})
        _, wp, _ = timed(calibration, tr, table, spec, Columns(), Calendar(origin, 7.0, end))
        f, w, c = timed(
            fit_dynamic_covariates, tr, cov, transaction=tc, lifetime=lc, calibration_end=end
        )
        print(
            f"| dynamic: {'+'.join(tc)} / {'+'.join(lc)} (paths {wp:.2f} s wall) | "
            f"{len(tc) + len(lc)} | {w:.2f} | {c:.2f} | {f.n_iterations} | "
            f"{f.log_likelihood:.1f} |"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
