"""The native absorbing-chain solve behind ``markov.solve_all`` against two references: an exact
dense solve (Gauss-Jordan on I - Q, any order) and the Polars Jacobi iteration it replaced."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth import _core
from truenorth.builtins.journey import attribution as attr
from truenorth.builtins.journey import markov, pathdata
from truenorth.errors import DataError


def polars_jacobi(
    edges: pl.DataFrame, channels: Sequence[str], *, reward: str = "conversion"
) -> tuple[float, dict[str, float]]:
    """The Polars Jacobi iteration that ``markov.solve_all`` used before the native kernel,
    kept verbatim as an independent reference (all scenarios as columns, lock-step sweeps)."""
    transient = edges.filter(~pl.col("from").is_in([markov.CONVERSION, markov.NULL]))
    names = pl.concat([transient["from"], transient["to"]]).unique().sort()
    names = names.filter(~names.is_in([markov.CONVERSION, markov.NULL]))
    index = pl.DataFrame(
        {"state": names, "i": pl.int_range(names.len(), dtype=pl.UInt32, eager=True)}
    )
    n = names.len()
    totals = transient.group_by("from").agg(pl.col("weight").sum().alias("total"))
    probs = transient.join(totals, on="from").with_columns(p=pl.col("weight") / pl.col("total"))
    if reward == "value":
        gain = pl.when(pl.col("to") == markov.CONVERSION).then(pl.col("value") / pl.col("total"))
    else:
        gain = pl.when(pl.col("to") == markov.CONVERSION).then(pl.col("p"))
    r_frame = (
        probs.with_columns(g=gain.otherwise(0.0))
        .group_by("from")
        .agg(pl.col("g").sum())
        .join(index, left_on="from", right_on="state")
    )
    r = pl.Series("r", [0.0] * n).scatter(r_frame["i"], r_frame["g"])
    q = (
        probs.filter(~pl.col("to").is_in([markov.CONVERSION, markov.NULL]))
        .join(index.rename({"i": "src"}), left_on="from", right_on="state")
        .join(index.rename({"i": "dst"}), left_on="to", right_on="state")
        .select("src", "dst", "p")
        .sort("src")
    )
    # one column per scenario: the full chain, then each channel removed (its states dead)
    alive = {"full": pl.Series([1.0] * n)}
    parts = names.str.split(markov.SEP)
    for c in channels:
        alive[c] = (~parts.list.contains(c)).cast(pl.Float64)
    cols = list(alive)
    mask = pl.DataFrame({f"c{i}": alive[c] for i, c in enumerate(cols)})
    reward_cols = mask.select(pl.all() * r)
    x = reward_cols.clone()
    start = index.filter(pl.col("state") == markov.START)["i"]
    if start.len() == 0:
        return 0.0, dict.fromkeys(channels, 0.0)
    src, dst, p = q["src"], q["dst"], q["p"]
    # q is sorted by src: the group sums come out in that order; ``pos`` sends each state to
    # its group's row, or to an appended row of zeros when it has no transient successor
    senders = src.unique(maintain_order=True)
    pos = (
        pl.DataFrame({"i": pl.int_range(n, dtype=pl.UInt32, eager=True)})
        .join(
            pl.DataFrame(
                {"i": senders, "g": pl.int_range(senders.len(), dtype=pl.UInt32, eager=True)}
            ),
            on="i",
            how="left",
        )
        .sort("i")["g"]
        .fill_null(senders.len())
    )
    zero = pl.DataFrame({c: [0.0] for c in x.columns})
    for _ in range(markov.MAX_ITER):
        summed = (
            x.select(pl.all().gather(dst) * p)
            .with_columns(src=src)
            .group_by("src", maintain_order=True)
            .agg(pl.all().sum())
            .drop("src")
        )
        incoming = pl.concat([summed, zero]).select(pl.all().gather(pos))
        new = reward_cols + incoming * mask
        change = max((new - x).select(pl.all().abs().max()).row(0))
        scale = max(1e-300, *new.select(pl.all().abs().max()).row(0))
        x = new
        if change <= markov.TOL * scale:
            break
    else:
        raise DataError(
            f"Markov attribution did not converge in {markov.MAX_ITER} iterations ({n} states); "
            "the paths loop between channels too much — lower the order or group channels"
        )
    s = int(start[0])
    values = [float(v) for v in x.row(s)]
    return values[0], dict(zip(channels, values[1:], strict=True))


def dense(edges: pl.DataFrame, channels: Sequence[str], reward: str) -> list[float]:
    """Exact values from start: (I - Q) x = r by Gauss-Jordan, once per scenario."""
    ends = {markov.CONVERSION, markov.NULL}
    totals: dict[str, float] = {}
    for f, w in edges.select("from", "weight").iter_rows():
        totals[f] = totals.get(f, 0.0) + w
    names = sorted(set(totals) | {t for t in edges["to"] if t not in ends})
    idx = {s: i for i, s in enumerate(names)}
    out = []
    for removed in [None, *channels]:
        dead = [removed is not None and removed in s.split(markov.SEP) for s in names]
        n = len(names)
        a = [[float(i == j) for j in range(n)] for i in range(n)]
        b = [0.0] * n
        for f, t, w, v in edges.select("from", "to", "weight", "value").iter_rows():
            i = idx[f]
            if dead[i]:
                continue
            if t == markov.CONVERSION:
                b[i] += (v if reward == "value" else w) / totals[f]
            elif t != markov.NULL and not dead[idx[t]]:
                a[i][idx[t]] -= w / totals[f]
        inv = attr._inverse(a)
        s = idx[markov.START]
        out.append(sum(inv[s][j] * b[j] for j in range(n)))
    return out


paths = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCD"), min_size=1, max_size=7).map(" > ".join),
        st.integers(0, 4),
        st.integers(0, 4),
        st.integers(0, 30),
    ),
    min_size=1,
    max_size=25,
).filter(lambda rows: any(c + n for _, c, n, _ in rows))


def frame(rows) -> pl.DataFrame:
    return pathdata.from_table(
        pl.DataFrame(
            [(p, c, n, float(v if c else 0)) for p, c, n, v in rows],
            schema=["path", "c", "n", "v"],
            orient="row",
        ),
        conversions="c",
        nulls="n",
        value="v",
    )


@settings(max_examples=40, deadline=None)
@given(rows=paths, order=st.integers(1, 3), reward=st.sampled_from(["conversion", "value"]))
def test_native_solve_equals_the_exact_dense_solve(rows, order, reward):
    f = frame(rows)
    edges = markov.chain(f, order)
    channels = sorted(f["path"].explode().unique().to_list())
    base, without = markov.solve_all(edges, channels, reward=reward)
    got = [base, *(without[c] for c in channels)]
    assert got == pytest.approx(dense(edges, channels, reward), rel=1e-9, abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(rows=paths, order=st.integers(1, 3), reward=st.sampled_from(["conversion", "value"]))
def test_native_solve_equals_the_polars_jacobi_path(rows, order, reward):
    f = frame(rows)
    edges = markov.chain(f, order)
    channels = sorted(f["path"].explode().unique().to_list())
    base, without = markov.solve_all(edges, channels, reward=reward)
    ref_base, ref = polars_jacobi(edges, channels, reward=reward)
    assert base == pytest.approx(ref_base, abs=1e-9)
    assert [without[c] for c in channels] == pytest.approx([ref[c] for c in channels], abs=1e-9)


def test_many_loops_match_the_polars_jacobi_path():
    # 12 channels, journeys that revisit channels: the order-2 chain is one large loop
    rows = [
        (" > ".join(f"c{(i * k + j * j) % 12}" for j in range(2 + i % 6)), i % 3, 1 + i % 2, i)
        for i, k in zip(range(400), [1, 5, 7, 11] * 100, strict=True)
    ]
    f = frame(rows)
    channels = sorted(f["path"].explode().unique().to_list())
    for order in (1, 2):
        edges = markov.chain(f, order)
        base, without = markov.solve_all(edges, channels)
        ref_base, ref = polars_jacobi(edges, channels)
        assert base == pytest.approx(ref_base, abs=1e-9) and 0 < base < 1
        assert [without[c] for c in channels] == pytest.approx([ref[c] for c in channels], abs=1e-9)


def test_a_loop_that_does_not_settle_is_a_clear_error():
    # A <-> B returning with probability 1 - 1e-7: ~10^8 sweeps to 1e-12, far over the guard
    edges = pl.DataFrame(
        {
            "from": [markov.START, "A", "A", "B"],
            "to": ["A", "B", markov.CONVERSION, "A"],
            "weight": [1.0, 1e7, 1.0, 1.0],
            "value": [0.0, 0.0, 1.0, 0.0],
        }
    )
    with pytest.raises(DataError, match=r"did not converge in 20000 sweeps.*lower the order"):
        markov.solve_all(edges, ["A", "B"])


def test_kernel_rejects_bad_columns_with_names():
    u = pl.Series([0], dtype=pl.UInt32)
    one = pl.Series([1.0])
    kw = {"dead_scenario": u.clear(), "dead_state": u.clear(), "scenarios": 0}
    with pytest.raises(_core.CoreError, match="'src': expected UInt32, got Int64"):
        _core.absorption_values(pl.Series([0]), u, one, pl.Series([0.0, 0.0]), start=0, **kw)
    with pytest.raises(_core.CoreError, match="edge row 1: state 1 is not below the 1 states"):
        _core.absorption_values(u, u + 1, one, pl.Series([0.0]), start=0, **kw)
    with pytest.raises(_core.CoreError, match="start state 5"):
        _core.absorption_values(u, u, one * 0.5, pl.Series([0.0]), start=5, **kw)
    got = _core.absorption_values(u, u + 1, one * 0.5, pl.Series([0.0, 0.5]), start=0, **kw)
    assert got == [0.25]
