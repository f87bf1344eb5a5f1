"""The public API of truenorth.retention: inputs, pooled and per-cohort fits, bad input."""

from __future__ import annotations

import math

import polars as pl
import pytest

from truenorth import retention
from truenorth.retention import NotIdentifiedError, RetentionInputError

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def records_from_survivors(survivors, start=0, first_id=0):
    """One row per customer: start period, first unpaid period (None: still active)."""
    rows, cid = [], first_id
    k = len(survivors) - 1
    for t in range(k):
        for _ in range(survivors[t] - survivors[t + 1]):
            rows.append((cid, start, start + t + 1))
            cid += 1
    for _ in range(survivors[k]):
        rows.append((cid, start, None))
        cid += 1
    return rows


def frame(rows):
    return pl.DataFrame(
        rows, schema={"id": pl.Int64, "start": pl.Int64, "end": pl.Int64}, orient="row"
    )


def test_records_give_the_same_fit_as_survivor_counts():
    recs = frame(records_from_survivors(REGULAR, start=3))
    by_records = retention.fit_records(recs, observation_end=3 + 7)
    by_counts = retention.fit(REGULAR)
    assert by_records.params == pytest.approx(by_counts.params, rel=1e-9)
    assert by_records.log_likelihood == pytest.approx(by_counts.log_likelihood, rel=1e-12)
    (c,) = retention.cohort_counts(recs, observation_end=10)
    assert (
        c.label == "3"
        and c.at_risk()[0] == 1000
        and c.observed_survival()[7] == pytest.approx(0.241)
    )


def test_pooled_cohorts_with_unequal_observation():
    # the high end cohort joined 3 periods later: observed for 4 renewals only
    rows = records_from_survivors(REGULAR, start=0) + records_from_survivors(
        HIGH_END[:5], start=3, first_id=5000
    )
    counts = retention.cohort_counts(frame(rows), observation_end=7)
    assert [c.label for c in counts] == ["0", "3"] and [c.periods for c in counts] == [7, 4]
    pooled = retention.fit_counts(counts)
    ll = retention.log_likelihood("sbg", list(pooled.params.values()), counts)
    assert ll == pytest.approx(pooled.log_likelihood, rel=1e-12)
    assert ll == pytest.approx(
        sum(retention.log_likelihood("sbg", list(pooled.params.values()), [c]) for c in counts)
    )
    same = retention.fit([REGULAR, HIGH_END[:5]])  # survivor lists, pooled
    assert same.params == pytest.approx(pooled.params, rel=1e-8)
    each = retention.fit_each(counts)
    assert [f.model is not None for f in each] == [True, True]
    assert each[0].model.params == pytest.approx(retention.fit(REGULAR).params, rel=1e-8)
    assert pooled.aic == pytest.approx(4 - 2 * pooled.log_likelihood)
    assert pooled.bic == pytest.approx(2 * math.log(2000) - 2 * pooled.log_likelihood)


def test_summary_and_values():
    m = retention.fit(REGULAR)
    s = m.summary()
    assert s["parameter"].to_list() == ["alpha", "beta"] and s["std_error"].null_count() == 0
    assert m.survival(0) == [1.0]
    assert m.projected_survivors(500, [1]) == pytest.approx([500 * m.survival(1)[0]])
    d = 0.1
    assert m.residual_value(50, d, 2) == pytest.approx(50 * m.derl(d, 2))
    # value at acquisition = m · Σ_t S(t)/(1+d)^t
    direct = sum(s / (1 + d) ** t for t, s in enumerate(m.survival(range(0, 600))))
    assert m.customer_value(1.0, d) == pytest.approx(direct, rel=1e-9)
    # a survivor of more renewals is worth more (sorting: the stayers are the loyal ones)
    derls = m.derls(d, [0, 1, 5, 20])
    assert derls == sorted(derls)


@pytest.mark.parametrize(
    "survivors, message",
    [
        ([1000, 631, 640, 382], r"survivors\[2\] = 640 > survivors\[1\] = 631"),
        ([0, 0, 0], r"survivors\[0\] = 0: a cohort needs at least one customer"),
        ([100, -5, 3], r"survivors\[1\] = -5 is negative"),
        ([100], r"1 survivor count\(s\)"),
        ([100, float("nan"), 3], r"survivors\[1\]: expected a finite number"),
        ([100, "80", 3], r"survivors\[1\]: expected a number"),
    ],
)
def test_bad_survivor_counts(survivors, message):
    with pytest.raises(RetentionInputError, match=message):
        retention.fit(survivors)


def test_bad_records_name_column_and_row():
    with pytest.raises(
        RetentionInputError, match=r"column 'end': row 2 ends in period 1, before it starts"
    ):
        retention.fit_records(frame([(1, 0, 2), (2, 3, 1), (3, 0, None)]))
    with pytest.raises(RetentionInputError, match=r"row 1 ends in its start period 4"):
        retention.fit_records(frame([(1, 4, 4)]))
    with pytest.raises(
        RetentionInputError, match=r"column 'start' \(start period\): null at row 2"
    ):
        retention.fit_records(frame([(1, 0, 2), (2, None, 1)]))
    with pytest.raises(
        RetentionInputError, match=r"row 1 starts in period 9, after the observation end 5"
    ):
        retention.fit_records(frame([(1, 9, None)]), observation_end=5)
    with pytest.raises(RetentionInputError, match=r"no column 'joined'"):
        retention.fit_records(frame([(1, 0, 2)]), start="joined")
    bad = pl.DataFrame({"start": [0.0, 1.5], "end": [2.0, None]})
    with pytest.raises(RetentionInputError, match=r"1.5 at row 2 is not a whole period number"):
        retention.fit_records(bad)
    with pytest.raises(RetentionInputError, match="no records"):
        retention.fit_records(frame([]))


@pytest.mark.parametrize(
    "survivors, message",
    [
        ([100, 60], "1 renewal period"),
        ([100, 100, 100, 100], "no customer churned"),
        ([100, 0, 0, 0], "every customer churned at the first renewal"),
        ([10000, 5000, 2500, 1250, 625], "not identified"),  # constant retention: no heterogeneity
    ],
)
def test_non_identifiable_fits_say_so(survivors, message):
    with pytest.raises(NotIdentifiedError, match=message):
        retention.fit(survivors)


def test_bdw_needs_three_periods_and_fit_each_reports_instead_of_raising():
    with pytest.raises(NotIdentifiedError, match="bdw needs at least 3"):
        retention.fit([100, 60, 40], model="bdw")
    counts = [retention.survivor_counts(REGULAR, "a"), retention.survivor_counts([50, 20], "b")]
    out = retention.fit_each(counts)
    assert out[0].model is not None and out[0].problem is None
    assert out[1].model is None and "cohort b" in out[1].problem


def test_bad_arguments():
    m = retention.fit(REGULAR)
    with pytest.raises(RetentionInputError, match="discount_rate 0"):
        m.derl(0)
    with pytest.raises(RetentionInputError, match="whole numbers"):
        m.survival([1.5])
    with pytest.raises(RetentionInputError, match="model 'weibull'"):
        retention.fit(REGULAR, model="weibull")
    with pytest.raises(RetentionInputError, match="cohort z: no customers"):
        retention.fit_counts([retention.CohortCounts("z", [0.0], [0.0, 0.0])])


def test_no_nan_anywhere_on_extreme_but_valid_data():
    # nearly everyone leaves at once, a handful stay for ever
    m = retention.fit([100000, 1000, 990, 985, 983, 982])
    values = [*m.params.values(), m.log_likelihood, *m.survival(range(50)), m.derl(0.01, 3)]
    assert all(math.isfinite(v) for v in values)


def test_extreme_periods_are_refused_not_overflowed():
    with pytest.raises(
        RetentionInputError, match=r"column 'start': period -9223372036854775808 at row 1"
    ):
        retention.fit_records(frame([(1, -(2**63), 0)]))
    with pytest.raises(RetentionInputError, match=r"at most 10000 renewal periods"):
        retention.fit_records(frame([(1, 0, None), (2, 20_000, 20_001)]))
