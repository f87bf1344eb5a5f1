"""truenorth vs lifetimes: BG/NBD fit (1M customers), Pareto/NBD fit (100k), 12-month CLV (1M).

Run: ``pytest benches/bench_models.py --benchmark-only`` (the default ``pytest`` run only
collects ``tests/``). Data comes from truenorth's seeded BG/NBD / Pareto/NBD simulators, in
two shapes (the ``data`` parameter):

- ``whole``: a cohort whose first purchases spread over 91 days, observed 180–270 days, with
  day periods (whole-day times), i.e. what ``summarize(period="1d", unit="1d")`` produces.
  It compresses well: 1M BG/NBD rows are ~108k distinct (x, t_x, T) patterns, 100k
  Pareto/NBD rows ~30k, and truenorth fits each pattern once.
- ``continuous``: continuous purchase times (no period grid) and ``T`` spread uniformly over
  30–1095 days (fractional), so every row is its own pattern (1M of 1M): the case where
  compressing the rows buys nothing and the per-row work is all that counts.

Each lifetimes run is a single round (``benchmark.pedantic(rounds=1)``); the ratios
(lifetimes time / truenorth time, by median) are printed at the end and written to
``benches/results_models.json``. Fits are checked to agree (parameters within 1 %, or for
Pareto/NBD truenorth's likelihood at least lifetimes'); CLV is compared at equal parameters
and the results are asserted equal (rtol 1e-6).
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


DATA = ["whole", "continuous"]


def _T(n: int, data: str) -> pl.Series:
    if data == "whole":
        return (180 + (pl.int_range(n, eager=True) % 91)).cast(pl.Float64)
    return pl.Series(np.random.default_rng(n).uniform(30.0, 1095.0, n))


def _resolution(data: str) -> float | None:
    return 1.0 if data == "whole" else None


@pytest.fixture(scope="module", params=DATA)
def data(request) -> str:
    return request.param


_CACHE: dict[tuple[str, str], pl.DataFrame] = {}


def _cached(kind: str, data: str, make) -> pl.DataFrame:
    if (kind, data) not in _CACHE:
        _CACHE[(kind, data)] = make()
    return _CACHE[(kind, data)]


@pytest.fixture
def bg_data(data) -> pl.DataFrame:
    def make():
        sim = clv.simulate_bg_nbd(
            N_BG, **BG, T=_T(N_BG, data), seed=1, resolution=_resolution(data)
        )
        mv = clv.simulate_gamma_gamma(sim["frequency"], **GG, seed=2)
        return sim.with_columns(monetary_value=mv)

    return _cached("bg", data, make)


@pytest.fixture
def pnbd_data(data) -> pl.DataFrame:
    return _cached(
        "pnbd",
        data,
        lambda: clv.simulate_pareto_nbd(
            N_PNBD, **PNBD, T=_T(N_PNBD, data), seed=3, resolution=_resolution(data)
        ),
    )


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    ratios = {}
    for case in ("bg_nbd_fit_1M", "pareto_nbd_fit_100k", "clv_12m_1M"):
        for data in DATA:
            name = f"{case}_{data}"
            ours, theirs = RESULTS.get(f"{name}/truenorth"), RESULTS.get(f"{name}/lifetimes")
            if ours and theirs:
                ratios[name] = {
                    "truenorth_s": ours,
                    "lifetimes_s": theirs,
                    "speedup": theirs / ours,
                }
    if ratios:
        out = Path(__file__).with_name("results_models.json")
        out.write_text(json.dumps(ratios, indent=1))
        print("\nspeed-ups (lifetimes / truenorth):")
        for k, v in ratios.items():
            print(
                f"  {k}: {v['speedup']:.0f}x  ({v['lifetimes_s']:.2f}s vs {v['truenorth_s']:.3f}s)"
            )


def _record(benchmark, case: str, data: str, who: str) -> None:
    RESULTS[f"{case}_{data}/{who}"] = benchmark.stats.stats.median


def _group(benchmark, case: str, data: str) -> None:
    benchmark.group = f"{case}_{data}"


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


def test_bg_nbd_fit_truenorth(benchmark, bg_data, data):
    _group(benchmark, "bg_nbd_fit_1M", data)
    m = benchmark.pedantic(lambda: clv.BetaGeo().fit(bg_data), rounds=3, iterations=1)
    assert m.converged
    _record(benchmark, "bg_nbd_fit_1M", data, "truenorth")


def test_bg_nbd_fit_lifetimes(benchmark, bg_data, data):
    _group(benchmark, "bg_nbd_fit_1M", data)
    lt = _lifetimes()
    x, tx, t = (bg_data[c].to_numpy() for c in ("frequency", "recency", "T"))
    f = benchmark.pedantic(_quiet(lambda: lt.BetaGeoFitter().fit(x, tx, t)), rounds=1, iterations=1)
    ours = clv.BetaGeo().fit(bg_data).params
    for k, v in ours.items():
        assert f.params_[k] == pytest.approx(v, rel=1e-2), k
    _record(benchmark, "bg_nbd_fit_1M", data, "lifetimes")


# -- Pareto/NBD fit on 100k customers ------------------------------------------------------


def test_pareto_nbd_fit_truenorth(benchmark, pnbd_data, data):
    _group(benchmark, "pareto_nbd_fit_100k", data)
    m = benchmark.pedantic(lambda: clv.ParetoNBD().fit(pnbd_data), rounds=3, iterations=1)
    assert m.converged
    _record(benchmark, "pareto_nbd_fit_100k", data, "truenorth")


def test_pareto_nbd_fit_lifetimes(benchmark, pnbd_data, data):
    _group(benchmark, "pareto_nbd_fit_100k", data)
    lt = _lifetimes()
    x, tx, t = (pnbd_data[c].to_numpy() for c in ("frequency", "recency", "T"))
    f = benchmark.pedantic(
        _quiet(lambda: lt.ParetoNBDFitter().fit(x, tx, t)), rounds=1, iterations=1
    )
    ours = clv.ParetoNBD().fit(pnbd_data)
    # lifetimes' Nelder-Mead may stop short; record how far its optimum is from ours.
    RESULTS[f"pareto_nbd_fit_100k_{data}/lifetimes_params"] = dict(f.params_)  # type: ignore[assignment]
    assert (
        ours.log_likelihood
        >= float(clv.ParetoNBD.from_params(dict(f.params_)).log_likelihood_rows(pnbd_data).sum())
        - 1e-6
    )
    _record(benchmark, "pareto_nbd_fit_100k", data, "lifetimes")


# -- 12-month CLV for 1M customers at equal parameters --------------------------------------


def test_clv_truenorth(benchmark, bg_data, data):
    _group(benchmark, "clv_12m_1M", data)
    bg = clv.BetaGeo.from_params(BG, time_unit="1d")
    gg = clv.GammaGamma.from_params(GG)
    # lifetimes' freq="D" month is 30 days: use the same month for equal work and results.
    v = benchmark.pedantic(
        lambda: clv.lifetime_value(bg, gg, bg_data, days_per_month=30.0), rounds=3, iterations=1
    )
    assert v.len() == N_BG and v.is_finite().all()
    _record(benchmark, "clv_12m_1M", data, "truenorth")


def test_clv_lifetimes(benchmark, bg_data, data):
    _group(benchmark, "clv_12m_1M", data)
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
    _record(benchmark, "clv_12m_1M", data, "lifetimes")
