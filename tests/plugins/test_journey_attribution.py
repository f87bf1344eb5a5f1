"""Attribution over aggregated paths: order-k Markov, order choice, value, weights, bootstrap."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth import Rule
from truenorth.builtins import journey
from truenorth.builtins.journey import JourneyOptions, analyse, markov, pathdata
from truenorth.builtins.journey import attribution as attr
from truenorth.builtins.journey import events as ev
from truenorth.errors import DataError

T0 = datetime(2024, 1, 1)


def frame(rows: list[tuple[str, float, float, float]]) -> pl.DataFrame:
    """A paths frame from ("a > b", conversions, nulls, value) rows."""
    return pathdata.from_table(
        pl.DataFrame(rows, schema=["path", "c", "n", "v"], orient="row"),
        conversions="c",
        nulls="n",
        value="v",
    )


def by_channel(table: pl.DataFrame) -> dict[str, dict]:
    return {r["touchpoint"]: r for r in table.iter_rows(named=True)}


HAND = [("A > B", 1, 0, 10.0), ("A", 1, 0, 2.0), ("B", 0, 1, 0.0)]


def test_baseline_and_removal_columns_by_hand():
    # first order (see test_journey): P(conv) = 2/3; without A 1/6, without B 1/3
    t = by_channel(attr.attribution_of_paths(frame(HAND))[0])
    assert t["A"]["p_conversion"] == pytest.approx(2 / 3)
    assert t["A"]["p_conversion_without"] == pytest.approx(1 / 6)
    assert t["B"]["p_conversion_without"] == pytest.approx(1 / 3)
    assert t["A"]["removal_effect"] == pytest.approx(3 / 4) and t["A"]["order"] == 1


def test_value_weighted_markov_by_hand():
    # rewards: A→conv carries 2 over A's 2 exits (1 per exit), B→conv 10 over B's 2 exits (5).
    # x_B = 5, x_A = 1 + x_B/2 = 3.5, E[value] = 2/3·3.5 + 1/3·5 = 4 (= 12 value / 3 journeys).
    # without A: 1/3·5 → RE 7/12; without B: 2/3·1 → RE 5/6; 12 value split 7:10
    t = by_channel(attr.attribution_of_paths(frame(HAND))[0])
    assert t["A"]["value_removal_effect"] == pytest.approx(7 / 12)
    assert t["B"]["value_removal_effect"] == pytest.approx(5 / 6)
    assert t["A"]["markov_value"] == pytest.approx(12 * 7 / 17)
    assert t["B"]["markov_value"] == pytest.approx(12 * 10 / 17)


def test_second_order_markov_by_hand():
    # order-2 states: "A > B", "A", "B"; start → each 1/3; only "A > B" and "A" convert.
    # without A: both converting states contain A → P = 0, RE 1; without B: 1/3 → RE 1/2
    t = by_channel(attr.attribution_of_paths(frame(HAND), order=2)[0])
    assert t["A"]["removal_effect"] == pytest.approx(1.0)
    assert t["B"]["removal_effect"] == pytest.approx(0.5)
    assert t["A"]["markov"] == pytest.approx(4 / 3) and t["B"]["order"] == 2
    st_ = markov.states(frame([("A > B > A > B > C", 1, 0, 0)]), 2)["state"].to_list()
    assert st_ == ["A > B", "B > A", "A > B", "B > C"]
    assert markov.states(frame([("A > A > B", 1, 0, 0)]), 1)["state"].to_list() == ["A", "B"]


def test_choose_order_as_channelattribution_by_hand():
    # order 1 predicts 5/6 (last touch B) or 1/6 (A): AUC 5/6. Order 2 separates A > B (always
    # converts) from B > A (never): AUC 17/18. Order 3 has the same states, a larger penalty.
    f = frame([("A > B", 40, 0, 0), ("B > A", 0, 40, 0), ("A", 10, 10, 0), ("B", 10, 10, 0)])
    o = markov.choose_order(f, max_order=3)
    assert o["auc"].to_list() == pytest.approx([5 / 6, 17 / 18, 17 / 18])
    n = 120  # journeys; possible states C(2 + k - 1, k) = 2, 3, 4
    want = [
        1 - (1 - a) * (n - 1) / (n - m - 1) for a, m in ((5 / 6, 2), (17 / 18, 3), (17 / 18, 4))
    ]
    assert o["pauc"].to_list() == pytest.approx(want)
    assert o.filter(pl.col("chosen"))["order"].to_list() == [2]
    t, orders = attr.attribution_of_paths(f, order="auto", max_order=3)
    assert orders is not None and t["order"].unique().to_list() == [2]
    # orders whose possible states outnumber the journeys are not fitted
    assert markov.choose_order(frame([("A > B", 2, 2, 0)]), max_order=5)["order"].to_list() == [
        1,
        2,
    ]


paths_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6).map(" > ".join),
        st.integers(0, 5),
        st.integers(0, 5),
        st.integers(0, 50),
    ),
    min_size=1,
    max_size=20,
).filter(lambda rows: sum(r[1] for r in rows) > 0)


@settings(max_examples=30, deadline=None)
@given(rows=paths_strategy)
def test_sparse_solve_matches_the_exact_dense_solve(rows):
    f = frame([(p, c, n, float(v if c else 0)) for p, c, n, v in rows])
    dense = attr.attribution_of_paths(f)[0]
    old = attr.DENSE_STATES
    attr.DENSE_STATES = 0  # force the sparse iterative solve
    try:
        sparse = attr.attribution_of_paths(f)[0]
    finally:
        attr.DENSE_STATES = old
    for col in ("removal_effect", "markov", "p_conversion_without", "markov_value"):
        a, b = dense[col].to_list(), sparse[col].to_list()
        assert [x is None for x in a] == [x is None for x in b]
        assert [x for x in a if x is not None] == pytest.approx(
            [x for x in b if x is not None], abs=1e-9
        )
    assert sparse["markov"].sum() == pytest.approx(f["conversions"].sum())


def test_more_channels_than_the_dense_cap():
    rows = [(f"c{i} > c{(i * 7) % 450}", 1 + i % 2, 1, 0.0) for i in range(450)]
    t = attr.attribution_of_paths(frame(rows))[0]
    assert t.height == 450 and t["markov_share"].sum() == pytest.approx(1.0)
    assert t["markov"].sum() == pytest.approx(sum(r[1] for r in rows))


def event_log(rows: list[tuple]) -> pl.DataFrame:
    df = pl.DataFrame(
        rows, schema=["customer", "s", "event", "channel", "w", "amount"], orient="row"
    )
    return df.with_columns(timestamp=pl.lit(T0) + pl.duration(seconds=pl.col("s"))).drop("s")


def test_weights_and_path_data_equal_replicated_rows():
    weighted = event_log(
        [
            ("u", 0, "visit", "A", 3, None), ("u", 1, "visit", "B", 3, None),
            ("u", 2, "buy", None, 3, 20.0),
            ("v", 0, "visit", "B", 2, None),
        ]
    )  # fmt: skip
    replicated = event_log(
        [(f"u{i}", s, e, c, 1, a) for i in range(3) for s, e, c, a in
         ((0, "visit", "A", None), (1, "visit", "B", None), (2, "buy", None, 20.0))]
        + [(f"v{i}", 0, "visit", "B", 1, None) for i in range(2)]
    )  # fmt: skip
    opts = {"steps": ["visit", "buy"], "attribute": "channel", "value_column": "amount"}
    a, _ = analyse(weighted, JourneyOptions(weight="w", **opts))
    b, _ = analyse(replicated, JourneyOptions(**opts))
    assert a["attribution"].equals(b["attribution"])
    assert a["attribution"]["markov_value"].sum() == pytest.approx(60.0)
    pd = pl.DataFrame({"path": ["A > B", "B"], "total_conversions": [3, 0],
                       "total_null": [0, 2], "revenue": [60.0, 0.0]})  # fmt: skip
    path_opts = JourneyOptions(path_data={"source": "paths", "value": "revenue"})
    c, uncovered = analyse(None, path_opts, pd)
    assert set(c) == {"attribution"} and uncovered == []
    assert c["attribution"].equals(b["attribution"])
    rule = Rule(id="p", kind="journey", options=path_opts)
    assert journey.reads(path_opts, rule) == ("paths",)
    assert set(journey.writes(path_opts, rule)) == {"attribution"}


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate():
    f = frame([("A > B", 30, 10, 0), ("A", 10, 30, 0), ("B", 20, 20, 0), ("B > A", 5, 25, 0)])
    t1 = attr.attribution_of_paths(f, bootstrap=60, seed=7)[0]
    t2 = attr.attribution_of_paths(f, bootstrap=60, seed=7)[0]
    assert t1.equals(t2)
    for r in t1.iter_rows(named=True):
        assert 0 <= r["share_low"] <= r["markov_share"] <= r["share_high"] <= 1
        assert r["share_high"] - r["share_low"] > 0.01
    other = attr.attribution_of_paths(f, bootstrap=60, seed=8)[0]
    assert not other["share_low"].equals(t1["share_low"])
    with pytest.raises(DataError, match="whole-number journey counts"):
        attr.attribution_of_paths(frame([("A", 1.5, 1, 0)]), bootstrap=5)


def test_path_data_errors_name_column_and_row():
    bad = [
        ({"path": ["A", " "], "total_conversions": [1, 1]}, r"column 'path', row 2: empty path"),
        ({"path": ["A > > B"], "total_conversions": [1]}, "empty channel"),
        ({"path": ["A", "B"], "total_conversions": [1, -2]},
         r"column 'total_conversions', row 2: value -2 is not a count"),
        ({"path": ["A"], "conv": [1]}, "lacks column.*total_conversions"),
    ]  # fmt: skip
    for data, message in bad:
        with pytest.raises(DataError, match=message):
            pathdata.from_table(pl.DataFrame(data), nulls=None)
    with pytest.raises(DataError, match=r"column 'w', row 2: value 'x' is not a number"):
        ev.prepare(event_log([("u", 0, "a", "A", "1", None), ("u", 1, "a", "A", "x", None)]),
                   numbers=["w"])  # fmt: skip
    with pytest.raises(DataError, match=r"column 'w', row 1: value -1.0 is negative"):
        ev.prepare(event_log([("u", 0, "a", "A", -1, None)]), numbers=["w"])


def test_attribution_option_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="order must be between 1 and 20"):
        JourneyOptions(steps=["a"], order=0)
    with pytest.raises(ValidationError, match="give at least one funnel step"):
        JourneyOptions()
    with pytest.raises(ValidationError, match="Extra inputs"):
        JourneyOptions(path_data={"source": "p", "nul": "x"})


def test_auto_order_with_fewer_journeys_than_channels_falls_back_to_order_one():
    o = markov.choose_order(frame([("A > B > C", 1, 1, 0)]), max_order=3)
    assert o["order"].to_list() == [1] and o["pauc"].to_list() == [None]
    assert o["chosen"].to_list() == [True]
