"""truenorth vs lifetimes: BG/NBD fit (1M customers), Pareto/NBD fit (100k), 12-month CLV (1M).

Run: ``pytest benches/bench_models.py --benchmark-only`` (the default ``pytest`` run only
collects ``tests/``). Data comes from truenorth's seeded BG/NBD / Pareto/NBD simulators:
a cohort whose first purchases spread over 91 days, observed 180–270 days, with day periods
(times in days), i.e. what ``summarize(period="1d", unit="1d")`` produces. Each lifetimes run
is a single round (``benchmark.pedantic(rounds=1)``); the ratios (lifetimes time / truenorth
time, by median) are printed at the end and written to ``benches/results_models.json``.
CLV is compared at equal parameters and the results are checked to agree.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import truenorth.clv as clv

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import to_pandas

N_BG = 1_000_000
N_PNBD = 100_000
BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}  # CDNOW estimates, per day
PNBD = {"r": 0.553, "alpha": 10.578 * 7, "s": 0.606, "beta": 11.669 * 7}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}
RESULTS: dict[str, float] = {}


def _T(n: int) -> pl.Series:
    return (180 + (pl.int_range(n, eager=True) % 91)).cast(pl.Float64)


@pytest.fixture(scope="module")
def bg_data() -> pl.DataFrame:
    sim = clv.simulate_bg_nbd(N_BG, **BG, T=_T(N_BG), seed=1, resolution=1.0)
    return sim.with_columns(monetary_value=clv.simulate_gamma_gamma(sim["frequency"], **GG, seed=2))


@pytest.fixture(scope="module")
def pnbd_data() -> pl.DataFrame:
    return clv.simulate_pareto_nbd(N_PNBD, **PNBD, T=_T(N_PNBD), seed=3, resolution=1.0)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    ratios = {}
    for name in ("bg_nbd_fit_1M", "pareto_nbd_fit_100k", "clv_12m_1M"):
        ours, theirs = RESULTS.get(f"{name}/truenorth"), RESULTS.get(f"{name}/lifetimes")
        if ours and theirs:
            ratios[name] = {"truenorth_s": ours, "lifetimes_s": theirs, "speedup": theirs / ours}
    if ratios:
        out = Path(__file__).with_name("results_models.json")
        out.write_text(json.dumps(ratios, indent=1))
        print("\nspeed-ups (lifetimes / truenorth):")
        for k, v in ratios.items():
            print(
                f"  {k}: {v['speedup']:.0f}x  ({v['lifetimes_s']:.2f}s vs {v['truenorth_s']:.3f}s)"
            )


def _record(benchmark, key: str) -> None:
    RESULTS[key] = benchmark.stats.stats.median


def _lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return lifetimes


def _quiet(fn):
    def run(*a, **k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a, **k)

    return run


# -- BG/NBD fit on 1M customers -----------------------------------------------------------


@pytest.mark.benchmark(group="bg_nbd_fit_1M")
def test_bg_nbd_fit_truenorth(benchmark, bg_data):
    m = benchmark.pedantic(lambda: clv.BetaGeo().fit(bg_data), rounds=3, iterations=1)
    assert m.converged
    _record(benchmark, "bg_nbd_fit_1M/truenorth")


@pytest.mark.benchmark(group="bg_nbd_fit_1M")
def test_bg_nbd_fit_lifetimes(benchmark, bg_data):
    lt = _lifetimes()
    x, tx, t = (bg_data[c].to_numpy() for c in ("frequency", "recency", "T"))
    f = benchmark.pedantic(_quiet(lambda: lt.BetaGeoFitter().fit(x, tx, t)), rounds=1, iterations=1)
    ours = clv.BetaGeo().fit(bg_data).params
    for k, v in ours.items():
        assert f.params_[k] == pytest.approx(v, rel=1e-2), k
    _record(benchmark, "bg_nbd_fit_1M/lifetimes")


# -- Pareto/NBD fit on 100k customers ------------------------------------------------------


@pytest.mark.benchmark(group="pareto_nbd_fit_100k")
def test_pareto_nbd_fit_truenorth(benchmark, pnbd_data):
    m = benchmark.pedantic(lambda: clv.ParetoNBD().fit(pnbd_data), rounds=3, iterations=1)
    assert m.converged
    _record(benchmark, "pareto_nbd_fit_100k/truenorth")


@pytest.mark.benchmark(group="pareto_nbd_fit_100k")
def test_pareto_nbd_fit_lifetimes(benchmark, pnbd_data):
    lt = _lifetimes()
    x, tx, t = (pnbd_data[c].to_numpy() for c in ("frequency", "recency", "T"))
    f = benchmark.pedantic(
        _quiet(lambda: lt.ParetoNBDFitter().fit(x, tx, t)), rounds=1, iterations=1
    )
    ours = clv.ParetoNBD().fit(pnbd_data)
    # lifetimes' Nelder-Mead may stop short; record how far its optimum is from ours.
    RESULTS["pareto_nbd_fit_100k/lifetimes_params"] = dict(f.params_)  # type: ignore[assignment]
    assert (
        ours.log_likelihood
        >= float(clv.ParetoNBD.from_params(dict(f.params_)).log_likelihood_rows(pnbd_data).sum())
        - 1e-6
    )
    _record(benchmark, "pareto_nbd_fit_100k/lifetimes")


# -- 12-month CLV for 1M customers at equal parameters --------------------------------------


@pytest.mark.benchmark(group="clv_12m_1M")
def test_clv_truenorth(benchmark, bg_data):
    bg = clv.BetaGeo.from_params(BG, time_unit="1d")
    gg = clv.GammaGamma.from_params(GG)
    # lifetimes' freq="D" month is 30 days: use the same month for equal work and results.
    v = benchmark.pedantic(
        lambda: clv.lifetime_value(bg, gg, bg_data, days_per_month=30.0), rounds=3, iterations=1
    )
    assert v.len() == N_BG and v.is_finite().all()
    _record(benchmark, "clv_12m_1M/truenorth")


@pytest.mark.benchmark(group="clv_12m_1M")
def test_clv_lifetimes(benchmark, bg_data):
    import pandas as pd

    lt = _lifetimes()
    f = lt.BetaGeoFitter()
    f.params_ = pd.Series(BG)
    f.predict = f.conditional_expected_number_of_purchases_up_to_time
    g = lt.GammaGammaFitter()
    g.params_ = pd.Series(GG)
    pdf = to_pandas(bg_data)

    def run():
        return g.customer_lifetime_value(
            f,
            pdf["frequency"],
            pdf["recency"],
            pdf["T"],
            pdf["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="D",
        )

    ref = benchmark.pedantic(_quiet(run), rounds=1, iterations=1)
    ours = clv.lifetime_value(
        clv.BetaGeo.from_params(BG, time_unit="1d"),
        clv.GammaGamma.from_params(GG),
        bg_data,
        days_per_month=30.0,
    )
    np.testing.assert_allclose(ours.to_numpy(), np.asarray(ref, dtype=float), rtol=1e-6)
    _record(benchmark, "clv_12m_1M/lifetimes")
