"""Engine overhead: a pack of built-in kinds on a 1,000-customer frame vs hand-written Polars.

Run: ``pytest benches/bench_engine.py --benchmark-only`` (pytest-benchmark groups the two), or
``python benches/bench_engine.py`` for the ratio alone.

Two packs. The first: a decision table assigning tiers and actions (3 rows + default), then two condition
rules producing findings with evidence. The hand-written version computes the same tiers table
and the same findings rows with plain Polars, without validation, planning, Finding records or
the findings frame. The second: the ``clv`` kind (summary, BG/NBD, Gamma-Gamma, 12-month
CLV), RFM ``segment`` and a condition on their output, on the first 1,000 customers of the CDNOW sample, against
the same calls to ``truenorth.clv`` and ``truenorth.segment`` made by hand.
"""

from __future__ import annotations

import statistics
import time
from datetime import date
from pathlib import Path

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


# ---------------------------------------------------------------- with the numeric core
ROOT = Path(__file__).resolve().parents[1]
CLV_OPTIONS = {"unit": "1w", "observation_end": "1997-09-30", "horizon": "12 months"}
PACK_CLV = {
    "truenorth": 1,
    "pack": "bench-clv",
    "rules": [
        {"id": "value", "kind": "clv", "with": CLV_OPTIONS},
        {"id": "segments", "kind": "segment", "with": {"method": "rfm", "bins": 5}},
        {
            "id": "lapsing",
            "kind": "condition",
            "on": "customers",
            "when": "p_alive < 0.3 AND clv > 50",
            "with": {"subject": "customer", "value": "clv"},
        },
    ],
}


def cdnow_transactions(n_customers: int = N) -> pl.DataFrame:
    """Calibration-period transactions of the first ``n_customers`` of the CDNOW sample."""
    rows = [
        line.split()
        for line in (ROOT / "tests" / "data" / "CDNOW_sample.txt").read_text().splitlines()
        if line.strip()
    ]
    df = pl.DataFrame(
        {
            "customer": [int(r[0]) for r in rows],
            "time": [r[2] for r in rows],
            "amount": [float(r[4]) for r in rows],
        }
    ).with_columns(pl.col("time").str.strptime(pl.Date, "%Y%m%d"))
    keep = df["customer"].unique(maintain_order=True).head(n_customers)
    return df.filter(
        pl.col("customer").is_in(keep.implode()) & (pl.col("time") <= date(1997, 9, 30))
    )


def hand_written_clv(tx: pl.DataFrame) -> pl.DataFrame:
    from truenorth import clv

    s = clv.summarize(
        tx,
        customer="customer",
        time="time",
        amount="amount",
        unit="1w",
        observation_end="1997-09-30",
    )
    bg = clv.BetaGeo(time_unit="1w").fit(s)
    gg = clv.GammaGamma(time_unit="1w").fit(s)
    out = s.with_columns(
        p_alive=bg.p_alive(s),
        expected_purchases=bg.expected_purchases(s, 12 * 30.4375 / 7),
        expected_spend=gg.expected_spend(s),
        clv=clv.lifetime_value(bg, gg, s, horizon=12, horizon_unit="month", discount_rate=0.01),
    )
    from truenorth import segment

    scored = segment.rfm(out, bins=5)
    segment.aggregate(scored, by="segment")
    return scored.filter((pl.col("p_alive") < 0.3) & (pl.col("clv") > 50))


@pytest.fixture(scope="module")
def tx():
    return cdnow_transactions()


@pytest.mark.benchmark(group="engine-clv-1k-customers")
def test_engine_clv_run(benchmark, tx):
    engine = truenorth.Engine.load(PACK_CLV)
    result = benchmark(engine.run, data={"transactions": tx})
    assert result.ok and result.tables["customers"].height == N


@pytest.mark.benchmark(group="engine-clv-1k-customers")
def test_hand_written_clv(benchmark, tx):
    assert benchmark(hand_written_clv, tx).height >= 0


def measure_clv(repeat: int = 15) -> dict[str, float]:
    engine = truenorth.Engine.load(PACK_CLV)
    tx = cdnow_transactions()
    return _compare(
        lambda: engine.run(data={"transactions": tx}), lambda: hand_written_clv(tx), repeat
    )


def measure_score_one(repeat: int = 200) -> float:
    """Median ms to score one customer's transactions with a pack and a loaded (fitted) model."""
    from truenorth import clv

    tx = cdnow_transactions()
    s = clv.summarize(
        tx,
        customer="customer",
        time="time",
        amount="amount",
        unit="1w",
        observation_end="1997-09-30",
    )
    model = clv.load(clv.BetaGeo(time_unit="1w").fit(s).to_json())
    spend = clv.load(clv.GammaGamma(time_unit="1w").fit(s).to_json())
    engine = truenorth.Engine.load(
        {
            "truenorth": 1,
            "pack": "svc",
            "rules": [{"id": "value", "kind": "clv", "with": CLV_OPTIONS}],
        }
    )
    one = tx.filter(pl.col("customer") == tx["customer"][0])
    res = {"value": {"purchase": model, "spend": spend}}
    for _ in range(5):
        engine.run(data={"transactions": one}, resources=res)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        engine.run(data={"transactions": one}, resources=res)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _compare(a, b, repeat: int) -> dict[str, float]:
    for _ in range(2):
        a()
        b()
    ta, tb = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t0)
    e, h = statistics.median(ta), statistics.median(tb)
    return {
        "engine_ms": e * 1000,
        "polars_ms": h * 1000,
        "ratio": e / h,
        "overhead_ms": (e - h) * 1000,
    }


if __name__ == "__main__":
    for label, m in (
        ("condition + decision_table", measure()),
        ("clv + segment + condition", measure_clv()),
    ):
        print(
            f"1,000 customers, {label}: engine {m['engine_ms']:.2f} ms, hand-written "
            f"{m['polars_ms']:.2f} ms, ratio {m['ratio']:.2f}x, overhead {m['overhead_ms']:.2f} ms"
        )
    print(f"score one customer with a loaded model through a pack: {measure_score_one():.2f} ms")
