"""truenorth inside a service: load a pack once, run it many times on small frames.

``rules/engine-demo.yaml`` (a decision table, then two conditions with findings) through
``engine.run(data=...)`` on 1,000-row and 100-row frames, side by side with a hand-written Polars
version of the same logic that produces the same tables and the same findings columns (checked
equal before timing); throughput with 1, 2, 4 and 8 threads for both (one engine, many runs);
p50/p99 latency; and the start-up of ``import truenorth`` and ``truenorth --help`` against
``import polars`` (fresh interpreters, medians).

Run: ``pytest benches/bench_service.py --benchmark-only`` (groups and ratios), or
``python benches/bench_service.py`` for one table of medians, ratios and latencies.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import truenorth

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "rules" / "engine-demo.yaml"
SIZES = (1_000, 100)
THREADS = (1, 2, 4, 8)
RUNS_PER_BATCH = 64  # runs per throughput measurement, shared out over the threads


def customers(n: int, seed: int = 1) -> pl.DataFrame:
    """The pack's ``customers`` input with its source column names (``cust_id`` ...)."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "cust_id": [f"C{i:05d}" for i in range(n)],
            "clv": rng.lognormal(5.5, 1, n).round(2),
            "p_alive": rng.random(n).round(3),
            "orders": rng.integers(1, 30, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    )


def _fixed(spec: str) -> Callable[[pl.Series], pl.Series]:
    # Python's format() is the reference for `{x:.2f}`: Polars' round() + cast differ on ties
    # and drop trailing zeros, so the hand-written version formats these columns the same way
    return lambda s: pl.Series([format(v, spec) for v in s.to_list()], dtype=pl.String)


def hand_written(df: pl.DataFrame, where: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The pack's logic in plain Polars; ``where`` holds each rule's location (file:line:col)."""
    conds = [pl.col("clv") >= 1000, pl.col("clv") >= 300, pl.col("orders") >= 10]
    tiers, actions = ["platinum", "gold", "silver"], ["concierge", "upsell", "loyalty-points"]

    def first(values: list[Any], default: Any) -> pl.Expr:
        e: Any = pl
        for c, v in zip(conds, values, strict=True):
            e = e.when(c).then(pl.lit(v))
        return e.otherwise(pl.lit(default))

    table = (
        df.lazy()
        .rename({"cust_id": "customer"})
        .with_columns(
            tier=first(tiers, "bronze"),
            next_action=first(actions, "nurture"),
            tiers_row=first([1, 2, 3], None).cast(pl.Int64),
        )
    )

    def findings(
        lf: pl.LazyFrame, rule: str, when: str, sev: str, action: str, msg: pl.Expr, value: str
    ) -> pl.LazyFrame:
        evidence = ["p_alive", "clv", "tier"] if value == "clv" else ["tier", "p_alive"]
        return lf.select(
            rule_id=pl.lit(rule),
            kind=pl.lit("condition"),
            severity=pl.lit(sev),
            subject=pl.col("customer"),
            message=msg,
            value=pl.col(value).cast(pl.Float64),
            threshold=pl.lit(when),
            evidence=pl.struct(evidence).struct.json_encode(),
            action=pl.lit(action),
            location=pl.lit(where[rule]),
        )

    lapsing = findings(
        table.filter((pl.col("p_alive") < 0.3) & (pl.col("clv") > 300)),
        "lapsing-high-value",
        "p_alive < 0.3 AND clv > 300",
        "warn",
        "win-back-offer",
        pl.format(
            "{} ({}): P(alive) {}, CLV {}",
            "customer",
            "tier",
            pl.col("p_alive").map_batches(_fixed(".2f"), return_dtype=pl.String),
            pl.col("clv").map_batches(_fixed(".0f"), return_dtype=pl.String),
        ),
        "clv",
    )
    lost = findings(
        table.filter((pl.col("tier") == "platinum") & (pl.col("p_alive") < 0.1)),
        "lost-platinum",
        "tier = 'platinum' AND p_alive < 0.1",
        "fail",
        "executive-call",
        pl.format("{} meets 'tier = 'platinum' AND p_alive < 0.1'", "customer"),
        "p_alive",
    )
    out, a, b = pl.collect_all([table, lapsing, lost])
    return out, pl.concat([a, b])


def load() -> tuple[truenorth.Engine, dict[str, str]]:
    engine = truenorth.Engine.load(PACK)
    return engine, {r.id: str(r.rule.location) for r in engine.rules}


def check_same(engine: truenorth.Engine, where: dict[str, str], df: pl.DataFrame) -> None:
    """The engine and the hand-written version agree exactly (tables and findings)."""
    result = engine.run(data={"customers": df})
    table, findings = hand_written(df, where)
    assert result.ok
    assert result.tables["customers"].equals(table), "tables differ"
    assert findings.height > 0
    assert result.findings.equals(findings), "findings differ"


# ------------------------------------------------------------------------------ pytest-benchmark
@pytest.fixture(scope="module")
def loaded() -> tuple[truenorth.Engine, dict[str, str]]:
    return load()


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n}rows")
def sized(request, loaded) -> tuple[int, pl.DataFrame]:
    engine, where = loaded
    df = customers(request.param)
    check_same(engine, where, df)
    return request.param, df


def _runner(which: str, loaded, df: pl.DataFrame) -> Callable[[], Any]:
    engine, where = loaded
    if which == "truenorth":
        return lambda: engine.run(data={"customers": df})
    return lambda: hand_written(df, where)


@pytest.mark.parametrize("which", ["truenorth", "polars:hand_written"])
def test_run(benchmark, loaded, sized, which):
    n, df = sized
    benchmark.group = f"service-run-{n}rows"
    benchmark(_runner(which, loaded, df))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("which", ["truenorth", "polars:hand_written"])
def test_threads(benchmark, loaded, which, threads):
    """``RUNS_PER_BATCH`` runs on 1,000 rows shared over ``threads`` threads (runs/s in extra_info)."""
    df = customers(1_000)
    run = _runner(which, loaded, df)
    benchmark.group = f"service-threads-{threads}"
    with ThreadPoolExecutor(threads) as pool:

        def batch() -> None:
            list(pool.map(lambda _: run(), range(RUNS_PER_BATCH)))

        seconds = benchmark.pedantic(batch, rounds=5, warmup_rounds=1)
    del seconds
    benchmark.extra_info["runs_per_s"] = round(RUNS_PER_BATCH / benchmark.stats.stats.median)


STARTUP = {
    "polars:import": ["-c", "import polars"],
    "truenorth:import": ["-c", "import truenorth"],
    "truenorth:import-Engine": ["-c", "from truenorth import Engine"],
    "truenorth:--help": [
        "-c",
        "import sys; from truenorth.cli import main; sys.argv[1:]=['--help']; main()",
    ],
}


@pytest.mark.parametrize("which", list(STARTUP))
def test_startup(benchmark, which):
    benchmark.group = "service-startup"
    argv = [sys.executable, *STARTUP[which]]
    benchmark.pedantic(
        lambda: subprocess.run(argv, check=True, capture_output=True), rounds=7, warmup_rounds=1
    )


# ------------------------------------------------------------------------------ script
def _pct(times: list[float], q: float) -> float:
    s = sorted(times)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def runs_per_second(fn: Callable[[], Any], threads: int, runs: int = 200) -> float:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: fn(), range(threads * 2)))  # warm the threads
        t0 = time.perf_counter()
        list(pool.map(lambda _: fn(), range(runs)))
        return runs / (time.perf_counter() - t0)


def startup_ms(argv: list[str], repeat: int = 9) -> tuple[float, float]:
    """Median wall and CPU milliseconds (user + system of the child) of a fresh interpreter."""
    subprocess.run([sys.executable, *argv], check=True, capture_output=True)
    wall, cpu = [], []
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *argv], check=True, capture_output=True)
        wall.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main(repeat: int = 300) -> None:
    engine, where = load()
    for n in SIZES:
        df = customers(n)
        check_same(engine, where, df)
        tn, hw = _runner("truenorth", (engine, where), df), _runner("polars", (engine, where), df)
        for _ in range(20):
            tn(), hw()
        # interleaved so that load changes hit both alike; wall time for the latencies, CPU
        # time of the process (every thread) for the ratio: it does not count the time other
        # processes of a busy machine hold the cores
        t_tn, t_hw, c_tn, c_hw = [], [], [], []
        for _ in range(repeat):
            for fn, wall, cpu in ((tn, t_tn, c_tn), (hw, t_hw, c_hw)):
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        a, b = statistics.median(t_tn) * 1000, statistics.median(t_hw) * 1000
        ca, cb = statistics.median(c_tn) * 1000, statistics.median(c_hw) * 1000
        print(
            f"{n:>5} rows: engine.run p50 {a:.2f} ms p99 {_pct(t_tn, 0.99):.2f} ms | "
            f"hand-written p50 {b:.2f} ms p99 {_pct(t_hw, 0.99):.2f} ms | wall ratio {a / b:.2f}x"
        )
        print(
            f"{'':>5}       CPU time: engine.run {ca:.2f} ms, hand-written {cb:.2f} ms, "
            f"ratio {ca / cb:.2f}x, fixed cost {ca - cb:.2f} ms"
        )
    df = customers(1_000)
    tn, hw = _runner("truenorth", (engine, where), df), _runner("polars", (engine, where), df)
    row_tn, row_hw = [], []
    for k in THREADS:
        row_tn.append(runs_per_second(tn, k))
        row_hw.append(runs_per_second(hw, k))
    print("threads          " + " ".join(f"{k:>7}" for k in THREADS) + "  scaling 1->best")
    for label, row in (("engine.run", row_tn), ("hand-written", row_hw)):
        print(
            f"{label:16s} "
            + " ".join(f"{r:7.0f}" for r in row)
            + f"  {max(row) / row[0]:.2f}x  (runs/s, 1,000 rows)"
        )
    base_wall, base_cpu = startup_ms(STARTUP["polars:import"])
    for name, argv in STARTUP.items():
        wall, cpu = startup_ms(argv)
        print(
            f"start-up {name:26s} wall {wall:5.0f} ms ({wall - base_wall:+4.0f} vs import polars), "
            f"CPU {cpu:5.0f} ms ({cpu - base_cpu:+4.0f})"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
