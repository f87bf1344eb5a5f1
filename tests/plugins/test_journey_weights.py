"""Journey weights (a count column) and funnel step ranges (from_step / to_step)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import truenorth
from truenorth.builtins.journey import JourneyOptions, analyse
from truenorth.errors import DataError

T0 = datetime(2024, 1, 1)
STEPS = ["A", "B", "C"]


def log(rows: list[tuple]) -> pl.DataFrame:
    df = pl.DataFrame(
        rows,
        schema={"customer": pl.String, "s": pl.Int64, "event": pl.String, "group": pl.String,
                "w": pl.Int64},
        orient="row",
    )  # fmt: skip
    return df.with_columns(timestamp=pl.lit(T0) + pl.duration(seconds=pl.col("s"))).drop("s")


units = st.lists(
    st.tuples(
        st.lists(st.tuples(st.sampled_from(["A", "B", "C", "x"]), st.integers(0, 50)),
                 min_size=1, max_size=6),
        st.integers(0, 4),
        st.sampled_from(["g1", "g2"]),
    ),
    min_size=1,
    max_size=8,
)  # fmt: skip

VIEWS = ["funnel", "funnel_breakdown", "funnel_comparison", "time_to_convert", "funnel_range"]


@settings(max_examples=40, deadline=None)
@given(units, st.sampled_from(["sequential", "strict", "any", "unordered"]))
def test_weighted_rows_equal_replicated_rows(data, mode):
    weighted, replicated = [], []
    for u, (events, w, group) in enumerate(data):
        for e, s in events:
            weighted.append((f"u{u}", s, e, group, w))
            replicated.extend((f"u{u}-{c}", s, e, group, 1) for c in range(w))
    opts = {"steps": STEPS, "mode": mode, "breakdown": "group", "from_step": 1, "to_step": 3,
            "compare": {"column": "group", "baseline": "g1", "current": "g2"}}  # fmt: skip
    groups = {g for _, w, g in data if w}
    if groups != {"g1", "g2"}:  # the comparison needs units of both groups
        opts.pop("compare")
    a, _ = analyse(log(weighted), JourneyOptions(weight="w", **opts))
    if not replicated:
        assert a["funnel"]["reached"].sum() == 0
        return
    b, _ = analyse(log(replicated), JourneyOptions(**opts))
    for name in VIEWS:
        if name in b:
            assert a[name].equals(b[name]), name


def test_weighted_funnel_by_hand():
    # u (weight 3): A at 0, B at 10; v (weight 1): A at 0, B at 50; z (weight 0): A only.
    rows = [("u", 0, "A", None, 3), ("u", 10, "B", None, 3), ("v", 0, "A", None, 1),
            ("v", 50, "B", None, 1), ("z", 0, "A", None, 0)]  # fmt: skip
    t, _ = analyse(log(rows), JourneyOptions(steps=["A", "B"], weight="w"))
    f = t["funnel"]
    assert f["reached"].to_list() == [4, 4]
    assert f["mean_seconds_from_start"][1] == pytest.approx((3 * 10 + 50) / 4)
    assert f["median_seconds_from_start"][1] == 10.0  # of 10, 10, 10, 50
    assert t["time_to_convert"]["units"].sum() == 4


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [("u", 0, "A", None, 2), ("u", 1, "B", None, 3)],
            "row 2: weight 3 differs from 2 on row 1",
        ),
        ([("u", 0, "A", None, None)], "row 1: missing value"),
        ([("u", 0, "A", None, -1)], "row 1"),
    ],
)
def test_bad_weights_name_column_and_row(rows, message):
    with pytest.raises(DataError, match="column 'w', " + message):
        analyse(log(rows), JourneyOptions(steps=["A", "B"], weight="w"))


def test_fractional_weight_is_an_error():
    frame = log([("u", 0, "A", None, 1)]).with_columns(pl.lit(1.5).alias("w"))
    with pytest.raises(DataError, match=r"column 'w', row 1: value 1\.5 is not a whole number"):
        analyse(frame, JourneyOptions(steps=["A", "B"], weight="w"))


RANGE_ROWS = [
    # a: A, B, C (B at 10, C at 40); b: A, B (B at 20); c: A only; d: B, C (never entered A).
    ("a", 0, "A", None, 1), ("a", 10, "B", None, 1), ("a", 40, "C", None, 1),
    ("b", 0, "A", None, 1), ("b", 20, "B", None, 1),
    ("c", 0, "A", None, 1),
    ("d", 0, "B", None, 1), ("d", 5, "C", None, 1),
]  # fmt: skip


@pytest.mark.parametrize(("start", "end"), [("B", "C"), (2, 3), (2, None)])
def test_step_range_by_hand(start, end):
    t, _ = analyse(log(RANGE_ROWS), JourneyOptions(steps=STEPS, from_step=start, to_step=end))
    row = t["funnel_range"].row(0, named=True)
    # Of the 2 units reaching B (a, b: d never entered the funnel), only a reaches C, 30 s later.
    assert row == {
        "from_step_index": 2, "from_step": "B", "to_step_index": 3, "to_step": "C",
        "entered": 2, "converted": 1, "conversion_rate": 0.5, "drop_off": 1,
        "median_seconds": 30.0, "mean_seconds": 30.0,
    }  # fmt: skip
    first_to_last, _ = analyse(log(RANGE_ROWS), JourneyOptions(steps=STEPS, to_step="C"))
    assert first_to_last["funnel_range"]["conversion_rate"][0] == pytest.approx(1 / 3)
    assert "funnel_range" not in analyse(log(RANGE_ROWS), JourneyOptions(steps=STEPS))[0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"from_step": "Z"}, "'Z' is not one of the steps"),
        ({"from_step": 0}, "step index 0 is not between 1 and 3"),
        ({"from_step": "C", "to_step": "B"}, "to_step 'B' must come after from_step 'C'"),
        ({"to_step": 1}, "to_step 1 must come after from_step 1"),
        ({"mode": "unordered", "to_step": "C"}, "give a 1-based index"),
    ],
)
def test_bad_step_range_is_rejected_at_load(options, message):
    with pytest.raises(ValueError, match=message):
        JourneyOptions(steps=STEPS, **options)


def test_step_range_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "j.yaml"
    path.write_text(
        """truenorth: 1
pack: p
datasets:
  events: {path: e.csv}
rules:
  - id: j
    kind: journey
    with:
      steps: [A, B, C]
      from_step: C
      to_step: B
"""
    )
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(path)
    (problem,) = info.value.problems
    assert (problem.location.line, problem.location.column) == (11, 16)
    assert "to_step 'B' must come after from_step 'C'" in problem.message
    assert str(path) in str(info.value)
