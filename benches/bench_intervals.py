"""90% prediction intervals for 1M customers against the point prediction, both methods.

Run: ``pytest benches/bench_intervals.py --benchmark-only -s``. Data: 1M BG/NBD customers
from the seeded simulator with CDNOW-like daily parameters, first purchases spread over 91
days and whole-day times (the ``whole`` shape of ``bench_models.py``: ~108k distinct
(frequency, recency, T) patterns), Gamma-Gamma spends for the repeat buyers. Each group
times the point prediction and the intervals side by side (``how``):

- ``delta``: the delta method (2K + 1 = 9 evaluations per distinct pattern);
- ``draws``: 200 draws of the asymptotic normal (``method="normal"``), made once before
  timing (they are cached on the model, as one run's p_alive and clv intervals share them),
  so the timing is the Rust evaluation over the patterns plus the quantiles.

Cases: ``clv_12m`` (spend per purchase given as a column: the purchase model's uncertainty
only), ``clv_12m_gg`` (spend from a fitted Gamma-Gamma: its parameter uncertainty joins the
interval, per row since the mean spend is continuous), ``p_alive`` and
``expected_purchases`` over 90 days. The ratios interval / point are printed.

Cost model of the draws: the model is evaluated once per distinct pattern and draw, the point
once per row, so the ratio is about draws × patterns / rows (200 × 0.108 ≈ 22 here); with
Gamma-Gamma the draws' spend is evaluated per repeat-buying row and draw. The delta method
needs 9 evaluations per pattern instead of 200.
"""

from __future__ import annotations

import os

import pytest

import truenorth.clv as clv

N = 1_000_000
BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}
DRAWS = 200
MEDIANS: dict[str, float] = {}


@pytest.fixture(scope="module")
def fitted():
    import polars as pl

    t = (180 + (pl.int_range(N, eager=True) % 91)).cast(pl.Float64)
    s = clv.simulate_bg_nbd(N, **BG, T=t, seed=1, resolution=1.0)
    s = s.with_columns(monetary_value=clv.simulate_gamma_gamma(s["frequency"], **GG, seed=2))
    m = clv.BetaGeo(time_unit="1d").fit(s)
    gg = clv.GammaGamma().fit(s)
    spend = gg.expected_spend(s)
    m.p_alive(s.head(2), interval=0.9, draws=DRAWS, seed=1, method="normal")  # draw once
    return s, spend, m, gg


CASES = {
    "clv_12m": lambda s, sp, m, gg, **kw: clv.lifetime_value(m, sp, s, horizon=12, **kw),
    "clv_12m_gg": lambda s, sp, m, gg, **kw: clv.lifetime_value(m, gg, s, horizon=12, **kw),
    "p_alive": lambda s, sp, m, gg, **kw: m.p_alive(s, **kw),
    "expected_purchases": lambda s, sp, m, gg, **kw: m.expected_purchases(s, 90, **kw),
}
HOW = {
    "point": {},
    "delta": {"interval": 0.9, "method": "delta"},
    "draws": {"interval": 0.9, "draws": DRAWS, "seed": 1, "method": "normal"},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("how", list(HOW))
def test_interval_vs_point(benchmark, fitted, case, how):
    s, spend, m, gg = fitted
    benchmark.group = f"{case}_1M_{DRAWS}draws"
    out = benchmark.pedantic(
        lambda: CASES[case](s, spend, m, gg, **HOW[how]), rounds=3, iterations=1
    )
    assert out.shape[0] == N
    MEDIANS[f"{case}/{how}"] = benchmark.stats.stats.median


def teardown_module() -> None:
    print(f"\nload average at the end: {os.getloadavg()}")
    for case in CASES:
        p = MEDIANS.get(f"{case}/point")
        for how in ("delta", "draws"):
            i = MEDIANS.get(f"{case}/{how}")
            if p and i:
                print(f"{case}: {how} {i:.3f}s / point {p:.3f}s = {i / p:.1f}x")
