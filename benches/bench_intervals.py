"""90% prediction intervals (200 parameter draws) against the point prediction, 1M customers.

Run: ``pytest benches/bench_intervals.py --benchmark-only``. Data: 1M BG/NBD customers from
the seeded simulator with CDNOW-like daily parameters, first purchases spread over 91 days
and whole-day times (the ``whole`` shape of ``bench_models.py``: ~108k distinct
(frequency, recency, T) patterns). Each group times the point prediction and the interval
side by side; the interval's draws are made once before timing (they are cached on the
model, as one run's p_alive and clv intervals share them), so the timing is the Rust
evaluation over the patterns plus the quantiles. The ratios interval / point are printed.

Cost model: the interval evaluates the model once per distinct pattern and draw (and the
(x, T)-only part once per distinct pair and draw), the point once per row, so the ratio is
about draws × patterns / rows (200 × 0.108 ≈ 22 here) times the cost of one evaluation
relative to a point pass's per-row cost.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import truenorth.clv as clv

N = 1_000_000
BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
DRAWS = 200
MEDIANS: dict[str, float] = {}


@pytest.fixture(scope="module")
def fitted():
    t = (180 + (pl.int_range(N, eager=True) % 91)).cast(pl.Float64)
    s = clv.simulate_bg_nbd(N, **BG, T=t, seed=1, resolution=1.0)
    spend = pl.Series("spend", np.random.default_rng(1).uniform(5.0, 50.0, N))
    m = clv.BetaGeo().fit(s)
    m.p_alive(s.head(2), interval=0.9, draws=DRAWS, seed=1)  # draw once (cached)
    return s, spend, m


def _clv(s, spend, m, **kw):
    return clv.lifetime_value(m, spend, s, horizon=12, **kw)


CASES = {
    "clv_12m": lambda s, sp, m, **kw: _clv(s, sp, m, **kw),
    "p_alive": lambda s, sp, m, **kw: m.p_alive(s, **kw),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("how", ["point", "interval"])
def test_interval_vs_point(benchmark, fitted, case, how):
    s, spend, m = fitted
    kw = {"interval": 0.9, "draws": DRAWS, "seed": 1} if how == "interval" else {}
    benchmark.group = f"{case}_1M_{DRAWS}draws"
    out = benchmark.pedantic(lambda: CASES[case](s, spend, m, **kw), rounds=3, iterations=1)
    assert out.shape[0] == N
    MEDIANS[f"{case}/{how}"] = benchmark.stats.stats.median


def teardown_module() -> None:
    for case in CASES:
        p, i = MEDIANS.get(f"{case}/point"), MEDIANS.get(f"{case}/interval")
        if p and i:
            print(f"\n{case}: interval {i:.3f}s / point {p:.3f}s = {i / p:.1f}x")
