"""The journey rule kind: hand-computed funnels and Markov chains, errors, properties, real data."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from truenorth import Rule
from truenorth.builtins import journey
from truenorth.builtins.journey import JourneyOptions, analyse
from truenorth.builtins.journey import attribution as attr
from truenorth.builtins.journey import events as ev
from truenorth.builtins.journey import funnel as fn
from truenorth.builtins.journey import transitions as tr
from truenorth.errors import DataError
from truenorth.testing import rule_context

DATA = Path(__file__).resolve().parents[1] / "data" / "retentioneering_ecom.csv.gz"
T0 = datetime(2024, 1, 1)


def run(frame: pl.DataFrame, warn: str | None = None, fail: str | None = None, **options):
    source = JourneyOptions(**options).source
    ctx = rule_context("journey", options, {source: frame}, rule_id="j", warn=warn, fail=fail)
    return journey.evaluate(ctx)


def log(rows: list[tuple], columns=("customer", "seconds", "event")) -> pl.DataFrame:
    """An event log from (customer, seconds after T0, event, ...) rows."""
    types = {"seconds": pl.Int64, "satisfaction": pl.Float64}
    schema = {c: types.get(c, pl.String) for c in columns}
    df = pl.DataFrame(rows, schema=schema, orient="row")
    return df.with_columns(timestamp=pl.lit(T0) + pl.duration(seconds=pl.col("seconds"))).drop(
        "seconds"
    )


def prepared(df: pl.DataFrame, **kw) -> pl.DataFrame:
    return ev.prepare(df, **kw)


# --- funnels: hand-computed cases ------------------------------------------------------------

HAND = log(
    [
        ("u1", 0, "A"),
        ("u1", 10, "X"),
        ("u1", 20, "B"),
        ("u1", 60, "C"),
        ("u2", 0, "A"),
        ("u2", 30, "B"),
        ("u2", 40, "C"),
        ("u3", 0, "A"),
        ("u3", 5, "C"),
        ("u3", 50, "B"),
        ("u4", 0, "C"),
        ("u4", 1, "B"),
        ("u5", 0, "A"),
    ]
)


def funnel_of(df, steps=("A", "B", "C"), **kw) -> pl.DataFrame:
    return fn.funnel(prepared(df), list(steps), **kw)


def test_sequential_hand_case():
    f = funnel_of(HAND, mode="sequential")
    assert f["step"].to_list() == ["A", "B", "C"]
    assert f["reached"].to_list() == [4, 3, 2]  # u1 u2 u3 u5 | u1 u2 u3 | u1 u2
    assert f["conversion_from_start"].to_list() == pytest.approx([1.0, 0.75, 0.5])
    assert f["conversion_from_previous"].to_list()[1:] == pytest.approx([0.75, 2 / 3])
    assert f["conversion_from_previous"][0] is None
    assert f["drop_off"].to_list() == [None, 1, 1]
    assert f["drop_off_rate"].to_list()[1:] == pytest.approx([0.25, 1 / 3])
    # time from entry: B at 20, 30, 50 s; C at 60, 40 s
    assert f["median_seconds_from_start"].to_list() == pytest.approx([0.0, 30.0, 50.0])
    assert f["mean_seconds_from_start"].to_list() == pytest.approx([0.0, 100 / 3, 50.0])


def test_strict_hand_case():
    f = funnel_of(HAND, mode="strict")
    # u1: A then X (breaks); u2: A B C; u3: A then C (breaks); u5: A only
    assert f["reached"].to_list() == [4, 1, 1]
    assert f["median_seconds_from_start"].to_list() == pytest.approx([0.0, 30.0, 40.0])


def test_any_order_hand_case():
    f = funnel_of(HAND, mode="any")
    # u3 did C before B, both after A: reaches C at max(5, 50) = 50 s
    assert f["reached"].to_list() == [4, 3, 3]
    assert f["median_seconds_from_start"].to_list() == pytest.approx([0.0, 30.0, 50.0])
    assert f["mean_seconds_from_start"].to_list() == pytest.approx([0.0, 100 / 3, 50.0])


def test_steps_that_nobody_reaches_still_appear():
    f = funnel_of(HAND, steps=("A", "Z", "C"))
    assert f["reached"].to_list() == [4, 0, 0]
    assert f["conversion_from_previous"].to_list() == [None, 0.0, None]
    assert f["median_seconds_from_start"][1] is None


def test_equal_timestamps_follow_row_order():
    same_time_b_first = log([("u", 0, "B"), ("u", 0, "A"), ("u", 0, "C")])
    same_time_a_first = log([("u", 0, "A"), ("u", 0, "B"), ("u", 0, "C")])
    assert funnel_of(same_time_b_first)["reached"].to_list() == [1, 0, 0]
    assert funnel_of(same_time_a_first)["reached"].to_list() == [1, 1, 1]
    assert funnel_of(same_time_a_first, mode="strict")["reached"].to_list() == [1, 1, 1]
    # the rule is stable: interleaving other customers' rows changes nothing
    mixed = log([("u", 0, "A"), ("v", 0, "C"), ("u", 0, "B"), ("v", 0, "A"), ("u", 0, "C")])
    assert funnel_of(mixed, mode="strict")["reached"].to_list() == [2, 1, 1]


def test_conversion_window_from_entering_step_one():
    df = log([("u", 0, "A"), ("u", 10 * 86400, "B"), ("u", 20 * 86400, "C")])
    for mode in ("sequential", "strict", "any"):
        assert funnel_of(df, mode=mode, window=timedelta(days=14))["reached"].to_list() == [1, 1, 0]
        assert funnel_of(df, mode=mode, window=timedelta(days=20))["reached"].to_list() == [1, 1, 1]
    # the funnel is anchored at the first step-1 event: a later re-entry does not restart it
    again = log([("u", 0, "A"), ("u", 30 * 86400, "A"), ("u", 31 * 86400, "B")])
    assert funnel_of(again, steps=("A", "B"), window=timedelta(days=14))["reached"].to_list() == [
        1,
        0,
    ]


def test_strict_counts_any_event_in_between():
    df = log([("u", 0, "A"), ("u", 1, "A"), ("u", 2, "B")])
    assert funnel_of(df, steps=("A", "B"), mode="strict")["reached"].to_list() == [1, 0]
    assert funnel_of(df, steps=("A", "B"), mode="sequential")["reached"].to_list() == [1, 1]


def test_dates_and_strings_as_timestamps():
    df = pl.DataFrame(
        {
            "customer": [1, 1, 2],
            "timestamp": ["2024-01-01 10:00:00", "2024-01-02 10:00:00", "2024-01-01 00:00:00"],
            "event": ["A", "B", "A"],
        }
    )
    f = fn.funnel(prepared(df), ["A", "B"])
    assert f["reached"].to_list() == [2, 1]
    assert f["median_seconds_from_start"][1] == pytest.approx(86400.0)
    dates = df.with_columns(pl.col("timestamp").str.to_datetime().dt.date())
    assert fn.funnel(prepared(dates), ["A", "B"])["median_seconds_from_start"][1] == 86400.0


def test_timestamps_before_1970():
    df = pl.DataFrame(
        {
            "customer": ["a", "a", "a", "b", "b"],
            "timestamp": [
                datetime(1960, 1, 1),
                datetime(1960, 1, 1),
                datetime(1960, 1, 2),
                datetime(1969, 12, 31, 23, 59, 59),
                datetime(1970, 1, 1, 0, 0, 1),
            ],
            "event": ["A", "B", "C", "A", "B"],
        }
    )
    for mode in fn.ORDERED_MODES:
        f = fn.funnel(prepared(df), ["A", "B", "C"], mode=mode)
        assert f["reached"].to_list() == [2, 2, 1], mode
        assert f["median_seconds_from_start"].to_list() == [0.0, 1.0, 86400.0], mode


def test_session_unit_and_stage_column():
    df = pl.DataFrame(
        {
            "customer": ["c", "c", "c"],
            "session": ["s1", "s1", "s2"],
            "timestamp": [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)],
            "stage": ["awareness", "purchase", "awareness"],
            "event": ["x", "y", "z"],
        }
    )
    out = run(df, steps=["awareness", "purchase"], by="session")
    assert out.tables["funnel"]["reached"].to_list() == [2, 1]
    out = run(df, steps=["awareness", "purchase"])
    assert out.tables["funnel"]["reached"].to_list() == [1, 1]


# --- reference implementation and properties -------------------------------------------------


def reference_depths(df: pl.DataFrame, steps, mode, window=None) -> dict[str, list[float]]:
    """Row-by-row oracle: per unit, the seconds from entry at which each step was reached."""
    out: dict[str, list[float]] = {}
    rows = df.with_row_index("row").sort("customer", "timestamp", "row")
    for unit, group in rows.group_by("customer", maintain_order=True):
        names = group["event"].to_list()
        times = group["timestamp"].to_list()
        if steps[0] not in names:
            continue
        e = names.index(steps[0])
        t0 = times[e]
        limit = None if window is None else t0 + window
        got = [0.0]
        if mode == "sequential":
            for i in range(e + 1, len(names)):
                if limit is not None and times[i] > limit:
                    break
                if len(got) < len(steps) and names[i] == steps[len(got)]:
                    got.append((times[i] - t0).total_seconds())
        elif mode == "strict":
            for j in range(1, len(steps)):
                i = e + j
                if i < len(names) and names[i] == steps[j] and (limit is None or times[i] <= limit):
                    got.append((times[i] - t0).total_seconds())
                else:
                    break
        else:
            for j in range(1, len(steps)):
                hits = [
                    times[i]
                    for i in range(e + 1, len(names))
                    if names[i] == steps[j] and (limit is None or times[i] <= limit)
                ]
                if not hits:
                    break
                got.append(max(got[-1], (min(hits) - t0).total_seconds()))
        out[unit[0]] = got
    return out


event_logs = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3", "u4"]),
        st.integers(0, 20),
        st.sampled_from(["A", "B", "C", "X"]),
    ),
    min_size=0,
    max_size=40,
)
step_lists = st.permutations(["A", "B", "C"]).map(list) | st.just(["A", "B"]) | st.just(["B"])


@settings(max_examples=200, deadline=None)
@given(rows=event_logs, steps=step_lists, window=st.sampled_from([None, 0, 3, 10]))
def test_funnel_matches_reference_and_invariants(rows, steps, window):
    df = log(rows)
    win = None if window is None else timedelta(seconds=window)
    counts = {}
    for mode in fn.ORDERED_MODES:
        f = fn.funnel(prepared(df), steps, mode=mode, window=win)
        want = reference_depths(df, steps, mode, win)
        expected = [sum(1 for d in want.values() if len(d) > k) for k in range(len(steps))]
        assert f["reached"].to_list() == expected, mode
        for k in range(len(steps)):
            secs = sorted(d[k] for d in want.values() if len(d) > k)
            if secs:
                assert f["mean_seconds_from_start"][k] == pytest.approx(sum(secs) / len(secs))
        reached = f["reached"].to_list()
        assert all(a >= b for a, b in pairwise(reached))  # never increases
        counts[mode] = reached
    for k in range(len(steps)):
        assert counts["strict"][k] <= counts["sequential"][k] <= counts["any"][k]


@settings(max_examples=100, deadline=None)
@given(rows=event_logs, steps=step_lists)
def test_strict_subset_of_sequential_subset_of_any_per_unit(rows, steps):
    p = prepared(log(rows))
    units = {
        mode: {
            (u, k)
            for u, k in fn.reached_events(p, steps, mode=mode).select("unit", "k").iter_rows()
        }
        for mode in fn.ORDERED_MODES
    }
    assert units["strict"] <= units["sequential"] <= units["any"]


@settings(max_examples=60, deadline=None)
@given(rows=event_logs, small=st.integers(0, 10), extra=st.integers(0, 10))
def test_wider_window_never_lowers_counts(rows, small, extra):
    p = prepared(log(rows))
    for mode in fn.ORDERED_MODES:
        narrow = fn.funnel(p, ["A", "B", "C"], mode=mode, window=timedelta(seconds=small))
        wide = fn.funnel(p, ["A", "B", "C"], mode=mode, window=timedelta(seconds=small + extra))
        unlimited = fn.funnel(p, ["A", "B", "C"], mode=mode)
        for a, b, c in zip(narrow["reached"], wide["reached"], unlimited["reached"], strict=True):
            assert a <= b <= c


# --- transitions and touchpoints -------------------------------------------------------------


def test_transition_matrix_hand_case():
    df = log([("u", 0, "A"), ("u", 1, "B"), ("u", 2, "A"), ("v", 0, "A"), ("v", 5, "C")])
    t = tr.transitions(prepared(df))
    got = {(f, to): (c, p) for f, to, c, p in t.iter_rows()}
    assert got == {
        ("(start)", "A"): (2, 1.0),
        ("A", "B"): (1, pytest.approx(1 / 3)),
        ("A", "(end)"): (1, pytest.approx(1 / 3)),
        ("A", "C"): (1, pytest.approx(1 / 3)),
        ("B", "A"): (1, 1.0),
        ("C", "(end)"): (1, 1.0),
    }
    sums = t.group_by("from_stage").agg(pl.col("probability").sum())
    assert sums["probability"].to_list() == pytest.approx([1.0] * sums.height)
    only_ab = tr.transitions(prepared(df), ["A", "B"])
    assert set(only_ab["to_stage"]) == {"A", "B", "(end)"}


def test_paths_hand_case():
    df = log(
        [
            ("u", 0, "A"),
            ("u", 1, "A"),
            ("u", 2, "X"),
            ("u", 3, "B"),
            ("v", 0, "A"),
            ("v", 1, "B"),
            ("w", 0, "A"),
            ("w", 1, "C"),
            ("w", 2, "A"),
        ]
    )
    p = tr.paths(prepared(df), ["A", "B", "C"], "B")
    assert p.rows() == [
        ("A > B", 2, pytest.approx(2 / 3), 2, 1.0),
        ("A > C > A", 1, pytest.approx(1 / 3), 0, 0.0),
    ]
    assert tr.paths(prepared(df), ["A", "B", "C"], "B", top=1).height == 1


def test_touchpoint_satisfaction_and_uncovered_stages():
    df = log(
        [
            ("u", 0, "A", "ad", 2.0),
            ("u", 1, "B", "web", 4.0),
            ("v", 0, "A", "ad", 3.0),
            ("v", 1, "B", "web", None),
            ("v", 2, "C", None, None),
        ],
        columns=("customer", "seconds", "event", "touchpoint", "satisfaction"),
    )
    t = tr.touchpoints(prepared(df))
    assert t.rows() == [("ad", 2, 2, "A", 2, 2.5), ("web", 2, 2, "B", 1, 4.0)]
    assert tr.stages_without_touchpoint(prepared(df), ["A", "B", "C"]) == ["C"]
    out = run(df, steps=["A", "B", "C"])
    poor = [f for f in out.findings if "poor satisfaction" in f.message]
    assert [(f.subject, f.value, f.severity) for f in poor] == [("ad", 2.5, "warn")]
    uncovered = [f for f in out.findings if "no touchpoint" in f.message]
    assert [f.subject for f in uncovered] == ["C"]


# --- attribution -----------------------------------------------------------------------------


def paths_log(paths: list[tuple[list[str], bool]]) -> pl.DataFrame:
    """Events from paths of channels; a converting path ends with a 'buy' event."""
    rows = []
    for i, (channels, converted) in enumerate(paths):
        for s, c in enumerate(channels):
            rows.append((f"u{i}", s, "visit", c))
        if converted:
            rows.append((f"u{i}", len(channels), "buy", None))
    return log(rows, columns=("customer", "seconds", "event", "channel"))


def table(df, **kw) -> dict[str, dict]:
    t = attr.attribution(prepared(df), "channel", "buy", **kw)
    return {r["touchpoint"]: r for r in t.iter_rows(named=True)}


def test_markov_two_channels_by_hand():
    # paths: A→B→conv, A→conv, B→null.
    # P(start→A)=2/3, P(start→B)=1/3, P(A→B)=P(A→conv)=1/2, P(B→conv)=P(B→null)=1/2.
    # x_B = 1/2, x_A = 1/2 + 1/2·1/2 = 3/4, P(conv) = 2/3·3/4 + 1/3·1/2 = 2/3.
    # without A: 1/3·1/2 = 1/6 → RE(A) = 1 − (1/6)/(2/3) = 3/4.
    # without B: x_A = 1/2 → 2/3·1/2 = 1/3 → RE(B) = 1/2. Shares 3/5 and 2/5 of 2 conversions.
    t = table(paths_log([(["A", "B"], True), (["A"], True), (["B"], False)]))
    assert t["A"]["removal_effect"] == pytest.approx(3 / 4)
    assert t["B"]["removal_effect"] == pytest.approx(1 / 2)
    assert t["A"]["markov_share"] == pytest.approx(3 / 5)
    assert t["B"]["markov"] == pytest.approx(0.8)
    assert (t["A"]["first_touch"], t["B"]["first_touch"]) == (2.0, 0.0)
    assert (t["A"]["last_touch"], t["B"]["last_touch"]) == (1.0, 1.0)
    assert (t["A"]["linear"], t["B"]["linear"]) == (1.5, 0.5)


def test_markov_three_channels_with_a_loop_by_hand():
    # paths: A→B→A→conv, C→null, B→C→conv. start→A, B, C each 1/3;
    # A→B 1/2, A→conv 1/2; B→A 1/2, B→C 1/2; C→conv 1/2, C→null 1/2.
    # x_C = 1/2; x_B = x_A/2 + 1/4; x_A = 1/2 + x_B/2 → x_A = 5/6, x_B = 2/3; P = (5/6+2/3+1/2)/3 = 2/3
    # −A: x_B = 1/4 → P = (1/4 + 1/2)/3 = 1/4 → RE = 5/8
    # −B: x_A = 1/2 → P = (1/2 + 1/2)/3 = 1/3 → RE = 1/2
    # −C: x_A = 1/2 + x_B/2, x_B = x_A/2 → x_A = 2/3, x_B = 1/3 → P = 1/3 → RE = 1/2
    # Σ RE = 13/8 → shares 5/13, 4/13, 4/13
    df = paths_log([(["A", "B", "A"], True), (["C"], False), (["B", "C"], True)])
    t = table(df)
    assert {c: t[c]["removal_effect"] for c in "ABC"} == pytest.approx(
        {"A": 5 / 8, "B": 1 / 2, "C": 1 / 2}
    )
    assert {c: t[c]["markov_share"] for c in "ABC"} == pytest.approx(
        {"A": 5 / 13, "B": 4 / 13, "C": 4 / 13}
    )
    assert t["A"]["markov"] == pytest.approx(10 / 13)
    assert t["A"]["linear"] == pytest.approx(2 / 3) and t["C"]["linear"] == pytest.approx(1 / 2)
    counts = {
        (f, to): c
        for f, to, c in attr.transition_counts(*attr.paths(prepared(df), "channel", "buy"))
        .select("from", "to", "count")
        .iter_rows()
    }
    p, _ = attr.removal_effects(counts)
    assert p == pytest.approx(float(Fraction(2, 3)))


def test_touches_after_conversion_are_ignored():
    df = log(
        [("u", 0, "visit", "A"), ("u", 1, "buy", "B"), ("u", 2, "visit", "C")],
        columns=("customer", "seconds", "event", "channel"),
    )
    t = table(df)
    assert set(t) == {"A", "B"}  # C came after the conversion
    assert t["B"]["last_touch"] == 1.0  # the conversion event's own touch counts


def test_no_conversions_gives_null_markov_and_zero_credits():
    t = table(paths_log([(["A"], False), (["B", "A"], False)]))
    assert all(r["markov_share"] is None and r["first_touch"] == 0 for r in t.values())


random_paths = st.lists(
    st.tuples(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=6), st.booleans()),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(paths=random_paths)
def test_attribution_shares_sum_to_one_and_match_direct_solve(paths):
    df = paths_log(paths)
    t = attr.attribution(prepared(df), "channel", "buy")
    conversions = sum(1 for _, c in paths if c)
    for model in ("first_touch", "last_touch", "linear"):
        assert t[model].sum() == pytest.approx(conversions)
    if conversions == 0:
        return
    assert t["markov_share"].sum() == pytest.approx(1.0)
    assert t["markov"].sum() == pytest.approx(conversions)
    assert ((t["removal_effect"] >= -1e-12) & (t["removal_effect"] <= 1 + 1e-12)).all()
    counts = {
        (f, to): float(c)
        for f, to, c in attr.transition_counts(*attr.paths(prepared(df), "channel", "buy"))
        .select("from", "to", "count")
        .iter_rows()
    }
    p, effects = attr.removal_effects(counts)
    assert p == pytest.approx(attr.absorption_probability(counts))
    for c, re in effects.items():  # identity vs redirect-to-null and a fresh solve
        assert re == pytest.approx(1 - attr.absorption_probability(counts, removed=c) / p, abs=1e-9)


def test_removal_effects_against_numpy_solve():
    import numpy as np  # a test extra

    counts = {
        ("(start)", "A"): 5.0,
        ("(start)", "B"): 3.0,
        ("(start)", "C"): 2.0,
        ("A", "B"): 2.0,
        ("A", "A"): 1.0,
        ("A", "(conversion)"): 3.0,
        ("B", "C"): 2.0,
        ("B", "(null)"): 3.0,
        ("C", "A"): 1.0,
        ("C", "(conversion)"): 2.0,
        ("C", "(null)"): 1.0,
    }
    states = ["(start)", "A", "B", "C"]

    def solve(removed=None):
        q = np.zeros((4, 4))
        r = np.zeros(4)
        for i, s in enumerate(states):
            out = sum(c for (f, _), c in counts.items() if f == s)
            for (f, to), c in counts.items():
                if f != s or s == removed:
                    continue
                if to == "(conversion)":
                    r[i] += c / out
                elif to in states and to != removed:
                    q[i, states.index(to)] += c / out
        return np.linalg.solve(np.eye(4) - q, r)[0]

    p, effects = attr.removal_effects(counts)
    assert p == pytest.approx(solve())
    for c in "ABC":
        assert effects[c] == pytest.approx(1 - solve(c) / solve())


def test_too_many_channels_for_exact_markov_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(attr, "MAX_STATES", 2)
    with pytest.raises(DataError, match="3 touchpoints/channels is too many"):
        table(paths_log([(["A", "B", "C"], True)]))


def test_single_channel_paths_markov_equals_conversion_share():
    df = paths_log([(["A", "A"], True), (["B"], True), (["B"], True), (["C"], False)])
    t = table(df)
    assert t["A"]["markov"] == pytest.approx(1.0)
    assert t["B"]["markov"] == pytest.approx(2.0)
    assert t["C"]["markov"] == pytest.approx(0.0)


# --- findings, options, errors ---------------------------------------------------------------


def test_findings_largest_drop_and_thresholds():
    out = run(
        HAND,
        steps=["A", "B", "C"],
        warn="conversion_from_previous < 0.7",
        fail="conversion_from_previous < 0.5",
    )
    drop = [f for f in out.findings if "largest drop-off" in f.message]
    assert [(f.subject, f.value, f.severity) for f in drop] == [("B", 1.0, "info")]
    graded = {f.subject: (f.severity, f.value) for f in out.findings if f.severity != "info"}
    assert graded == {"C": ("warn", pytest.approx(2 / 3))}


def test_tables_written_match_declared_schemas():
    df = log(
        [("u", 0, "A", "ad", 4.0), ("u", 1, "B", "web", 5.0), ("v", 0, "A", "ad", None)],
        columns=("customer", "seconds", "event", "touchpoint", "satisfaction"),
    )
    opts = JourneyOptions(steps=["A", "B"], prefix="j_")
    rule = Rule(id="j", kind="journey", options=opts)
    tables, _ = analyse(df, opts)
    declared = journey.writes(opts, rule)
    assert (
        set(tables)
        == set(declared)
        == {
            "j_funnel",
            "j_time_to_convert",
            "j_transitions",
            "j_touchpoints",
            "j_paths",
            "j_step_matrix",
            "j_attribution",
        }
    )
    for name, frame in tables.items():
        assert dict(frame.schema) == dict(declared[name]), name
    assert journey.reads(opts, rule) == ("events",)


def test_option_errors():
    with pytest.raises(ValidationError, match="repeated: A"):
        JourneyOptions(steps=["A", "B", "A"])
    with pytest.raises(ValidationError, match="not a duration"):
        JourneyOptions(steps=["A"], window="two weeks")
    with pytest.raises(ValidationError):
        JourneyOptions(steps=["A"], mode="loose")
    with pytest.raises(ValidationError):
        JourneyOptions(steps=[])
    with pytest.raises(ValidationError):
        JourneyOptions(steps=["A"], windw="14d")
    assert ev.parse_window("14d") == timedelta(days=14)
    assert ev.parse_window("36 hours") == timedelta(hours=36)
    assert ev.parse_window("2w") == timedelta(weeks=2)


def test_data_errors_name_column_row_and_value():
    bad_ts = pl.DataFrame(
        {
            "customer": ["a", "a"],
            "timestamp": ["2024-01-01 10:00:00", "yesterday"],
            "event": ["A", "B"],
        }
    )
    with pytest.raises(
        DataError, match=r"column 'timestamp', row 2: value 'yesterday' is not a timestamp"
    ):
        analyse(bad_ts, JourneyOptions(steps=["A"]))
    null_customer = pl.DataFrame(
        {"customer": ["a", None], "timestamp": [T0, T0], "event": ["A", "B"]}
    )
    with pytest.raises(DataError, match=r"column 'customer', row 2: missing value"):
        analyse(null_customer, JourneyOptions(steps=["A"]))
    with pytest.raises(DataError, match=r"lacks column\(s\) 'event'"):
        analyse(pl.DataFrame({"customer": [1], "timestamp": [T0]}), JourneyOptions(steps=["A"]))
    with pytest.raises(DataError, match="needs a 'session' column"):
        analyse(HAND, JourneyOptions(steps=["A"], by="session"))
    bad_sat = HAND.head(2).with_columns(satisfaction=pl.Series(["4", "great"]))
    with pytest.raises(
        DataError, match=r"column 'satisfaction', row 2: value 'great' is not a number"
    ):
        analyse(bad_sat, JourneyOptions(steps=["A"]))
    with pytest.raises(DataError, match="attribute: touchpoint needs a 'touchpoint' column"):
        analyse(HAND, JourneyOptions(steps=["A"], attribute="touchpoint"))


def test_registered_kind():
    seen = []
    journey.register_rule_kinds(seen.append)
    (kind,) = seen
    assert kind.name == "journey" and kind.options_model is JourneyOptions
    assert "kind: journey" in kind.doc


# --- realistic data: the retentioneering e-commerce clickstream -------------------------------

STEPS = ["product_view", "add_to_cart", "shipping_details", "payment_details", "purchase"]


@pytest.fixture(scope="module")
def ecom() -> pl.DataFrame:
    return pl.read_csv(DATA).rename(
        {"user_id": "customer", "session_id": "session", "acquisition_channel": "channel"}
    )


def test_retentioneering_funnel_modes(ecom):
    counts = {}
    for mode in fn.ORDERED_MODES:
        f = run(ecom, steps=STEPS, mode=mode).tables["funnel"]
        counts[mode] = f["reached"].to_list()
        assert counts[mode] == sorted(counts[mode], reverse=True)
    for k in range(len(STEPS)):
        assert counts["strict"][k] <= counts["sequential"][k] <= counts["any"][k]
    # entrants: every user with a product_view; purchasers bound the last step
    assert (
        counts["sequential"][0]
        == ecom.filter(pl.col("event") == "product_view")["customer"].n_unique()
    )
    assert counts["any"][-1] <= ecom.filter(pl.col("event") == "purchase")["customer"].n_unique()
    # the row-by-row oracle agrees on every mode (customers, no window)
    users = ecom.select("customer", pl.col("timestamp").str.to_datetime(), "event")
    for mode in fn.ORDERED_MODES:
        want = reference_depths(users, STEPS, mode)
        assert counts[mode] == [sum(1 for d in want.values() if len(d) > k) for k in range(5)]


def test_retentioneering_reference_on_sessions(ecom):
    # the row-by-row oracle on sessions with equal timestamps (162 session/timestamp ties)
    sessions = ecom.select(
        pl.col("session").alias("customer"),
        pl.col("timestamp").str.to_datetime(),
        "event",
    )
    for mode in fn.ORDERED_MODES:
        f = fn.funnel(prepared(sessions), STEPS, mode=mode, window=timedelta(hours=1))
        want = reference_depths(sessions, STEPS, mode, timedelta(hours=1))
        assert f["reached"].to_list() == [
            sum(1 for d in want.values() if len(d) > k) for k in range(len(STEPS))
        ]


def test_retentioneering_attribution_by_channel(ecom):
    out = run(ecom, steps=STEPS, attribute="channel")
    t = out.tables["attribution"]
    # one acquisition channel per user: every model credits the channel's converting users
    buyers = (
        ecom.filter(pl.col("event") == "purchase")
        .group_by("channel")
        .agg(pl.col("customer").n_unique().cast(pl.Float64).alias("buyers"))
    )
    joined = t.join(buyers, left_on="touchpoint", right_on="channel")
    for model in ("first_touch", "last_touch", "linear", "markov"):
        assert joined[model].to_list() == pytest.approx(joined["buyers"].to_list())
    assert t["markov_share"].sum() == pytest.approx(1.0)
    assert math.isclose(
        t["markov"].sum(), ecom.filter(pl.col("event") == "purchase")["customer"].n_unique()
    )
    tr_table = out.tables["transitions"]
    assert tr_table.group_by("from_stage").agg(pl.col("probability").sum())[
        "probability"
    ].to_list() == pytest.approx([1.0] * tr_table["from_stage"].n_unique())


def test_through_the_engine():
    from truenorth.testing import run_rule

    result = run_rule(
        "journey",
        {"steps": ["A", "B", "C"], "window": "1h"},
        {"events": HAND},
        warn="conversion_from_previous < 0.7",
    )
    assert result.tables["funnel"]["reached"].to_list() == [4, 3, 2]
    findings = result.findings.sort("severity", "subject")
    assert findings.select("subject", "severity").rows() == [("B", "info"), ("C", "warn")]


def test_doc_example_runs(ecom):
    import yaml

    from truenorth.testing import run_rule

    (rule,) = yaml.safe_load(journey.DOC.split("```yaml\n")[1].split("```")[0])["rules"]
    result = run_rule(
        rule["kind"], rule["with"], {"events": ecom}, warn=rule["warn"], fail=rule["fail"]
    )
    funnel = result.tables["funnel"]
    assert funnel["step"].to_list() == rule["with"]["steps"]
    assert funnel["reached"].to_list() == sorted(funnel["reached"].to_list(), reverse=True)
    assert result.tables["attribution"]["markov_share"].sum() == pytest.approx(1.0)
