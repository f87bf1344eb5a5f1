"""Cost of the time-varying-covariate Pareto/NBD's prediction intervals relative to its point
prediction (``python benches/bench_covariates_dynamic_intervals.py [n] [draws]``).

Prints one Markdown row per call: wall and CPU seconds (process, all threads) and the ratio
to the point call of the same kind. The delta method costs 2(4 + C) + 1 passes over the
paths for C coefficients; ``draws`` draws cost ``draws`` passes (a CLV over h steps: h passes
per evaluation). Every call builds its covariate window from the tables, which is part of
the point call's time too.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta

from truenorth import clv
from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic
from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value


def timed(f):
    w, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w, time.process_time() - c


def main(n: int, draws: int) -> None:
    weeks = 52
    end = datetime(2024, 1, 1) + timedelta(weeks=weeks)
    tr, cov = simulate_dynamic(n, weeks=weeks, future_weeks=14, seed=1)
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["promo", "season"], lifetime=["promo"], calibration_end=end
    )
    x = fit.predict(tr, cov, horizon=0).select("customer", "frequency")
    data = x.with_columns(
        monetary_value=clv.simulate_gamma_gamma(x["frequency"], p=6.25, q=3.74, v=15.44, seed=2)
    )
    gg = clv.GammaGamma().fit(data)
    print(f"{n} customers x {weeks} weeks, 3 coefficients, {draws} draws, load {os.getloadavg()}")
    print("| call | wall s | CPU s | wall / point |")
    print("|---|---:|---:|---:|")
    rows = [
        ("predict, 13 weeks: point", lambda: fit.predict(tr, cov, horizon=13)),
        ("predict: delta", lambda: fit.predict(tr, cov, horizon=13, interval=0.9)),
        (
            f"predict: normal, {draws} draws",
            lambda: fit.predict(tr, cov, horizon=13, interval=0.9, method="normal", draws=draws),
        ),
    ]
    kw = {"spend_data": data, "horizon": 3, "horizon_unit": "month"}
    rows += [
        (
            "CLV 3 months + Gamma-Gamma: point",
            lambda: dynamic_lifetime_value(fit, tr, cov, gg, **kw),
        ),
        (
            "CLV: delta (both models)",
            lambda: dynamic_lifetime_value(fit, tr, cov, gg, **kw, interval=0.9),
        ),
        (
            f"CLV: normal, {draws} draws (both models)",
            lambda: dynamic_lifetime_value(
                fit, tr, cov, gg, **kw, interval=0.9, method="normal", draws=draws
            ),
        ),
    ]
    point = 0.0
    for name, f in rows:
        w, c = timed(f)
        if name.endswith("point"):
            point = w
        print(f"| {name} | {w:.2f} | {c:.2f} | {w / point:.1f} |")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 200,
    )
