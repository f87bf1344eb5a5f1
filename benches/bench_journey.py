"""The journey funnel on 10M synthetic events, against a naive self-join baseline.

Run: ``pytest benches/bench_journey.py --benchmark-only`` (``pytest`` alone runs ``tests/``).

Data: 1,000,000 customers x 10 events, 8 event names, strictly increasing timestamps within a
customer (so the baseline's timestamp-only ordering is exact), rows shuffled. Funnel of 4 steps.

Baseline: the textbook SQL funnel — join every step-k event to every step-(k-1) match of the
same customer that precedes it (a many-to-many self-join chain), then count distinct customers
per step. Without a window it reaches the same counts (greedy first-entry matching is optimal),
which the benchmark asserts.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from truenorth.builtins.journey import events as ev
from truenorth.builtins.journey import funnel as fn

N_CUSTOMERS = 1_000_000
PER_CUSTOMER = 10
NAMES = ["home", "search", "view", "cart", "checkout", "pay", "support", "review"]
STEPS = ["view", "cart", "checkout", "pay"]


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    n = N_CUSTOMERS * PER_CUSTOMER
    idx = pl.int_range(n, eager=True)
    h = idx.hash(seed=11)
    df = pl.DataFrame(
        {
            "customer": idx // PER_CUSTOMER,
            "gap": (h % 3600 + 1).cast(pl.Int64),
            "event": pl.Series([NAMES[i] for i in range(len(NAMES))])
            .gather((h // 3600) % len(NAMES))
            .cast(pl.String),
        }
    ).with_columns(
        timestamp=pl.lit(datetime(2024, 1, 1))
        + pl.duration(seconds=pl.col("gap").cum_sum().over("customer"))
    )
    shuffled = df.select("customer", "timestamp", "event").sample(
        fraction=1.0, shuffle=True, seed=3
    )
    return ev.prepare(shuffled)


def naive_funnel(events: pl.DataFrame, steps: list[str]) -> list[int]:
    lazy = events.lazy()
    level = lazy.filter(pl.col("step") == steps[0]).select("unit", pl.col("ts").alias("t_prev"))
    counts = [level.select(pl.col("unit").n_unique()).collect().item()]
    for step in steps[1:]:
        nxt = lazy.filter(pl.col("step") == step).select("unit", "ts")
        level = (
            level.join(nxt, on="unit")
            .filter(pl.col("ts") > pl.col("t_prev"))
            .select("unit", pl.col("ts").alias("t_prev"))
            .unique()
        )
        counts.append(level.select(pl.col("unit").n_unique()).collect().item())
    return counts


@pytest.mark.benchmark(group="journey-funnel-10M")
@pytest.mark.parametrize("mode", ["sequential", "strict", "any"])
def test_funnel(benchmark, events, mode):
    out = benchmark.pedantic(fn.funnel, args=(events, STEPS), kwargs={"mode": mode}, rounds=3)
    assert out["reached"][0] > 0


@pytest.mark.benchmark(group="journey-funnel-10M")
def test_naive_self_join_baseline(benchmark, events):
    counts = benchmark.pedantic(naive_funnel, args=(events, STEPS), rounds=3)
    assert counts == fn.funnel(events, STEPS)["reached"].to_list()
