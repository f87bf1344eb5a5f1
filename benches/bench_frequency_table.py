"""The frequency table of a backtest on (nearly) continuous time: each model's new-customer
PMF P(X(T) = n), n = 0..7, at every distinct T of the calibration summary (2,159 hourly
values), weighted by the customers per T.

Run: ``pytest benches/bench_frequency_table.py --benchmark-only -s
--benchmark-timer=time.process_time``. Data: the seeded BG/NBD transaction log of
``bench_backtest.py`` (``TN_FREQ_CUSTOMERS`` customers, default 20000) with hour periods;
the four default models are fitted once by ``clv.backtest`` and only the table is timed.

Peer: lifetimes has no frequency table; ``test_pareto_pmf_lifetimes`` times the same Pareto/NBD
part (P(X(T) = n), n < 7, at every distinct T, weighted) with lifetimes' closed-form PMF (its
conditional PMF of a customer with no history and age ~0), beside truenorth's table of that
model alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import polars as pl
import pytest

import truenorth.clv as clv
from truenorth.clv.diagnostics import frequency_table

sys.path.insert(0, str(Path(__file__).parent))
from bench_backtest import CAL_END, OBS_END, make_log

N_CUSTOMERS = int(os.environ.get("TN_FREQ_CUSTOMERS", 20_000))


@pytest.fixture(scope="module")
def fitted():
    bt = clv.backtest(
        make_log(N_CUSTOMERS),
        customer="customer",
        time="time",
        calibration_end=CAL_END,
        observation_end=OBS_END,
        period="1h",
        unit="1w",
    )
    return bt


def _pareto_inputs(fitted):
    by_t = fitted.summary.group_by("T").agg(n=pl.len())
    return fitted.models["pareto_nbd"], by_t["T"].to_list(), by_t["n"].to_list()


def test_pareto_pmf_truenorth(benchmark, fitted):
    benchmark.group = f"pareto_pmf_{N_CUSTOMERS}"
    m, _, _ = _pareto_inputs(fitted)
    benchmark.pedantic(
        lambda: frequency_table({"pareto_nbd": m}, fitted.summary, max_count=7), rounds=3
    )


def test_pareto_pmf_lifetimes(benchmark, fitted):
    import warnings

    benchmark.group = f"pareto_pmf_{N_CUSTOMERS}"
    m, ts, counts = _pareto_inputs(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import pandas as pd

        f = lifetimes.ParetoNBDFitter()
        f.params_ = pd.Series(m.params)

        def table():
            pmf = f.conditional_probability_of_n_purchases_up_to_time
            return [
                sum(c * float(pmf(n, t, 0, 0, 1e-12)) for t, c in zip(ts, counts, strict=True))
                for n in range(7)
            ]

        peer = benchmark.pedantic(table, rounds=1)
    ours = frequency_table({"pareto_nbd": m}, fitted.summary, max_count=7)["expected"]
    assert ours.to_list()[:7] == pytest.approx(peer, rel=1e-6)


def test_frequency_table_continuous(benchmark, fitted):
    benchmark.group = f"frequency_table_{N_CUSTOMERS}"
    models = {k: m for k, m in fitted.models.items() if k != "gamma_gamma"}
    table = benchmark.pedantic(
        lambda: frequency_table(models, fitted.summary, max_count=7), rounds=3
    )
    print(f"\n{table.select('model', 'bin', 'customers', 'expected')}")
    print(f"distinct T: {fitted.summary['T'].n_unique()}, models: {list(models)}")
    assert table.height == 8 * len(models)
