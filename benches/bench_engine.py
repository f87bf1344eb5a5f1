"""Engine overhead: a pack of built-in kinds on a 1,000-customer frame vs hand-written Polars.

Run: ``pytest benches/bench_engine.py --benchmark-only`` (pytest-benchmark groups the two), or
``python benches/bench_engine.py`` for the ratio alone.

The pack: a decision table assigning tiers and actions (3 rows + default), then two condition
rules producing findings with evidence. The hand-written version computes the same tiers table
and the same findings rows with plain Polars, without validation, planning, Finding records or
the findings frame.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import polars as pl
import pytest

import truenorth

N = 1_000

PACK = {
    "truenorth": 1,
    "pack": "bench",
    "params": {"high_value": 300, "lapse_risk": 0.3},
    "rules": [
        {
            "id": "tiers",
            "kind": "decision_table",
            "on": "customers",
            "with": {
                "rows": [
                    {"when": "clv >= 1000", "tier": "platinum", "next_action": "concierge"},
                    {"when": "clv >= ${high_value}", "tier": "gold", "next_action": "upsell"},
                    {"when": "orders >= 10", "tier": "silver", "next_action": "loyalty"},
                ],
                "default": {"tier": "bronze", "next_action": "nurture"},
            },
        },
        {
            "id": "lapsing",
            "kind": "condition",
            "on": "customers",
            "when": "p_alive < ${lapse_risk} AND clv > ${high_value}",
            "action": "win-back",
            "message": "{customer} ({tier}): P(alive) {p_alive:.2f}",
            "with": {"subject": "customer", "value": "clv"},
        },
        {
            "id": "lost-platinum",
            "kind": "condition",
            "on": "customers",
            "when": "tier = 'platinum' AND p_alive < 0.1",
            "severity": "fail",
            "with": {"subject": "customer", "value": "p_alive"},
        },
    ],
}


def customers(n: int = N, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "customer": [f"C{i:05d}" for i in range(n)],
            "clv": rng.lognormal(5, 1, n).round(2),
            "p_alive": rng.random(n).round(3),
            "orders": rng.integers(1, 30, n),
        }
    )


def hand_written(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    tier = (
        pl.when(pl.col("clv") >= 1000)
        .then(pl.lit("platinum"))
        .when(pl.col("clv") >= 300)
        .then(pl.lit("gold"))
        .when(pl.col("orders") >= 10)
        .then(pl.lit("silver"))
        .otherwise(pl.lit("bronze"))
    )
    action = (
        pl.when(pl.col("clv") >= 1000)
        .then(pl.lit("concierge"))
        .when(pl.col("clv") >= 300)
        .then(pl.lit("upsell"))
        .when(pl.col("orders") >= 10)
        .then(pl.lit("loyalty"))
        .otherwise(pl.lit("nurture"))
    )
    table = df.with_columns(tier=tier, next_action=action)
    lapsing = table.filter((pl.col("p_alive") < 0.3) & (pl.col("clv") > 300)).select(
        rule_id=pl.lit("lapsing"),
        subject=pl.col("customer"),
        severity=pl.lit("warn"),
        message=pl.format("{} ({}): P(alive) {}", "customer", "tier", pl.col("p_alive").round(2)),
        value=pl.col("clv"),
    )
    lost = table.filter((pl.col("tier") == "platinum") & (pl.col("p_alive") < 0.1)).select(
        rule_id=pl.lit("lost-platinum"),
        subject=pl.col("customer"),
        severity=pl.lit("fail"),
        message=pl.format("{} meets the condition", "customer"),
        value=pl.col("p_alive"),
    )
    return table, pl.concat([lapsing, lost])


@pytest.fixture(scope="module")
def engine():
    return truenorth.Engine.load(PACK)


@pytest.fixture(scope="module")
def frame():
    return customers()


def test_same_answer(engine, frame):
    result = engine.run(data={"customers": frame})
    table, findings = hand_written(frame)
    assert (
        result.tables["customers"]
        .select("customer", "tier", "next_action")
        .equals(table.select("customer", "tier", "next_action"))
    )
    assert sorted(result.findings["subject"].to_list()) == sorted(findings["subject"].to_list())


@pytest.mark.benchmark(group="engine-1k-customers")
def test_engine_run(benchmark, engine, frame):
    result = benchmark(engine.run, data={"customers": frame})
    assert result.ok


@pytest.mark.benchmark(group="engine-1k-customers")
def test_hand_written_polars(benchmark, frame):
    table, _ = benchmark(hand_written, frame)
    assert table.height == N


def measure(repeat: int = 30) -> dict[str, float]:
    """Median seconds of the engine run and of the hand-written version, and their ratio."""
    engine = truenorth.Engine.load(PACK)
    df = customers()
    for _ in range(3):  # warm up
        engine.run(data={"customers": df})
        hand_written(df)
    t_engine, t_hand = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        engine.run(data={"customers": df})
        t_engine.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hand_written(df)
        t_hand.append(time.perf_counter() - t0)
    e, h = statistics.median(t_engine), statistics.median(t_hand)
    return {
        "engine_ms": e * 1000,
        "polars_ms": h * 1000,
        "ratio": e / h,
        "overhead_ms": (e - h) * 1000,
    }


if __name__ == "__main__":
    m = measure()
    print(
        f"1,000 customers, 3 rules: engine {m['engine_ms']:.2f} ms, hand-written Polars "
        f"{m['polars_ms']:.2f} ms, ratio {m['ratio']:.2f}x, overhead {m['overhead_ms']:.2f} ms"
    )
