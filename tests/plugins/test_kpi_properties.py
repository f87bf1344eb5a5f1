"""Property tests of the KPI math (hypothesis)."""

from __future__ import annotations

import datetime as dt
import statistics

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.builtins.kpi import compute as c

scores = st.lists(st.integers(0, 10), min_size=1, max_size=200)
segments = st.sampled_from(["a", "b", "c"])


@settings(max_examples=60, deadline=None)
@given(scores)
def test_nps_range_variance_and_interval(xs):
    out = c.nps(pl.LazyFrame({"score": xs}))
    r = out.row(0, named=True)
    assert -100 <= r["value"] <= 100
    assert r["ci_low"] <= r["value"] + 1e-9 and r["value"] <= r["ci_high"] + 1e-9
    assert -100 <= r["ci_low"] and r["ci_high"] <= 100
    # the multinomial variance p + d - (p - d)^2 is the population variance of +1/0/-1 codes
    coded = [1 if x >= 9 else (-1 if x <= 6 else 0) for x in xs]
    n = len(xs)
    p, d = coded.count(1) / n, coded.count(-1) / n
    assert p + d - (p - d) ** 2 == pytest.approx(statistics.pvariance(coded), abs=1e-12)
    assert r["value"] == pytest.approx(100 * statistics.fmean(coded))


@settings(max_examples=60, deadline=None)
@given(scores)
def test_adjusted_wald_interval_within_bounds_and_not_degenerate(xs):
    r = c.nps(pl.LazyFrame({"score": xs}), ci="adjusted_wald").row(0, named=True)
    assert -100 <= r["ci_low"] < r["ci_high"] <= 100


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), segments), min_size=1, max_size=100))
def test_segment_counts_add_up_to_overall(pairs):
    frame = pl.LazyFrame({"score": [p[0] for p in pairs], "seg": [p[1] for p in pairs]})
    out = c.nps(frame, grouping=c.Grouping(by="seg"))
    overall = out.filter(pl.col("subject") == "overall")
    per = out.filter(pl.col("segment").is_not_null())
    assert per["n"].sum() == overall["n"][0] == len(pairs)
    # the overall NPS is the n-weighted mean of the segments' NPS
    weighted = (per["value"] * per["n"]).sum() / per["n"].sum()
    assert weighted == pytest.approx(overall["value"][0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=100),
    st.sampled_from(["wald", "adjusted_wald"]),
)
def test_csat_share_in_unit_interval(xs, ci):
    r = c.csat(pl.LazyFrame({"score": xs}), ci=ci).row(0, named=True)
    assert 0 <= r["ci_low"] <= r["ci_high"] <= 1
    assert r["value"] == pytest.approx(sum(x >= 4 for x in xs) / len(xs))


days = st.integers(0, 365)


@st.composite
def subscriptions(draw):
    n = draw(st.integers(1, 40))
    base = dt.date(2025, 1, 1)
    starts, ends = [], []
    for _ in range(n):
        s = draw(days)
        e = draw(st.one_of(st.none(), st.integers(s, 400)))
        starts.append(base + dt.timedelta(days=s))
        ends.append(None if e is None else base + dt.timedelta(days=e))
    return pl.DataFrame({"start": starts, "end": ends}, schema={"start": pl.Date, "end": pl.Date})


@settings(max_examples=60, deadline=None)
@given(subscriptions())
def test_lifecycle_identities(subs):
    k = c.lifecycle_counts(subs.lazy())
    # stock flows: at_end = at_start + new - lost - (new who left in the same period)
    assert (k["at_end"] == k["at_start"] + k["new_remaining"] - k["lost"]).all()
    # the end of one period is the start of the next
    assert k["at_end"][:-1].to_list() == k["at_start"][1:].to_list()
    assert (k["lost"] <= k["at_start"]).all() and (k["at_start"] >= 0).all()
    # everyone who started is either still active at the end or left
    assert (
        k["at_end"][-1]
        == subs.filter(
            pl.col("end").is_null() | (pl.col("end") >= pl.lit(k["period"][-1]).dt.offset_by("1mo"))
        ).height
    )
    churn = c.churn_retention(subs.lazy(), metric="churn")["value"].drop_nulls()
    ret = c.churn_retention(subs.lazy(), metric="retention")["value"].drop_nulls()
    assert ((churn >= 0) & (churn <= 1)).all()
    assert churn.len() == ret.len()
    if churn.len():
        assert (churn + ret - 1).abs().max() < 1e-12  # retention = 1 - churn, new excluded


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 200)), min_size=1, max_size=60))
def test_cohort_curves(events):
    base = dt.date(2025, 1, 1)
    tx = pl.LazyFrame(
        {
            "customer": [f"c{e[0]}" for e in events],
            "time": [base + dt.timedelta(days=e[1]) for e in events],
        }
    )
    t = c.cohort_table(tx)
    assert (t.filter(pl.col("age") == 0)["retention"] == 1.0).all()
    assert ((t["retention"] >= 0) & (t["retention"] <= 1)).all()
    assert t.filter(pl.col("age") == 0)["customers"].sum() == len({e[0] for e in events})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(-5, 15)), st.one_of(st.none(), st.floats(0, 100))),
        min_size=1,
        max_size=50,
    ),
    st.sampled_from(["skip", "zero"]),
    st.sampled_from([10, 100]),
)
def test_health_score_bounded(rows, missing, scale):
    frame = pl.LazyFrame(
        {
            "customer": [str(i) for i in range(len(rows))],
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
        },
        schema={"customer": pl.String, "a": pl.Float64, "b": pl.Float64},
    )
    comps = [c.HealthComponent("a", 2.0, 0, 10), c.HealthComponent("b", 1.0, 0, 100, False)]
    s = c.health_scores(
        frame, comps, missing=missing, scale=scale, bands={"r": 0, "g": 0.7 * scale}
    )
    scores = s["score"].drop_nulls()
    assert ((scores >= 0) & (scores <= scale)).all()
    both_missing = [r[0] is None and r[1] is None for r in rows]
    if missing == "skip":
        assert s["score"].is_null().to_list() == both_missing
    else:
        assert s["score"].null_count() == 0
    assert (s.filter(pl.col("score") >= 0.7 * scale)["band"] == "g").all()


@settings(max_examples=40, deadline=None)
@given(subscriptions(), st.lists(st.tuples(st.integers(0, 45), st.integers(0, 420)), max_size=80))
def test_engagement_bounded_by_the_active_base(subs, events):
    subs = subs.with_row_index("customer").with_columns(pl.col("customer").cast(pl.String))
    base = dt.date(2025, 1, 1)
    ev = pl.LazyFrame(
        {
            "customer": [str(e[0]) for e in events],
            "time": [base + dt.timedelta(days=e[1]) for e in events],
        },
        schema={"customer": pl.String, "time": pl.Date},
    )
    out = c.engagement_rate(ev, subs.lazy())
    counts = c.lifecycle_counts(subs.lazy())
    per = out.filter(pl.col("period").is_not_null()).sort("period")
    assert per["n"].to_list() == (counts["at_start"] + counts["new"]).to_list()
    values = out["value"].drop_nulls()
    assert ((values >= 0) & (values <= 1)).all()
