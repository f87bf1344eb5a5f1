"""Unordered funnels (PostHog's definition), re-entry attempts and exclusion steps."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.builtins.journey import events as ev
from truenorth.builtins.journey import funnel as fn

T0 = datetime(2024, 1, 1)


def log(rows: list[tuple]) -> pl.DataFrame:
    """An event log from (customer, seconds after T0, event) rows."""
    df = pl.DataFrame(
        rows, schema={"customer": pl.String, "s": pl.Int64, "event": pl.String}, orient="row"
    )
    return df.with_columns(timestamp=pl.lit(T0) + pl.duration(seconds=pl.col("s"))).drop("s")


def persons(journeys: dict[str, list[tuple[str, str]]]) -> pl.DataFrame:
    """PostHog-style journeys: person -> [(event, 'YYYY-MM-DD HH:MM:SS')]."""
    rows = [(p, t, e) for p, evs in journeys.items() for e, t in evs]
    return pl.DataFrame(rows, schema=["customer", "timestamp", "event"], orient="row")


def units_at(reached: pl.DataFrame, k: int) -> set[str]:
    return set(reached.filter(pl.col("k") == k)["unit"].to_list())


# --- PostHog's own unordered-funnel test cases (posthog/hogql_queries/insights/funnels/test/
# test_funnel_unordered.py); PostHog's events without a timestamp get increasing times here.


def test_posthog_big_multi_step_unordered_funnel():
    seq = {
        "stopped_after_signup1": ["user signed up"],
        "stopped_after_pageview1": ["$pageview", "crying"],
        "stopped_after_insightview": [
            "user signed up",
            "$pageview",
            "blaah blaa",
            "insight viewed",
        ],
        "stopped_after_insightview2": ["insight viewed", "crying", "user signed up"],
        "stopped_after_insightview3": ["$pageview", "user signed up", "crying", "insight viewed"],
        "stopped_after_insightview4": ["blaah blaa", "insight viewed"],
        "stopped_after_insightview5": ["$pageview", "blaah blaa"],
        "stopped_after_insightview6": ["insight viewed", "$pageview"],
    }
    df = log([(p, i, e) for p, evs in seq.items() for i, e in enumerate(evs)])
    steps = ["user signed up", "$pageview", "insight viewed", "crying"]
    p = ev.prepare(df)
    f = fn.funnel(p, steps, mode="unordered")
    assert f["reached"].to_list() == [8, 5, 3, 1]
    assert f["step"].to_list() == ["1 step", "2 steps", "3 steps", "4 steps"]
    r = fn.reached_events(p, steps, mode="unordered")
    assert units_at(r, 1) == {
        "stopped_after_pageview1",
        "stopped_after_insightview",
        "stopped_after_insightview2",
        "stopped_after_insightview3",
        "stopped_after_insightview6",
    }
    assert units_at(r, 2) == {
        "stopped_after_insightview",
        "stopped_after_insightview2",
        "stopped_after_insightview3",
    }
    assert units_at(r, 3) == {"stopped_after_insightview3"}
    # the ordered 'any' mode anchors at 'user signed up' and so counts 4 units, not 8
    assert fn.funnel(p, steps, mode="any")["reached"][0] == 4


def test_posthog_basic_unordered_funnel_conversion_times():
    df = persons(
        {
            "stopped_after_signup1": [("user signed up", "2021-05-02 00:00:00")],
            "stopped_after_pageview1": [
                ("$pageview", "2021-05-02 00:00:00"),
                ("user signed up", "2021-05-02 01:00:00"),
            ],
            "stopped_after_insightview": [
                ("insight viewed", "2021-05-02 00:00:00"),
                ("user signed up", "2021-05-02 02:00:00"),
                ("$pageview", "2021-05-02 04:00:00"),
                ("$pageview", "2021-05-03 00:00:00"),
                ("insight viewed", "2021-05-03 03:00:00"),
                ("user signed up", "2021-05-03 06:00:00"),
            ],
        }
    )
    steps = ["user signed up", "$pageview", "insight viewed"]
    p = ev.prepare(df)
    r = fn.reached_events(p, steps, mode="unordered", window=timedelta(days=1))
    assert fn.funnel_table(r, steps)["reached"].to_list() == [3, 2, 1]
    # PostHog (UDF funnels: the first conversion): average step-to-step times 5400 s and 7200 s
    wide = r.pivot(on="k", index="unit", values="at")
    gap = [(wide[str(k)] - wide[str(k - 1)]).drop_nulls() / 1e6 for k in (1, 2)]
    assert [g.mean() for g in gap] == [5400, 7200]


EXCLUSION_CASE = {
    "person1": [("user signed up", "2021-05-01 01:00:00"), ("paid", "2021-05-01 02:00:00")],
    "person2": [
        ("user signed up", "2021-05-01 03:00:00"),
        ("x", "2021-05-01 03:30:00"),
        ("paid", "2021-05-01 04:00:00"),
    ],
    "person3": [("user signed up", "2021-05-01 05:00:00"), ("paid", "2021-05-01 06:00:00")],
}


def test_posthog_exclusions_full_window_unordered_and_ordered():
    p = ev.prepare(persons(EXCLUSION_CASE))
    steps = ["user signed up", "paid"]
    kw = {"window": timedelta(days=14), "exclusions": [("x", 0, 1)]}
    # unordered: person2 still completes 1 step from the 'paid' anchor (PostHog: 3, 2)
    r = fn.reached_events(p, steps, mode="unordered", **kw)
    assert fn.funnel_table(r, steps)["reached"].to_list() == [3, 2]
    assert units_at(r, 1) == {"person1", "person3"}
    # ordered: person2 drops out entirely (PostHog test_funnel.py: 2, 2)
    f = fn.funnel(p, steps, **kw)
    assert f["reached"].to_list() == [2, 2]


def test_posthog_unordered_exclusion_after_completion():
    p = ev.prepare(
        log(
            [
                ("p", 1, "user signed up"),
                ("p", 2, "paid"),
                ("p", 3, "left"),
                ("p", 4, "x"),
                ("p", 5, "left"),
            ]
        )
    )
    steps = ["user signed up", "paid", "left"]
    f = fn.funnel(p, steps, mode="unordered", window=timedelta(days=14), exclusions=[("x", 0, 2)])
    assert f["reached"].to_list() == [1, 1, 1]


def test_posthog_rejects_partial_exclusions_in_unordered_funnels():
    p = ev.prepare(persons(EXCLUSION_CASE))
    with pytest.raises(ValueError, match="spans all its steps"):
        fn.funnel(p, ["user signed up", "paid", "blah"], mode="unordered", exclusions=[("x", 0, 1)])


# --- hand-computed cases ---------------------------------------------------------------------


def test_exclusion_between_middle_steps_by_hand():
    df = log(
        [
            ("u1", 0, "A"),
            ("u1", 1, "B"),
            ("u1", 2, "X"),
            ("u1", 3, "C"),  # X in B..C: out
            ("u2", 0, "A"),
            ("u2", 1, "X"),
            ("u2", 2, "B"),
            ("u2", 3, "C"),  # X before B: kept
            ("u3", 0, "A"),
            ("u3", 1, "B"),
            ("u3", 2, "X"),  # never reached C, X after B: out
            ("u4", 0, "A"),
            ("u4", 1, "B"),
            ("u4", 3, "C"),
            ("u4", 4, "X"),  # X after C: kept
        ]
    )
    f = fn.funnel(ev.prepare(df), ["A", "B", "C"], exclusions=[("X", 1, 2)])
    assert f["reached"].to_list() == [2, 2, 2]
    # with a window, an X after the window's end does not count for an unreached step
    df2 = log([("v", 0, "A"), ("v", 1, "B"), ("v", 100, "X")])
    f2 = fn.funnel(
        ev.prepare(df2), ["A", "B", "C"], window=timedelta(seconds=10), exclusions=[("X", 1, 2)]
    )
    assert f2["reached"].to_list() == [1, 1, 0]


def test_first_and_best_attempt_by_hand():
    # u: first attempt A(0) B(1) then stops; second attempt A(10) B(11) C(12)
    df = log([("u", 0, "A"), ("u", 1, "B"), ("u", 10, "A"), ("u", 11, "B"), ("u", 12, "C")])
    p = ev.prepare(df)
    steps = ["A", "B", "C"]
    w = timedelta(seconds=5)
    assert fn.funnel(p, steps, window=w)["reached"].to_list() == [1, 1, 0]
    best = fn.funnel(p, steps, window=w, attempt="best")
    assert best["reached"].to_list() == [1, 1, 1]
    assert best["mean_seconds_from_start"].to_list() == [0, 1, 2]  # from the second entry
    # strict: first attempt A B X; second A B C
    df2 = log(
        [("u", 0, "A"), ("u", 1, "B"), ("u", 2, "X"), ("u", 3, "A"), ("u", 4, "B"), ("u", 5, "C")]
    )
    p2 = ev.prepare(df2)
    assert fn.funnel(p2, steps, mode="strict")["reached"].to_list() == [1, 1, 0]
    assert fn.funnel(p2, steps, mode="strict", attempt="best")["reached"].to_list() == [1, 1, 1]
    # an exclusion discards the spoiled attempt only
    df3 = log([("u", 0, "A"), ("u", 1, "X"), ("u", 2, "B"), ("u", 10, "A"), ("u", 11, "B")])
    p3 = ev.prepare(df3)
    assert fn.funnel(p3, ["A", "B"], exclusions=[("X", 0, 1)])["reached"].to_list() == [0, 0]
    got = fn.funnel(p3, ["A", "B"], exclusions=[("X", 0, 1)], attempt="best")
    assert got["reached"].to_list() == [1, 1]


# --- a row-by-row oracle for every mode, attempt and exclusion --------------------------------


def oracle(df, steps, mode, window, attempt, exclusion) -> dict[str, list[float]]:
    out = {}
    rows = df.with_row_index("row").sort("customer", "timestamp", "row")
    for (unit,), g in rows.group_by("customer", maintain_order=True):
        names, times = g["event"].to_list(), g["timestamp"].to_list()
        if mode == "unordered":
            anchors = [i for i, n in enumerate(names) if n in steps]
        else:
            anchors = [i for i, n in enumerate(names) if n == steps[0]]
        if attempt == "first":
            anchors = anchors[:1]
        best = None
        for e in anchors:
            got, idx = attempt_depth(names, times, steps, mode, window, e)
            if exclusion and excluded(names, times, idx, exclusion, window, e):
                continue
            if best is None or len(got) > len(best):
                best = got
        if best is not None:
            out[unit] = best
    return out


def attempt_depth(names, times, steps, mode, window, e):
    t0 = times[e]
    ok = lambda i: window is None or times[i] <= t0 + window  # noqa: E731
    idx = [e]
    if mode == "unordered":
        hits = []
        for s in steps:
            cand = [i for i in range(e, len(names)) if names[i] == s and ok(i)]
            if cand:
                hits.append(cand[0])
        idx = sorted(hits)
    elif mode == "sequential":
        for i in range(e + 1, len(names)):
            if len(idx) < len(steps) and names[i] == steps[len(idx)] and ok(i):
                idx.append(i)
    elif mode == "strict":
        for j in range(1, len(steps)):
            i = e + j
            if i < len(names) and names[i] == steps[j] and ok(i):
                idx.append(i)
            else:
                break
    else:
        for j in range(1, len(steps)):
            cand = [i for i in range(e + 1, len(names)) if names[i] == steps[j] and ok(i)]
            if not cand:
                break
            idx.append(max(idx[-1], cand[0]))
    return [(times[i] - t0).total_seconds() for i in idx], idx


def excluded(names, times, idx, exclusion, window, e):
    name, a, b = exclusion
    if len(idx) <= a:
        return False
    lo = idx[a]
    for i in range(lo + 1, len(names)):
        if names[i] != name:
            continue
        if len(idx) > b:
            if i < idx[b]:
                return True
        elif window is None or times[i] <= times[e] + window:
            return True
    return False


event_logs = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.integers(0, 12),
        st.sampled_from(["A", "B", "C", "X", "Y"]),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    rows=event_logs,
    steps=st.permutations(["A", "B", "C"]).map(list) | st.just(["B", "A"]),
    mode=st.sampled_from(fn.MODES),
    window=st.sampled_from([None, 0, 4]),
    attempt=st.sampled_from(["first", "best"]),
    excl=st.booleans(),
)
def test_every_mode_attempt_and_exclusion_match_the_oracle(
    rows, steps, mode, window, attempt, excl
):
    df = log(rows)
    win = None if window is None else timedelta(seconds=window)
    exclusion = ("X", 0, len(steps) - 1) if excl else None
    r = fn.reached_events(
        ev.prepare(df),
        steps,
        mode=mode,
        window=win,
        attempt=attempt,
        exclusions=[exclusion] if exclusion else [],
    )
    want = oracle(df, steps, mode, win, attempt, exclusion)
    got = {}
    for unit, _k, t0, at in r.sort("unit", "k").iter_rows():
        got.setdefault(unit, []).append((at - t0) / 1e6)
    assert {u: len(d) for u, d in got.items()} == {u: len(d) for u, d in want.items()}
    assert got == want


def test_exclusion_at_the_window_end_real_timestamps():
    # a real epoch timestamp × 2³² overflows Int64: the window end must be computed in Int128
    df = log([("u", 0, "A"), ("u", 0, "X"), ("u", 5, "X")])
    p = ev.prepare(df)
    got = fn.funnel(p, ["A", "B"], window=timedelta(0), exclusions=[("X", 0, 1)])
    assert got["reached"].to_list() == [0, 0]  # X in the same second, a later row
    df2 = log([("u", 0, "A"), ("u", 5, "X")])
    got2 = fn.funnel(
        ev.prepare(df2), ["A", "B"], window=timedelta(seconds=4), exclusions=[("X", 0, 1)]
    )
    assert got2["reached"].to_list() == [1, 0]  # X after the window's end does not count
