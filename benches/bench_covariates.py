"""Pareto/NBD with static covariates: fit time against the no-covariate fit, and how it grows
with customers and covariates.

Usage: ``python benches/bench_covariates.py [N_CUSTOMERS ...]`` (default 25000 50000 100000).
Customers are simulated (seeded) from a covariate Pareto/NBD with four covariates: two
continuous (standard normal ``age``, ``tenure``), one binary (``vip``) and one categorical with
three levels (``channel``, two dummies) -- five coefficients in the transaction process, and
``vip`` and ``age`` in the lifetime process. Continuous covariates make nearly every customer
a pattern of their own, the worst case for compression; the no-covariate fit compresses the
same customers to their distinct (x, t_x, T). Times are wall and process CPU seconds of
``ParetoNBD().fit`` (best of ``ROUNDS``, default 1), printed as a Markdown table.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from covariate_data import SETS, TRUTH, data
from truenorth import clv


def timed(fn) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def main(sizes: list[int]) -> None:
    rounds = 1
    print(
        "| customers | covariates | coefficients | patterns | wall s | CPU s | LL | x no-cov wall |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        s = data(n)
        base_wall = None
        for k, (trans, life) in SETS.items():
            if n != max(sizes) and k not in (0, 4):
                continue
            best = None
            for _ in range(rounds):
                w, c, m = timed(
                    lambda s=s, trans=trans, life=life: clv.ParetoNBD().fit(
                        s, transaction=trans, lifetime=life
                    )
                )
                if best is None or w < best[0]:
                    best = (w, c, m)
            assert best is not None
            w, c, m = best
            if k == 0:
                base_wall = w
            ncoef = len(m._coef)
            ratio = w / base_wall if base_wall else float("nan")
            print(
                f"| {n:,} | {k} | {ncoef} | {m.n_patterns:,} | {w:.2f} | {c:.2f} | "
                f"{m.log_likelihood:.1f} | {ratio:.0f} |",
                flush=True,
            )


# pytest-benchmark: ``pytest benches/bench_covariates.py --benchmark-only`` (group
# ``covariates-pareto``: the covariate fit, the no-covariate fit of the same customers and,
# where pymc-marketing is installed (``benches/peers_covariates_pymc.py`` says how), its MAP
# fit). ``TRUENORTH_BENCH_COV_N`` sets the customers (default 5,000: PyMC's fit of 100,000
# takes minutes a round). Add ``--benchmark-timer=time.process_time`` for CPU ratios (PyMC's
# compiler runs in child processes, not counted there: that favours PyMC).
BENCH_N = int(os.environ.get("TRUENORTH_BENCH_COV_N", "5000"))
PEERS = ["truenorth", "truenorth-no-covariates", "pymc-marketing-map"]


@pytest.fixture(scope="module")
def bench_data() -> pl.DataFrame:
    return data(BENCH_N)


@pytest.mark.parametrize("peer", PEERS)
def test_covariate_fit(benchmark, bench_data, peer):
    trans, life = SETS[4]
    benchmark.group = f"covariates-pareto-{BENCH_N // 1000}k"
    if peer == "truenorth":
        m = benchmark(lambda: clv.ParetoNBD().fit(bench_data, transaction=trans, lifetime=life))
        assert m.converged and len(m.coefficients()) == 7
    elif peer == "truenorth-no-covariates":
        m = benchmark(lambda: clv.ParetoNBD().fit(bench_data))
        assert m.converged
    else:
        pytest.importorskip("pymc_marketing")
        sys.path.insert(0, str(Path(__file__).parent))
        from peers_covariates_pymc import pymc_fit

        pymc_fit(data(2_000, seed=2))  # PyTensor's compile cache, untimed (as the script)
        out = benchmark.pedantic(lambda: pymc_fit(bench_data), rounds=1, iterations=1)
        assert abs(out["trans.vip"] - TRUTH["trans.vip"]) < 0.5


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [25_000, 50_000, 100_000])
