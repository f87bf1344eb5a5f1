"""sBG / BdW fits on 1,000 cohorts: truenorth (Rust core, cohorts fitted in parallel) vs a
scipy.optimize implementation of the same likelihood (L-BFGS-B on log-parameters, numpy
log-beta terms, finite-difference gradients: what one would write by hand).

Run: ``python benches/bench_retention.py`` (prints the table and writes
``benches/results_retention.json``) or ``pytest benches/bench_retention.py --benchmark-only``.
Set ``RAYON_NUM_THREADS=1`` for truenorth on one thread.

Data: 1,000 cohorts drawn from the models themselves (seeded): sizes 200-2,000, observed for
4-12 renewals, α ~ U(0.3, 2), β ~ U(0.5, 8) and for BdW c ~ U(0.6, 1.6). Every fit is checked:
truenorth's log-likelihood is at least scipy's minus 1e-6 per cohort (equal optimum or better).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import betaln

from truenorth import retention

N_COHORTS = 1_000
SEED = 11


def cohorts(model: str, n: int = N_COHORTS, seed: int = SEED) -> list[retention.CohortCounts]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        size = int(rng.integers(200, 2001))
        k = int(rng.integers(4, 13))
        a, b = rng.uniform(0.3, 2.0), rng.uniform(0.5, 8.0)
        c = rng.uniform(0.6, 1.6) if model == "bdw" else 1.0
        theta = rng.beta(a, b, size)
        u = rng.random(size)
        # discrete Weibull lifetimes: P(T > t | θ) = (1-θ)^(t^c)
        life = np.ceil((np.log(u) / np.log1p(-np.clip(theta, 1e-12, 1 - 1e-12))) ** (1 / c))
        life = np.maximum(life, 1)
        lost = [float(np.sum(life == t)) for t in range(1, k + 1)]
        cens = [0.0] * k + [float(np.sum(life > k))]
        out.append(retention.CohortCounts(str(i), lost, cens))
    return out


def scipy_fit(model: str, c: retention.CohortCounts) -> tuple[np.ndarray, float]:
    lost = np.asarray(c.lost)
    k = len(lost)
    t = np.arange(1, k + 1, dtype=float)
    last = c.censored[-1]

    def neg(th):
        p = np.exp(th)
        a, b = p[0], p[1]
        with np.errstate(all="ignore"):
            tc = t if model == "sbg" else t ** p[2]
        prev = np.concatenate([[0.0], tc[:-1]])
        lb = betaln(a, b)
        ls = betaln(a, b + tc) - lb
        lp = betaln(a, b + prev) - lb
        pmf = np.exp(lp) - np.exp(ls)
        with np.errstate(all="ignore"):
            v = lost @ np.log(pmf) + last * ls[-1]
        # per customer, as truenorth's objective: O(1) gradients keep the first steps sane
        return -v / n if np.isfinite(v) else 1e10

    n = c.size
    x0 = np.zeros(2 if model == "sbg" else 3)
    res = minimize(neg, x0, method="L-BFGS-B", bounds=[(-20, 20)] * len(x0))
    return np.exp(res.x), -res.fun * n


def run_truenorth(model: str, data: list[retention.CohortCounts]) -> list[float]:
    return [
        f.model.log_likelihood if f.model else float("nan") for f in retention.fit_each(data, model)
    ]


def run_scipy(model: str, data: list[retention.CohortCounts]) -> list[float]:
    return [scipy_fit(model, c)[1] for c in data]


def compare(model: str) -> dict[str, float]:
    data = cohorts(model)
    t0 = time.perf_counter()
    ours = run_truenorth(model, data)
    t1 = time.perf_counter()
    theirs = run_scipy(model, data)
    t2 = time.perf_counter()
    ok = [o for o in ours if np.isfinite(o)]
    worse = sum(1 for o, s in zip(ours, theirs, strict=True) if np.isfinite(o) and o < s - 1e-6)
    return {
        "cohorts": len(data),
        "fitted": len(ok),
        "truenorth_s": t1 - t0,
        "scipy_s": t2 - t1,
        "ratio": (t2 - t1) / (t1 - t0),
        "truenorth_worse_ll": worse,
        "ll_gain_vs_scipy": float(np.nansum(np.asarray(ours) - np.asarray(theirs))),
    }


@pytest.mark.parametrize("model", ["sbg", "bdw"])
def test_truenorth_fit_1000_cohorts(benchmark, model):
    data = cohorts(model)
    benchmark.group = f"retention-{model}"
    benchmark.name = f"truenorth-{model}"
    ll = benchmark(run_truenorth, model, data)
    assert sum(np.isfinite(ll)) >= 0.9 * len(data)


@pytest.mark.parametrize("model", ["sbg", "bdw"])
def test_scipy_fit_1000_cohorts(benchmark, model):
    data = cohorts(model)
    benchmark.group = f"retention-{model}"
    benchmark.name = f"scipy-{model}"
    theirs = benchmark.pedantic(run_scipy, args=(model, data), rounds=1)
    ours = run_truenorth(model, data)
    assert all(o >= s - 1e-6 for o, s in zip(ours, theirs, strict=True) if np.isfinite(o))


if __name__ == "__main__":
    results = {m: compare(m) for m in ("sbg", "bdw")}
    for m, r in results.items():
        print(
            f"{m}: {r['cohorts']} cohorts ({r['fitted']} identified) truenorth {r['truenorth_s']:.3f} s, "
            f"scipy {r['scipy_s']:.3f} s, ratio {r['ratio']:.1f}x; truenorth LL below scipy's "
            f"in {r['truenorth_worse_ll']} cohorts; total LL gain {r['ll_gain_vs_scipy']:.3g}"
        )
    Path(__file__).with_name("results_retention.json").write_text(json.dumps(results, indent=2))
