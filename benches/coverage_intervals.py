"""Heavier run of the interval coverage check of ``tests/clv/test_interval_coverage.py``.

Run: ``python benches/coverage_intervals.py [R] [N]`` (default R = 400 replicates of N = 3000
customers per model; GGom/NBD, whose fits cost ~1 s each, a quarter of R). Prints, per model and method, the share of replicates whose nominal
90% interval of E[X(T, T+h] | history; θ_true] covers it, for the three reference
histories, and the same for 12-step CLV with Gamma-Gamma spend uncertainty. With R = 400
the binomial standard deviation of an exact method's coverage is 0.015.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "clv"))
from test_interval_coverage import CASES, clv_coverage, coverage


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    print(f"R = {reps}, N = {n}, load average {os.getloadavg()}")
    for kind in [*CASES, "clv+gamma_gamma"]:
        t0 = time.perf_counter()
        if kind == "clv+gamma_gamma":
            cov = clv_coverage(reps, n)
        else:
            cov = coverage(kind, reps // 4 if kind == "ggom_nbd" else reps, n)
        cells = "  ".join(f"{m}: {', '.join(f'{c:.3f}' for c in v)}" for m, v in cov.items())
        print(f"{kind:16s} {cells}   ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
