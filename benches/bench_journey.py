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

from truenorth.builtins.journey import attribution as attr
from truenorth.builtins.journey import events as ev
from truenorth.builtins.journey import funnel as fn
from truenorth.builtins.journey import markov, views

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


# --- funnel with a breakdown, and higher-order Markov attribution ---------------------------
#
# Run: ``pytest benches/bench_journey.py --benchmark-only -k "breakdown or markov"``.


@pytest.fixture(scope="module")
def events_with_channel(events) -> pl.DataFrame:
    """The 10M events with a channel on every event (6 values, from a hash of the row)."""
    channels = dict(enumerate(["ads", "email", "seo", "social", "direct", "referral"]))
    return events.with_columns(
        channel=(pl.col("row").hash(seed=5) % 6).replace_strict(channels, return_dtype=pl.String)
    )


def truenorth_breakdown(events: pl.DataFrame, steps: list[str]) -> pl.DataFrame:
    reached = fn.reached_events(events, steps)
    return views.breakdown(reached, views.unit_values(events, "channel"), steps)


def polars_breakdown(events: pl.DataFrame, steps: list[str]) -> dict[tuple[str, int], int]:
    """The straightforward Polars funnel per first channel: each unit's first channel, the
    textbook self-join chain per step, then counts per (channel, step)."""
    lazy = events.lazy()
    first = lazy.sort("unit", "ts", "row").group_by("unit").agg(pl.col("channel").first())
    level = lazy.filter(pl.col("step") == steps[0]).group_by("unit").agg(pl.col("ts").min())
    level = level.select("unit", pl.col("ts").alias("t_prev"))
    parts = [level.select("unit", pl.lit(0).alias("k"))]
    for k, step in enumerate(steps[1:], start=1):
        nxt = lazy.filter(pl.col("step") == step).select("unit", "ts")
        level = (
            level.join(nxt, on="unit")
            .filter(pl.col("ts") > pl.col("t_prev"))
            .group_by("unit")
            .agg(pl.col("ts").min().alias("t_prev"))
        )
        parts.append(level.select("unit", pl.lit(k).alias("k")))
    counts = (
        pl.concat(parts).join(first, on="unit").group_by("channel", "k").agg(pl.len()).collect()
    )
    return {(c, k): n for c, k, n in counts.iter_rows()}


@pytest.mark.benchmark(group="journey-breakdown-10M")
def test_truenorth_funnel_breakdown(benchmark, events_with_channel):
    out = benchmark.pedantic(
        truenorth_breakdown, args=(events_with_channel, STEPS), rounds=3, iterations=1
    )
    want = polars_breakdown(events_with_channel, STEPS)
    got = {
        (b, i - 1): n
        for b, i, n in out.select("breakdown", "step_index", "reached").iter_rows()
        if n
    }
    assert got == want


@pytest.mark.benchmark(group="journey-breakdown-10M")
def test_polars_breakdown_self_join(benchmark, events_with_channel):
    benchmark.pedantic(polars_breakdown, args=(events_with_channel, STEPS), rounds=3)


N_PATHS = 1_000_000
ORDER = 3


@pytest.fixture(scope="module")
def path_frame() -> pl.DataFrame:
    """10⁶ journeys of 1-6 touches over 12 channels, 30% converting, as a paths frame."""
    idx = pl.int_range(N_PATHS, eager=True)
    length = (idx.hash(seed=5) % 6 + 1).cast(pl.Int64)
    long = (
        pl.DataFrame({"pid": idx, "len": length})
        .with_columns(pos=pl.int_ranges(0, pl.col("len")))
        .explode("pos")
        .with_columns(ch="c" + (pl.struct("pid", "pos").hash(seed=9) % 12).cast(pl.String))
    )
    journeys = long.group_by("pid").agg(pl.col("ch").sort_by("pos").alias("path"))
    conv = (journeys["pid"].hash(seed=3) % 10 < 3).cast(pl.Float64)
    return (
        journeys.with_columns(conversions=conv, nulls=1 - conv, value=10 * conv)
        .group_by("path")
        .agg(pl.col("conversions", "nulls", "value").sum())
    )


def polars_markov(frame: pl.DataFrame, order: int) -> dict[str, float]:
    """The straightforward Polars removal effects: k-gram states per path, transition
    probabilities, then per channel a Jacobi solve of x = r + Q x as joins and group-bys."""
    long = (
        frame.with_row_index("pid")
        .with_columns(pos=pl.int_ranges(0, pl.col("path").list.len()))
        .explode("path", "pos")
    )
    window = [pl.col("path").shift(order - 1 - j).over("pid") for j in range(order)]
    st = (
        long.with_columns(state=pl.concat_str(window, separator=" > ", ignore_nulls=True))
        .filter((pl.col("pos") >= order - 1) | (pl.col("pos") == pl.col("pos").max().over("pid")))
        .filter((pl.col("state") != pl.col("state").shift(1).over("pid")).fill_null(True))
    )
    n = pl.col("conversions") + pl.col("nulls")
    moves = st.select(
        pl.col("state").shift(1).over("pid").fill_null("(start)").alias("src"),
        pl.col("state").alias("dst"),
        n.alias("w"),
    )
    last = st.group_by("pid").agg(pl.col("state").last(), pl.col("conversions", "nulls").first())
    ends = pl.concat(
        [
            last.select(pl.col("state").alias("src"), pl.lit("(conversion)").alias("dst"),
                        pl.col("conversions").alias("w")),
            last.select(pl.col("state").alias("src"), pl.lit("(null)").alias("dst"),
                        pl.col("nulls").alias("w")),
        ]
    )  # fmt: skip
    edges = (
        pl.concat([moves, ends])
        .filter(pl.col("w") > 0)
        .group_by("src", "dst")
        .agg(pl.col("w").sum())
        .with_columns(p=pl.col("w") / pl.col("w").sum().over("src"))
    )
    r = edges.filter(pl.col("dst") == "(conversion)").select("src", pl.col("p").alias("r"))
    q = edges.filter(~pl.col("dst").is_in(["(conversion)", "(null)"]))

    def p_conv(removed: str | None) -> float:
        qq, rr = q, r
        if removed is not None:
            dead = pl.col("src").str.split(" > ").list.contains(removed)
            qq = q.filter(~dead & ~pl.col("dst").str.split(" > ").list.contains(removed))
            rr = r.filter(~dead)
        x = rr.rename({"src": "s", "r": "x"})
        for _ in range(10_000):
            new = (
                rr.join(
                    qq.join(x, left_on="dst", right_on="s").group_by("src")
                    .agg((pl.col("p") * pl.col("x")).sum().alias("y")),
                    on="src", how="full", coalesce=True,
                )
                .select(pl.col("src").alias("s"),
                        (pl.col("r").fill_null(0) + pl.col("y").fill_null(0)).alias("x"))
            )  # fmt: skip
            diff = (
                new.join(x, on="s", how="left")
                .select((pl.col("x") - pl.col("x_right").fill_null(0)).abs().max())
                .item()
            )
            x = new
            if diff < 1e-12:
                break
        return float(x.filter(pl.col("s") == "(start)")["x"].sum())

    base = p_conv(None)
    channels = frame["path"].explode().unique().sort().to_list()
    return {c: 1 - p_conv(c) / base for c in channels}


@pytest.mark.benchmark(group="journey-markov-order3-1M")
def test_truenorth_markov_order3(benchmark, path_frame):
    out = benchmark.pedantic(
        attr.attribution_of_paths, args=(path_frame,), kwargs={"order": ORDER}, rounds=3
    )
    table = out[0]
    want = polars_markov(path_frame, ORDER)
    got = dict(table.select("touchpoint", "removal_effect").iter_rows())
    assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.benchmark(group="journey-markov-order3-1M")
def test_polars_markov_order3_jacobi(benchmark, path_frame):
    benchmark.pedantic(polars_markov, args=(path_frame, ORDER), rounds=1)


@pytest.fixture(scope="module")
def wide_path_frame() -> pl.DataFrame:
    """10⁶ journeys of 1-6 touches over 20 channels: at order 4, ~10⁵ Markov states."""
    idx = pl.int_range(N_PATHS, eager=True)
    long = (
        pl.DataFrame({"pid": idx, "len": (idx.hash(seed=5) % 6 + 1).cast(pl.Int64)})
        .with_columns(pos=pl.int_ranges(0, pl.col("len")))
        .explode("pos")
        .with_columns(ch="c" + (pl.struct("pid", "pos").hash(seed=9) % 20).cast(pl.String))
    )
    journeys = long.group_by("pid").agg(pl.col("ch").sort_by("pos").alias("path"))
    conv = (journeys["pid"].hash(seed=3) % 10 < 3).cast(pl.Float64)
    return (
        journeys.with_columns(conversions=conv, nulls=1 - conv, value=10 * conv)
        .group_by("path")
        .agg(pl.col("conversions", "nulls", "value").sum())
    )


@pytest.mark.benchmark(group="journey-markov-1e5-states")
def test_truenorth_markov_order4_sparse_solve(benchmark, wide_path_frame):
    """The sparse solve at ~10⁵ states (no peer: the per-channel Polars Jacobi baseline
    above would take hours here)."""
    edges = markov.chain(wide_path_frame, 4)
    states = edges.filter(pl.col("from") != markov.START)["from"].n_unique()
    assert states > 90_000
    channels = sorted(wide_path_frame["path"].explode().unique().to_list())
    base, without = benchmark.pedantic(
        markov.solve_all, args=(edges, channels), rounds=1, iterations=1
    )
    assert 0 < base < 1 and all(0 <= w <= base + 1e-12 for w in without.values())
