"""Backtest of the four purchase models: truenorth vs lifetimes doing the same work.

Run: ``pytest benches/bench_backtest.py --benchmark-only -s`` (add
``--benchmark-timer=time.process_time`` for CPU times on a loaded machine). Data: truenorth's
seeded BG/NBD transaction simulator (r = 0.75, α = 10 days, a = 0.8, b = 6: ~10 transactions
per customer), 1M customers acquired over the first 90 days of 2024 and observed to the end
of the year (~10M transactions), Gamma-Gamma amounts; calibration ends on 30 September, weekly
units, day periods.

- truenorth: ``clv.backtest`` (summary with holdout, BG/NBD, MBG/NBD, Pareto/NBD and GGom/NBD
  fits, Gamma-Gamma, the comparison, tracking, conditional and frequency tables), on all
  customers and on each lifetimes sample below;
- lifetimes: ``calibration_and_holdout_data`` + BG/NBD, MBG/NBD and Pareto/NBD fits (it has no
  GGom/NBD) + each model's conditional expectation of the holdout purchases + each model's
  ``expected_cumulative_transactions`` (weekly tracking). lifetimes would take hours on 1M
  customers (its tracking loops per customer and period), so it runs on the first
  ``N_LIFETIMES`` customers (a comma list, default 20000,50000; one round each). Its time
  at 1M is EXTRAPOLATED linearly from the largest sample (the printed scaling exponent
  between the two largest samples shows how close to linear it is); the ratios where both
  really ran are printed beside it.

``TN_BACKTEST_DATA=continuous`` runs the same on (nearly) continuous time: hour periods
(truenorth ``period="1h"``; lifetimes ``freq="h"``, ``freq_multiplier=168`` so its recency and
T are also in weeks), so nearly every repeat buyer is a pattern of its own (poor compression).
lifetimes' tracking walks every period of the log, so finer periods would time that loop. The
default (``day``) uses day periods for truenorth and lifetimes' ``freq="W"``.

Ratios and the load average are printed at the end; ``test_backtest_truenorth_like_lifetimes``
times truenorth doing lifetimes' share only (no GGom/NBD, no Gamma-Gamma) on the largest
sample, the like-for-like ratio.
"""

from __future__ import annotations

import os
import sys
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import truenorth.clv as clv

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import to_pandas

#: sizes (overridable: TN_BACKTEST_CUSTOMERS, TN_BACKTEST_LIFETIMES)
N_CUSTOMERS = int(os.environ.get("TN_BACKTEST_CUSTOMERS", 1_000_000))
N_LIFETIMES = sorted(
    int(v) for v in os.environ.get("TN_BACKTEST_LIFETIMES", "20000,50000").split(",")
)
#: "day" (day periods) or "continuous" (hour periods: nearly one pattern per repeat buyer)
DATA = os.environ.get("TN_BACKTEST_DATA", "day")
if DATA not in ("day", "continuous"):
    raise ValueError(f"TN_BACKTEST_DATA: 'day' or 'continuous', got {DATA!r}")
PERIOD = "1h" if DATA == "continuous" else "1d"
#: lifetimes' period and how many of them make the unit (a week)
LT_FREQ, LT_MULT = ("h", 168) if DATA == "continuous" else ("W", 1)
BG = {"r": 0.75, "alpha": 10.0, "a": 0.8, "b": 6.0}
CAL_END = date(2024, 9, 30)
OBS_END = date(2024, 12, 31)
TIMES: dict[str, float] = {}


def make_log(n: int, seed: int = 7) -> pl.DataFrame:
    """``n`` customers' transactions with Gamma-Gamma amounts (p, q, v) = (6, 4, 15)."""
    log = clv.simulate_bg_nbd_transactions(n, **BG, seed=seed)
    rng = np.random.default_rng(seed)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    amount = rng.gamma(6.0, 1.0 / nu[log["customer"].to_numpy()])
    return log.with_columns(amount=pl.Series(amount))


@pytest.fixture(scope="module")
def logs():
    log = make_log(N_CUSTOMERS)
    return {"full": log} | {n: log.filter(pl.col("customer") < n) for n in N_LIFETIMES}


def _truenorth(log: pl.DataFrame, like_lifetimes: bool = False):
    """The default backtest (four models and Gamma-Gamma), or with ``like_lifetimes`` the
    work lifetimes does: BG/NBD, MBG/NBD and Pareto/NBD, no spend model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clv.backtest(
            log,
            customer="customer",
            time="time",
            amount=None if like_lifetimes else "amount",
            calibration_end=CAL_END,
            observation_end=OBS_END,
            period=PERIOD,
            unit="1w",
            models=("bg_nbd", "mbg_nbd", "pareto_nbd") if like_lifetimes else None,
        )


@pytest.mark.parametrize("size", ["full", *N_LIFETIMES])
def test_backtest_truenorth(benchmark, logs, size):
    benchmark.group = f"backtest_{size}"
    bt = benchmark.pedantic(lambda: _truenorth(logs[size]), rounds=1 if size == "full" else 3)
    assert bt.comparison.height == 4
    TIMES[f"truenorth/{size}"] = benchmark.stats.stats.median


def test_backtest_truenorth_like_lifetimes(benchmark, logs):
    n = N_LIFETIMES[-1]
    benchmark.group = f"backtest_{n}"
    bt = benchmark.pedantic(lambda: _truenorth(logs[n], like_lifetimes=True), rounds=3)
    assert bt.comparison.height == 3
    TIMES[f"truenorth3/{n}"] = benchmark.stats.stats.median


def _lifetimes_backtest(log: pl.DataFrame):
    import lifetimes
    from lifetimes.utils import calibration_and_holdout_data, expected_cumulative_transactions

    pdf = to_pandas(log.with_columns(pl.col("time").cast(pl.Datetime("us"))))
    # (lifetimes' calibration_and_holdout_data fails under current pandas without a
    # monetary column)
    s = calibration_and_holdout_data(
        pdf,
        "customer",
        "time",
        CAL_END,
        OBS_END,
        freq=LT_FREQ,
        freq_multiplier=LT_MULT,
        monetary_value_col="amount",
    )
    cal = pdf[pdf["time"] <= str(CAL_END)]
    t_weeks = (OBS_END - pdf["time"].min().date()).days // 7
    out = {}
    for name, cls in [
        ("bg_nbd", lifetimes.BetaGeoFitter),
        ("mbg_nbd", lifetimes.ModifiedBetaGeoFitter),
        ("pareto_nbd", lifetimes.ParetoNBDFitter),
    ]:
        f = cls(penalizer_coef=0.0).fit(s["frequency_cal"], s["recency_cal"], s["T_cal"])
        pred = f.conditional_expected_number_of_purchases_up_to_time(
            s["duration_holdout"], s["frequency_cal"], s["recency_cal"], s["T_cal"]
        )
        track = expected_cumulative_transactions(
            f, cal, "time", "customer", t_weeks * LT_MULT, freq=LT_FREQ, freq_multiplier=LT_MULT
        )
        out[name] = (pred, track)
    return out


@pytest.mark.parametrize("size", N_LIFETIMES)
def test_backtest_lifetimes(benchmark, logs, size):
    benchmark.group = f"backtest_{size}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = benchmark.pedantic(lambda: _lifetimes_backtest(logs[size]), rounds=1, iterations=1)
    assert set(out) == {"bg_nbd", "mbg_nbd", "pareto_nbd"}
    TIMES[f"lifetimes/{size}"] = benchmark.stats.stats.median


def teardown_module() -> None:
    import math

    print(f"\ndata: {DATA}; load average at the end: {os.getloadavg()}")
    for n in N_LIFETIMES:
        lt, ts = TIMES.get(f"lifetimes/{n}"), TIMES.get(f"truenorth/{n}")
        if lt and ts:
            print(
                f"backtest, {n} customers (both ran): lifetimes {lt:.1f}s / truenorth {ts:.3f}s "
                f"= {lt / ts:.0f}x (truenorth also fits GGom/NBD and Gamma-Gamma)"
            )
    n = N_LIFETIMES[-1]
    lt, t3 = TIMES.get(f"lifetimes/{n}"), TIMES.get(f"truenorth3/{n}")
    if lt and t3:
        print(
            f"backtest, {n} customers (both ran), lifetimes' three models, no spend: "
            f"lifetimes {lt:.1f}s / truenorth {t3:.3f}s = {lt / t3:.0f}x"
        )
    t1 = TIMES.get("truenorth/full")
    if len(N_LIFETIMES) > 1:
        n0 = N_LIFETIMES[-2]
        l0 = TIMES.get(f"lifetimes/{n0}")
        if lt and l0:
            k = math.log(lt / l0) / math.log(n / n0)
            print(f"lifetimes scaling {n0} -> {n} customers: time ~ n^{k:.2f} (1 = linear)")
    if lt and t1:
        scaled = lt * N_CUSTOMERS / n
        print(
            f"backtest, {N_CUSTOMERS} customers: truenorth {t1:.2f}s (ran); lifetimes "
            f"EXTRAPOLATED linearly from {n} customers (not run): ~{scaled:.0f}s "
            f"= ~{scaled / t1:.0f}x"
        )
