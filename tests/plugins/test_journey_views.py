"""Funnel breakdowns, time to convert, group comparison and their options."""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl
import pytest
from pydantic import ValidationError
from scipy import stats

from truenorth import Rule
from truenorth.builtins import journey
from truenorth.builtins.journey import JourneyOptions, analyse
from truenorth.builtins.journey import compare as cmp
from truenorth.errors import DataError
from truenorth.testing import rule_context

T0 = datetime(2024, 1, 1)


def log(rows: list[tuple], extra: str = "channel") -> pl.DataFrame:
    df = pl.DataFrame(
        rows,
        schema={"customer": pl.String, "s": pl.Int64, "event": pl.String, extra: pl.String},
        orient="row",
    )
    return df.with_columns(timestamp=pl.lit(T0) + pl.duration(seconds=pl.col("s"))).drop("s")


def run(frame, warn=None, **options):
    ctx = rule_context("journey", options, {"events": frame}, rule_id="j", warn=warn)
    return journey.evaluate(ctx)


ROWS = [
    ("a", 0, "A", None),
    ("a", 1, "B", "ads"),
    ("a", 61, "C", "mail"),  # first value: ads
    ("b", 0, "A", "ads"),
    ("b", 10, "B", None),
    ("c", 0, "A", "mail"),
    ("c", 100, "B", None),
    ("c", 400, "C", None),
    ("d", 0, "A", None),  # no value: (none)
    ("e", 0, "B", "seo"),  # never enters
]


def test_breakdown_by_first_value_by_hand():
    tables, _ = analyse(log(ROWS), JourneyOptions(steps=["A", "B", "C"], breakdown="channel"))
    b = tables["funnel_breakdown"]
    got = {(r["breakdown"], r["step"]): r["reached"] for r in b.iter_rows(named=True)}
    assert got == {
        ("ads", "A"): 2,
        ("ads", "B"): 2,
        ("ads", "C"): 1,
        ("mail", "A"): 1,
        ("mail", "B"): 1,
        ("mail", "C"): 1,
        ("(none)", "A"): 1,
        ("(none)", "B"): 0,
        ("(none)", "C"): 0,
    }
    assert b["breakdown"].unique(maintain_order=True).to_list() == ["ads", "(none)", "mail"]
    # breakdown rows add up to the overall funnel
    total = b.group_by("step").agg(pl.col("reached").sum()).sort("step")["reached"].to_list()
    assert total == tables["funnel"]["reached"].to_list()
    limited, _ = analyse(
        log(ROWS), JourneyOptions(steps=["A", "B", "C"], breakdown="channel", breakdown_limit=1)
    )
    lb = limited["funnel_breakdown"]
    assert lb["breakdown"].unique(maintain_order=True).to_list() == ["ads", "(other)"]
    assert lb.filter(pl.col("breakdown") == "(other)")["reached"].to_list() == [2, 1, 1]


def test_time_to_convert_histogram_by_hand():
    tables, _ = analyse(log(ROWS), JourneyOptions(steps=["A", "B", "C"], time_bins=3))
    t = tables["time_to_convert"]
    # A -> C: a 61 s, c 400 s; bins of (400-61)/3 = 113 s
    assert t["units"].to_list() == [1, 0, 1]
    assert t["lower_seconds"][0] == 61 and t["upper_seconds"][2] == 400
    assert t["lower_seconds"][1] == pytest.approx(61 + 113)
    assert t["cumulative_share"].to_list() == [0.5, 0.5, 1.0]
    tables, _ = analyse(
        log(ROWS), JourneyOptions(steps=["A", "B", "C"], convert_from="B", convert_to="C")
    )
    t = tables["time_to_convert"]
    assert t["from_step"][0] == "B" and t["units"].sum() == 2
    assert (t["lower_seconds"][0], t["upper_seconds"][-1]) == (60, 300)
    # no unit converts: an empty table, not NaN
    tables, _ = analyse(log(ROWS[:2]), JourneyOptions(steps=["A", "B", "C"]))
    assert tables["time_to_convert"].height == 0


def test_two_proportions_against_scipy():
    d, lo, hi, z, p = cmp.two_proportions(45, 120, 30, 130, alpha=0.1)
    table = [[45, 75], [30, 100]]
    chi2, p_chi, _, _ = stats.chi2_contingency(table, correction=False)
    assert z is not None and p is not None and lo is not None and hi is not None
    assert z**2 == pytest.approx(chi2) and p == pytest.approx(p_chi)
    pb, pc = 45 / 120, 30 / 130
    se = math.sqrt(pb * (1 - pb) / 120 + pc * (1 - pc) / 130)
    assert hi - d == pytest.approx(stats.norm.ppf(0.95) * se)
    assert cmp.two_proportions(0, 0, 1, 2) == (None,) * 5
    assert cmp.two_proportions(3, 3, 5, 5)[3:] == (None, None)  # zero pooled variance


def period_log() -> pl.DataFrame:
    rows = []
    # Q1: 100 enter, 60 add to cart, 30 buy; Q2: 100 enter, 40 add to cart, 20 buy
    for period, carts, buys in (("Q1", 60, 30), ("Q2", 40, 20)):
        for i in range(100):
            u = f"{period}-{i}"
            rows.append((u, 0, "view", period))
            if i < carts:
                rows.append((u, 1, "cart", period))
            if i < buys:
                rows.append((u, 2, "buy", period))
    return log(rows, extra="period")


def test_comparison_table_and_findings_by_hand():
    compare = {"column": "period", "baseline": "Q1", "current": "Q2"}
    out = run(period_log(), steps=["view", "cart", "buy"], compare=compare)
    t = out.tables["funnel_comparison"]
    assert t["step"].to_list() == ["cart", "buy"]
    assert t["baseline_rate"].to_list() == [0.6, 0.5]
    assert t["current_rate"].to_list() == [0.4, 0.5]
    # cart: pooled 0.5, z = -0.2 / sqrt(0.25 * 0.02) = -2.828..., p = 0.00468
    assert t["z"][0] == pytest.approx(-0.2 / math.sqrt(0.005))
    assert t["p_value"][0] == pytest.approx(math.erfc(0.2 / math.sqrt(0.005) / math.sqrt(2)))
    assert t["difference"][1] == 0 and t["p_value"][1] == 1
    worse = [f for f in out.findings if "significantly worse" in f.message]
    assert [f.subject for f in worse] == ["cart"]
    assert "60.0% vs" not in worse[0].message and "40.0% vs 60.0%" in worse[0].message


def test_comparison_errors_are_clear():
    with pytest.raises(DataError, match=r"no unit with value\(s\) 'Q3'.*found: Q1, Q2"):
        run(
            period_log(),
            steps=["view", "cart"],
            compare={"column": "period", "baseline": "Q1", "current": "Q3"},
        )
    with pytest.raises(DataError, match=r"lacks column.*'segment'"):
        run(
            period_log(),
            steps=["view", "cart"],
            compare={"column": "segment", "baseline": "Q1", "current": "Q3"},
        )
    with pytest.raises(ValidationError, match="must be different"):
        JourneyOptions(steps=["A", "B"], compare={"column": "p", "baseline": "x", "current": "x"})


def test_new_option_errors():
    with pytest.raises(ValidationError, match="'Z' is not one of the steps"):
        JourneyOptions(steps=["A", "B"], convert_to="Z")
    with pytest.raises(ValidationError, match="convert_from must come before"):
        JourneyOptions(steps=["A", "B"], convert_from="B", convert_to="A")
    with pytest.raises(ValidationError, match="is a funnel step"):
        JourneyOptions(steps=["A", "B"], exclusions=[{"event": "A"}])
    with pytest.raises(ValidationError, match="earlier step"):
        JourneyOptions(steps=["A", "B", "C"], exclusions=[{"event": "X", "after": "C"}])
    with pytest.raises(ValidationError, match="spans all steps"):
        JourneyOptions(
            steps=["A", "B", "C"], mode="unordered", exclusions=[{"event": "X", "before": "B"}]
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        JourneyOptions(steps=["A", "B"], exclusions=[{"event": "X", "form": "A"}])


def test_rule_with_every_funnel_option_declares_its_tables():
    opts = JourneyOptions(
        steps=["view", "cart", "buy"],
        mode="unordered",
        exclusions=[{"event": "refund"}],
        breakdown="period",
        compare={"column": "period", "baseline": "Q1", "current": "Q2"},
    )
    tables, _ = analyse(period_log(), opts)
    declared = journey.writes(opts, Rule(id="j", kind="journey", options=opts))
    assert set(tables) == set(declared)
    for name, frame in tables.items():
        assert dict(frame.schema) == dict(declared[name]), name
        for col, dtype in frame.schema.items():
            if dtype == pl.Float64:
                assert not frame[col].is_nan().any(), (name, col)
    assert tables["funnel"]["step"].to_list() == ["1 step", "2 steps", "3 steps"]
