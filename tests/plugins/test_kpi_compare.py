"""KPI comparisons between periods and segments: each test checked against scipy on the raw
answers or a hand-computed formula, and the rule's findings gated on significance."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError
from scipy import stats

from truenorth.builtins.kpi import KpiOptions, compute_tables
from truenorth.builtins.kpi.compare import _betainc, _t_quantile, _t_sf
from truenorth.errors import DataError
from truenorth.testing import run_rule

D = dt.date


def kpis(options: dict[str, Any], **tables: pl.DataFrame) -> pl.DataFrame:
    o = KpiOptions.model_validate(options)
    out = compute_tables(o, lambda n: tables[n].lazy(), lambda n: n in tables, rule_id="r")
    return out[o.table]


def row(frame: pl.DataFrame, subject: str) -> dict[str, Any]:
    rows = frame.filter(pl.col("subject") == subject).to_dicts()
    assert len(rows) == 1, (subject, frame)
    return rows[0]


def answers(jan: list[int], feb: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "score": jan + feb,
            "time": [D(2026, 1, 5)] * len(jan) + [D(2026, 2, 5)] * len(feb),
        }
    )


def test_student_t_tail_matches_scipy():
    for t, df in [(0.5, 3.0), (2.1, 7.5), (4.0, 1.0), (1.96, 500.0), (0.0, 10.0)]:
        assert _t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-10, abs=1e-14)
    for p, df in [(0.975, 4.0), (0.95, 30.0), (0.995, 2.5)]:
        assert _t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-8)
    assert _betainc(2.0, 3.0, 0.4) == pytest.approx(stats.beta.cdf(0.4, 2.0, 3.0), rel=1e-12)


def test_csat_two_proportion_test_between_periods():
    jan = [5] * 80 + [2] * 20  # 80% satisfied of 100
    feb = [5] * 60 + [1] * 40  # 60% of 100
    t = kpis(
        {"metric": "csat", "period": "1mo", "benchmark": {"period": "2026-01-01"}},
        survey=answers(jan, feb),
    )
    r = row(t, "2026-02-01")
    assert r["delta"] == pytest.approx(-0.2)
    pooled = 140 / 200
    z = -0.2 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert r["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    se = math.sqrt(0.8 * 0.2 / 100 + 0.6 * 0.4 / 100)
    assert r["delta_ci_low"] == pytest.approx(-0.2 - stats.norm.ppf(0.975) * se)
    assert r["delta_ci_high"] == pytest.approx(-0.2 + stats.norm.ppf(0.975) * se)
    assert r["significant"] is True
    # the baseline period itself and the overall row are not tested
    assert row(t, "2026-01-01")["p_value"] is None
    assert row(t, "overall")["p_value"] is None


def test_ces_means_use_welch_t_like_scipy():
    jan = [5, 6, 7, 4, 5, 6, 5, 7, 6, 5, 4, 6]
    feb = [3, 4, 5, 2, 4, 3, 6, 4]
    t = kpis(
        {"metric": "ces", "period": "1mo", "benchmark": {"period": "previous"}},
        survey=answers(jan, feb),
    )
    r = row(t, "2026-02-01")
    ref = stats.ttest_ind(feb, jan, equal_var=False)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-8)
    ci = ref.confidence_interval(0.95)
    assert r["delta_ci_low"] == pytest.approx(ci.low, rel=1e-6)
    assert r["delta_ci_high"] == pytest.approx(ci.high, rel=1e-6)
    assert row(t, "2026-01-01")["p_value"] is None  # no previous period


def test_nps_difference_uses_the_sum_of_the_two_variances():
    jan = [10] * 50 + [8] * 30 + [3] * 20  # NPS 30
    feb = [10] * 35 + [8] * 30 + [3] * 35  # NPS 0
    t = kpis(
        {"metric": "nps", "period": "1mo", "benchmark": {"period": "previous"}},
        survey=answers(jan, feb),
    )
    r = row(t, "2026-02-01")

    def var(p: float, d: float, n: int) -> float:
        return 10_000 * (p + d - (p - d) ** 2) / n

    se = math.sqrt(var(0.5, 0.2, 100) + var(0.35, 0.35, 100))
    assert r["delta"] == pytest.approx(-30.0)
    assert r["p_value"] == pytest.approx(2 * stats.norm.sf(30 / se), rel=1e-9)
    assert r["delta_ci_low"] == pytest.approx(-30 - stats.norm.ppf(0.975) * se)


def test_segment_baseline_compares_segments_in_the_same_period():
    df = pl.DataFrame(
        {
            "score": [5] * 90 + [1] * 10 + [5] * 70 + [1] * 30 + [5] * 88 + [1] * 12,
            "region": ["north"] * 100 + ["south"] * 100 + ["east"] * 100,
        }
    )
    t = kpis({"metric": "csat", "by": "region", "benchmark": {"segment": "north"}}, survey=df)
    south, east = row(t, "south"), row(t, "east")
    assert south["benchmark"] == pytest.approx(0.9) and south["significant"] is True
    assert east["significant"] is False  # 88% vs 90%: noise at n = 100
    assert row(t, "north")["p_value"] is None


def test_findings_only_for_significant_changes_beyond_a_threshold():
    # Feb is worse in both regions by 10 points; only the large region's drop is significant.
    big_jan, big_feb = [5] * 900 + [1] * 100, [5] * 800 + [1] * 200
    small_jan, small_feb = [5] * 9 + [1] * 1, [5] * 8 + [1] * 2
    scores = big_jan + big_feb + small_jan + small_feb
    months = [D(2026, 1, 5)] * 1000 + [D(2026, 2, 5)] * 1000 + [D(2026, 1, 5)] * 10
    months += [D(2026, 2, 5)] * 10
    df = pl.DataFrame({"score": scores, "time": months, "region": ["big"] * 2000 + ["small"] * 20})
    result = run_rule(
        "kpi",
        {"metric": "csat", "by": "region", "period": "1mo", "benchmark": {"period": "previous"}},
        {"survey": df},
        warn="significant AND delta < -0.05",
    )
    assert sorted(result.findings["subject"].to_list()) == ["2026-02-01", "big @ 2026-02-01"]


def test_baseline_options_are_validated():
    with pytest.raises(ValidationError, match="either `period` or `segment`"):
        KpiOptions.model_validate({"metric": "nps", "period": "1mo", "benchmark": {}})
    with pytest.raises(ValidationError, match="needs `by`"):
        KpiOptions.model_validate({"metric": "nps", "benchmark": {"segment": "north"}})
    with pytest.raises(ValidationError, match="needs `period`"):
        KpiOptions.model_validate({"metric": "nps", "benchmark": {"period": "previous"}})
    with pytest.raises(ValidationError, match="confidence"):
        KpiOptions.model_validate(
            {"metric": "nps", "period": "1mo", "benchmark": {"period": "previous", "confidence": 1}}
        )


def test_unknown_baseline_segment_is_a_data_error():
    df = pl.DataFrame({"score": [5, 4], "region": ["a", "b"]})
    with pytest.raises(DataError, match=r"baseline segment 'zzz'.*'a', 'b'"):
        kpis({"metric": "csat", "by": "region", "benchmark": {"segment": "zzz"}}, survey=df)
