"""The `kpi` rule kind: hand-computed small cases, published definitions, located data errors."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from truenorth.builtins.kpi import KIND, KpiOptions, compute_tables, evaluate
from truenorth.builtins.kpi import compute as c
from truenorth.errors import DataError
from truenorth.testing import rule_context

D = dt.date
Z95 = 1.959963984540054


def kpis(options: dict[str, Any], **tables: pl.DataFrame) -> pl.DataFrame:
    o = KpiOptions.model_validate(options)
    out = compute_tables(o, lambda n: tables[n].lazy(), lambda n: n in tables, rule_id="r")
    return out[o.table]


def row(frame: pl.DataFrame, subject: str = "overall") -> dict[str, Any]:
    rows = frame.filter(pl.col("subject") == subject).to_dicts()
    assert len(rows) == 1, (subject, frame)
    return rows[0]


# ---------------------------------------------------------------------------------------- NPS

NPS_SCORES = [10, 9, 8, 7, 6, 0, 10, 10, None, 3]  # 4 promoters, 3 detractors, 9 answers


def test_nps_hand_computed_wald():
    r = row(kpis({"metric": "nps"}, survey=pl.DataFrame({"score": NPS_SCORES})))
    assert r["n"] == 9
    assert r["value"] == pytest.approx(100 * (4 - 3) / 9)  # 11.11
    # var = p + d - (p - d)^2 = 7/9 - 1/81; se = sqrt(var / 9)
    se = math.sqrt((7 / 9 - 1 / 81) / 9)
    assert r["ci_low"] == pytest.approx(100 * (1 / 9 - Z95 * se))
    assert r["ci_high"] == pytest.approx(100 * (1 / 9 + Z95 * se))
    assert r["ci_low"] == pytest.approx(-46.05, abs=0.01)
    assert r["ci_high"] == pytest.approx(68.27, abs=0.01)


def test_nps_adjusted_wald_rocks_2016():
    # Rocks (2016) / Lewis & Sauro: n + 3, promoters + 3/4, detractors + 3/4.
    r = row(
        kpis({"metric": "nps", "ci": "adjusted_wald"}, survey=pl.DataFrame({"score": NPS_SCORES}))
    )
    assert r["value"] == pytest.approx(100 / 9)  # the point estimate is not adjusted
    p, d = 4.75 / 12, 3.75 / 12
    se = math.sqrt((p + d - (p - d) ** 2) / 12)
    assert r["ci_low"] == pytest.approx(100 * (p - d - Z95 * se))
    assert r["ci_low"] == pytest.approx(-39.05, abs=0.01)
    assert r["ci_high"] == pytest.approx(55.72, abs=0.01)


def test_nps_all_promoters_interval_clipped():
    r = row(kpis({"metric": "nps"}, survey=pl.DataFrame({"score": [10, 9, 9]})))
    assert r["value"] == 100.0
    assert r["ci_low"] == r["ci_high"] == 100.0  # Wald degenerates at the boundary
    r = row(
        kpis({"metric": "nps", "ci": "adjusted_wald"}, survey=pl.DataFrame({"score": [10, 9, 9]}))
    )
    assert r["ci_low"] < 100 and r["ci_high"] == 100.0


def test_nps_confidence_level_and_none():
    s = pl.DataFrame({"score": NPS_SCORES})
    r90 = row(kpis({"metric": "nps", "confidence": 0.9}, survey=s))
    r95 = row(kpis({"metric": "nps"}, survey=s))
    assert r90["ci_high"] - r90["ci_low"] < r95["ci_high"] - r95["ci_low"]
    rn = row(kpis({"metric": "nps", "ci": "none"}, survey=s))
    assert rn["ci_low"] is None and rn["ci_high"] is None


def test_nps_by_segment_and_period_with_baseline_benchmark():
    survey = pl.DataFrame(
        {
            "score": [10, 10, 0, 9, 5, 6, 10, 8],
            "region": ["n", "s", "n", "s", "n", "s", "n", "s"],
            "time": [
                D(2026, 1, 2),
                D(2026, 1, 9),
                D(2026, 1, 20),
                D(2026, 1, 30),
                D(2026, 2, 2),
                D(2026, 2, 9),
                D(2026, 2, 20),
                D(2026, 2, 28),
            ],
        }
    )
    out = kpis(
        {"metric": "nps", "by": "region", "period": "1mo", "benchmark": {"period": "2026-01-01"}},
        survey=survey,
    )
    assert out.height == 1 + 2 + 2 + 4
    assert row(out, "overall")["value"] == pytest.approx(100 * (4 - 3) / 8)
    jan, feb = row(out, "2026-01-01"), row(out, "2026-02-01")
    assert jan["value"] == pytest.approx(50.0)  # P=3 (10, 10, 9), D=1 (0)
    assert feb["value"] == pytest.approx(-25.0)  # P=1, D=2
    assert feb["benchmark"] == pytest.approx(50.0) and feb["delta"] == pytest.approx(-75.0)
    n_feb = row(out, "n @ 2026-02-01")  # 5, 10 -> P=1, D=1
    assert n_feb["value"] == 0.0 and n_feb["benchmark"] == pytest.approx(0.0)  # n Jan: 10, 0
    s_feb = row(out, "s @ 2026-02-01")  # 6, 8 -> D=1
    assert s_feb["value"] == pytest.approx(-50.0)
    assert s_feb["benchmark"] == pytest.approx(100.0)  # s Jan: 10, 9
    assert s_feb["delta"] == pytest.approx(-150.0)
    assert row(out, "n")["n"] + row(out, "s")["n"] == 8
    assert out.schema == pl.Schema(c.KPI_SCHEMA)


def test_fixed_benchmark_and_delta():
    out = kpis({"metric": "nps", "benchmark": 20}, survey=pl.DataFrame({"score": NPS_SCORES}))
    r = row(out)
    assert r["benchmark"] == 20.0 and r["delta"] == pytest.approx(100 / 9 - 20)


def test_baseline_period_missing_is_a_clear_error():
    s = pl.DataFrame({"score": [9], "time": [D(2026, 1, 2)]})
    with pytest.raises(DataError, match=r"baseline period 2025-01-01.*2026-01-01"):
        kpis({"metric": "nps", "period": "1mo", "benchmark": {"period": "2025-01-01"}}, survey=s)


@pytest.mark.parametrize(
    ("scores", "bad_row", "bad"),
    [([10, 5, 11], 3, "11"), ([0, -1, 3], 2, "-1"), ([7.5, 3.0], 1, "7.5")],
)
def test_nps_out_of_range_names_column_row_value(scores, bad_row, bad):
    with pytest.raises(DataError) as err:
        kpis({"metric": "nps"}, survey=pl.DataFrame({"score": scores}))
    msg = str(err.value)
    assert "survey" in msg and "'score'" in msg and f"row {bad_row}:" in msg and bad in msg
    assert "0 to 10" in msg


def test_nps_string_answers_parse_or_fail_with_row():
    out = kpis({"metric": "nps"}, survey=pl.DataFrame({"score": ["10", " 6", ""]}))
    assert row(out)["n"] == 2 and row(out)["value"] == 0.0
    with pytest.raises(DataError, match=r"'score', row 2: value 'ten'.*a number"):
        kpis({"metric": "nps"}, survey=pl.DataFrame({"score": ["9", "ten"]}))


def test_missing_column_is_named():
    with pytest.raises(DataError, match=r"survey: no column 'score'.*columns present: ltr"):
        kpis({"metric": "nps"}, survey=pl.DataFrame({"ltr": [9]}))
    out = kpis({"metric": "nps", "column": "ltr"}, survey=pl.DataFrame({"ltr": [9]}))
    assert row(out)["value"] == 100.0


# --------------------------------------------------------------------------------- CSAT / CES

CSAT = [5, 4, 3, 5, 1, 4, 2, 5, 5, 4]  # 7 of 10 are 4-5


def test_csat_top_two_box_wald_and_agresti_coull():
    r = row(kpis({"metric": "csat"}, survey=pl.DataFrame({"score": CSAT})))
    assert r["value"] == pytest.approx(0.7)
    half = Z95 * math.sqrt(0.7 * 0.3 / 10)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.7 - half, 0.7 + half))
    assert r["target"] == 0.9 and r["meets_target"] is False  # seeds: 9 of 10
    assert r["unit"] == "share of answers 4-5 on 1-5"
    r = row(kpis({"metric": "csat", "ci": "adjusted_wald"}, survey=pl.DataFrame({"score": CSAT})))
    nt = 10 + Z95**2
    pt = (7 + Z95**2 / 2) / nt
    half = Z95 * math.sqrt(pt * (1 - pt) / nt)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((pt - half, pt + half))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.3923, 0.8967), abs=1e-4)


def test_csat_mean_and_custom_scale():
    r = row(kpis({"metric": "csat", "method": "mean"}, survey=pl.DataFrame({"score": CSAT})))
    assert r["value"] == pytest.approx(3.8)
    sd = pl.Series(CSAT).std()
    assert r["ci_high"] - r["value"] == pytest.approx(Z95 * sd / math.sqrt(10))
    r = row(
        kpis(
            {"metric": "csat", "scale": [1, 10], "satisfied_at": 9},
            survey=pl.DataFrame({"score": [10, 9, 8, 1]}),
        )
    )
    assert r["value"] == 0.5


def test_csat_zero_is_an_error():
    with pytest.raises(DataError, match=r"'score', row 2: value 0.*whole number from 1 to 5"):
        kpis({"metric": "csat"}, survey=pl.DataFrame({"score": [5, 0, 3]}))


def test_ces_mean_and_share():
    s = pl.DataFrame({"score": [7, 6, 5, 4, 3, 2, 1]})
    assert row(kpis({"metric": "ces"}, survey=s))["value"] == pytest.approx(4.0)
    assert row(kpis({"metric": "ces"}, survey=s))["unit"] == "mean answer on 1-7"  # scale kept
    assert row(kpis({"metric": "ces", "method": "share"}, survey=s))["value"] == pytest.approx(
        3 / 7
    )
    with pytest.raises(DataError, match="from 1 to 7"):
        kpis({"metric": "ces"}, survey=pl.DataFrame({"score": [8]}))


# ---------------------------------------------------------------------- churn and retention

SUBS = pl.DataFrame(
    {
        "customer": list("ABCDE"),
        "start": [D(2026, 1, 5), D(2026, 1, 10), D(2026, 2, 1), D(2026, 2, 3), D(2025, 12, 20)],
        "end": [None, D(2026, 2, 15), D(2026, 2, 20), None, D(2026, 3, 1)],
        "plan": ["pro", "basic", "basic", "pro", "pro"],
    }
)


def test_lifecycle_counts_hand_computed():
    counts = c.lifecycle_counts(SUBS.lazy())
    assert counts["period"].to_list() == [
        D(2025, 12, 1),
        D(2026, 1, 1),
        D(2026, 2, 1),
        D(2026, 3, 1),
    ]
    assert counts["at_start"].to_list() == [0, 1, 3, 3]
    assert counts["new"].to_list() == [1, 2, 2, 0]
    assert counts["lost"].to_list() == [0, 0, 1, 1]  # C joins and leaves in Feb: not lost
    assert counts["at_end"].to_list() == [1, 3, 3, 2]


def test_churn_and_retention():
    churn = kpis({"metric": "churn"}, subscriptions=SUBS)
    assert row(churn, "2026-02-01")["value"] == pytest.approx(1 / 3)
    assert row(churn, "2026-01-01")["value"] == 0.0
    assert row(churn, "2025-12-01")["value"] is None  # nobody at the start
    assert row(churn)["value"] == pytest.approx(2 / 7)  # pooled: lost 2 / exposure 7
    ret = kpis({"metric": "retention"}, subscriptions=SUBS)
    # Feb: (E - N) / S with N = new still present at the end: (3 - 1) / 3
    assert row(ret, "2026-02-01")["value"] == pytest.approx(2 / 3)
    assert row(ret)["value"] == pytest.approx(5 / 7)


def test_churn_by_segment():
    out = kpis({"metric": "churn", "by": "plan"}, subscriptions=SUBS)
    assert row(out, "basic @ 2026-02-01")["value"] == 1.0  # B lost; C new
    assert row(out, "pro @ 2026-03-01")["value"] == pytest.approx(1 / 3)  # E of {E, A, D}


def test_churn_end_before_start_is_an_error():
    bad = SUBS.with_columns(
        pl.when(pl.col("customer") == "D").then(D(2026, 1, 1)).otherwise(pl.col("end")).alias("end")
    )
    with pytest.raises(
        DataError,
        match=r"'end', row 4: value 2026-01-01 is invalid; expected an end at or after `start`",
    ):
        kpis({"metric": "churn"}, subscriptions=bad)


def test_cohort_retention_activity_hand_computed():
    tx = pl.DataFrame(
        {
            "customer": ["c1", "c1", "c1", "c2", "c2", "c3", "c3", "c3"],
            "time": [
                D(2026, 1, 3),
                D(2026, 2, 3),
                D(2026, 4, 3),
                D(2026, 1, 9),
                D(2026, 3, 9),
                D(2026, 2, 1),
                D(2026, 2, 2),
                D(2026, 3, 1),
            ],
        }
    )
    o = KpiOptions.model_validate({"metric": "cohort_retention", "age": 1})
    out = compute_tables(o, lambda n: tx.lazy(), lambda n: True, rule_id="r")
    curves = out["cohort_retention"]
    jan = curves.filter(pl.col("cohort") == D(2026, 1, 1))
    assert jan["retention"].to_list() == [1.0, 0.5, 0.5, 0.5]
    feb = curves.filter(pl.col("cohort") == D(2026, 2, 1))
    assert feb["retention"].to_list() == [1.0, 1.0, 0.0]
    k = out["kpis"]
    assert row(k)["value"] == pytest.approx(2 / 3)
    assert row(k, "2026-02-01")["value"] == 1.0


# ----------------------------------------------------------------------- acquisition & value

ACQ = pl.DataFrame({"cost": [100.0, 200.0], "new_customers": [2, 3], "channel": ["ads", "seo"]})


def test_cac_clv_cac_payback():
    assert row(kpis({"metric": "cac"}, acquisition=ACQ))["value"] == pytest.approx(60.0)
    assert row(kpis({"metric": "cac", "by": "channel"}, acquisition=ACQ), "ads")["value"] == 50.0
    customers = pl.DataFrame({"clv": [300.0, 180.0]})
    r = row(kpis({"metric": "clv_cac"}, customers=customers, acquisition=ACQ))
    assert r["value"] == pytest.approx(4.0) and r["meets_target"] is True  # benchmark 3
    r = row(kpis({"metric": "clv_cac", "clv": 120, "cac": 60}))
    assert r["value"] == pytest.approx(2.0) and r["meets_target"] is False
    tx = pl.DataFrame(
        {
            "customer": ["c1", "c1", "c1", "c2"],
            "time": [D(2026, 1, 2), D(2026, 1, 20), D(2026, 2, 2), D(2026, 1, 5)],
            "amount": [50.0, 10.0, 40.0, 100.0],
        }
    )
    # revenue 200 / 3 customer-months = 66.67 per month; x 0.5 margin; CAC 60 -> 1.8 months
    r = row(kpis({"metric": "cac_payback", "gross_margin": 0.5}, transactions=tx, acquisition=ACQ))
    assert r["value"] == pytest.approx(1.8)
    r = row(kpis({"metric": "cac_payback", "gross_margin": 0.8, "cac": 400, "arpa": 50}))
    assert r["value"] == pytest.approx(10.0)


def test_negative_cost_is_an_error():
    with pytest.raises(DataError, match=r"'cost', row 2: value -5 is invalid"):
        kpis(
            {"metric": "cac"},
            acquisition=pl.DataFrame({"cost": [1.0, -5.0], "new_customers": [1, 1]}),
        )


# ---------------------------------------------------------------------------------- support

TICKETS = pl.DataFrame(
    {
        "created": [
            dt.datetime(2026, 1, 1, 9),
            dt.datetime(2026, 1, 1, 10),
            dt.datetime(2026, 1, 2, 8),
            dt.datetime(2026, 1, 3, 8),
        ],
        "first_response": [
            dt.datetime(2026, 1, 1, 10),
            dt.datetime(2026, 1, 1, 13),
            dt.datetime(2026, 1, 2, 8, 30),
            None,
        ],
        "contacts": [1, 2, 1, 1],
        "resolved": [True, True, False, True],
    }
)


def test_first_response_time():
    r = row(kpis({"metric": "first_response_time"}, tickets=TICKETS))
    assert r["value"] == pytest.approx(1.0) and r["n"] == 3  # median of 1, 3, 0.5 hours
    assert r["target"] == 2.0 and r["meets_target"] is True  # seeds: under 2 hours
    r = row(kpis({"metric": "first_response_time", "statistic": "mean"}, tickets=TICKETS))
    assert r["value"] == pytest.approx(1.5)
    bad = TICKETS.with_columns(pl.col("created").shift(-1).fill_null(dt.datetime(2027, 1, 1)))
    with pytest.raises(
        DataError,
        match=r"'first_response', row 2: value 2026-01-01 13:00:00.*at or after `created`",
    ):
        kpis({"metric": "first_response_time"}, tickets=bad)


def test_first_contact_resolution_and_referral_rate():
    r = row(kpis({"metric": "first_contact_resolution"}, tickets=TICKETS))
    assert r["value"] == pytest.approx(2 / 3) and r["n"] == 3
    r = row(kpis({"metric": "first_contact_resolution", "denominator": "all"}, tickets=TICKETS))
    assert r["value"] == pytest.approx(2 / 4)
    cust = pl.DataFrame({"referred": ["yes", "no", "no", "Yes"]})
    assert row(kpis({"metric": "referral_rate"}, customers=cust))["value"] == 0.5
    with pytest.raises(DataError, match=r"'referred', row 2: value 'maybe'"):
        kpis({"metric": "referral_rate"}, customers=pl.DataFrame({"referred": ["yes", "maybe"]}))


# ----------------------------------------------------------------------------- health score

HEALTH = pl.DataFrame(
    {
        "customer": ["x", "y", "z"],
        "a": [7.0, None, 12.0],
        "b": [20.0, 50.0, None],
        "tier": ["gold", "gold", "silver"],
    }
)
COMPONENTS = {
    "a": {"weight": 2, "min": 0, "max": 10},
    "b": {"weight": 1, "min": 0, "max": 100, "higher_is_better": False},
}


def health(missing: str, **extra: Any) -> dict[str, pl.DataFrame]:
    o = KpiOptions.model_validate(
        {"metric": "health_score", "components": COMPONENTS, "missing": missing, **extra}
    )
    return compute_tables(o, lambda n: HEALTH.lazy(), lambda n: True, rule_id="r")


def test_health_score_skip_renormalises():
    out = health("skip")
    scores = dict(out["health_scores"].select("customer", "score").iter_rows())
    assert scores["x"] == pytest.approx(10 * (2 * 0.7 + 1 * 0.8) / 3)  # 7.33
    assert scores["y"] == pytest.approx(5.0)  # only b: 1 - 0.5
    assert scores["z"] == pytest.approx(10.0)  # a clipped to 1
    bands = dict(out["health_scores"].select("customer", "band").iter_rows())
    assert bands == {"x": "green", "y": "amber", "z": "green"}
    r = row(out["kpis"])
    assert r["value"] == pytest.approx((22 / 3 + 5 + 10) / 3)
    assert r["target"] == 7.0  # seeds: 7+ of 10 is good


def test_health_score_zero_and_error_policies():
    scores = dict(health("zero")["health_scores"].select("customer", "score").iter_rows())
    assert scores["y"] == pytest.approx(10 * 0.5 / 3)
    assert scores["z"] == pytest.approx(10 * 2 / 3)
    with pytest.raises(DataError, match=r"'a', row 2: value None.*missing: error"):
        health("error")


def test_health_score_scale_100_and_segments():
    out = health("skip", scale=100, by="tier")
    k = out["kpis"]
    assert row(k)["target"] == 70.0
    assert row(k, "silver")["value"] == pytest.approx(100.0)


# ---------------------------------------------------------------------------- options & rule


def test_options_dispatch_and_errors_without_tag():
    assert type(KpiOptions.model_validate({"metric": "csat"})).__name__ == "CsatOptions"
    with pytest.raises(ValidationError) as err:
        KpiOptions.model_validate({"metric": "nps", "cii": "wald"})
    assert err.value.errors()[0]["loc"] == ("cii",)
    with pytest.raises(ValidationError) as err:
        KpiOptions.model_validate({"metric": "npx"})
    assert err.value.errors()[0]["loc"] == ("metric",)
    with pytest.raises(ValidationError, match="calendar interval"):
        KpiOptions.model_validate({"metric": "nps", "period": "monthly"})
    with pytest.raises(ValidationError):
        KpiOptions.model_validate({"metric": "cac_payback"})  # gross_margin is required
    with pytest.raises(ValidationError, match="`period` is not supported by metric 'clv_cac'"):
        KpiOptions.model_validate({"metric": "clv_cac", "period": "1mo"})
    with pytest.raises(ValidationError, match="baseline-period `benchmark` needs `period`"):
        KpiOptions.model_validate({"metric": "nps", "benchmark": {"period": "2026-01-01"}})
    with pytest.raises(ValidationError, match="satisfied_at 6 is outside the scale"):
        KpiOptions.model_validate({"metric": "csat", "satisfied_at": 6})
    with pytest.raises(ValidationError, match=r"max \(0\) must be above min \(10\)"):
        KpiOptions.model_validate(
            {"metric": "health_score", "components": {"a": {"min": 10, "max": 0}}}
        )
    schema = KpiOptions.model_json_schema()
    assert schema["discriminator"]["propertyName"] == "metric"
    assert len(schema["oneOf"]) == 14


def test_reads_and_writes():
    o = KpiOptions.model_validate({"metric": "nps", "source": "answers"})
    assert list(KIND.reads(o, None)) == ["answers"]  # type: ignore[arg-type]
    o = KpiOptions.model_validate({"metric": "clv_cac", "cac": 10})
    assert list(KIND.reads(o, None)) == ["customers"]  # type: ignore[arg-type]
    o = KpiOptions.model_validate({"metric": "health_score", "components": COMPONENTS})
    assert set(KIND.writes(o, None)) == {"kpis", "health_scores"}  # type: ignore[arg-type]


def test_evaluate_thresholds_and_targets():
    survey = {"survey": pl.DataFrame({"score": NPS_SCORES})}
    ctx = rule_context("kpi", {"metric": "nps"}, survey, warn="value < 30", fail="value < 0")
    out = evaluate(ctx)
    assert [(f.subject, f.severity) for f in out.findings] == [("overall", "warn")]
    assert out.tables["kpis"].height == 1
    ctx = rule_context("kpi", {"metric": "csat"}, {"survey": pl.DataFrame({"score": CSAT})})
    (f,) = evaluate(ctx).findings
    assert f.subject == "overall" and f.value == pytest.approx(0.7)
    assert "misses the target" in f.message and "0.9" in f.message
    ctx = rule_context(
        "kpi", {"metric": "csat", "target": None}, {"survey": pl.DataFrame({"score": CSAT})}
    )
    assert evaluate(ctx).findings == []


def test_doc_examples_validate():
    import yaml

    from truenorth.builtins.kpi import DOC

    rules = yaml.safe_load(DOC.split("```yaml\n")[1].split("```")[0])
    assert len(rules) == 5
    for rule in rules:
        KpiOptions.model_validate(rule["with"])


def test_second_tables_follow_the_table_option():
    o = KpiOptions.model_validate(
        {"metric": "health_score", "components": COMPONENTS, "table": "kpi_health"}
    )
    assert set(KIND.writes(o, None)) == {"kpi_health", "kpi_health_health_scores"}  # type: ignore[arg-type]
    out = compute_tables(o, lambda n: HEALTH.lazy(), lambda n: True, rule_id="r")
    assert set(out) == {"kpi_health", "kpi_health_health_scores"}


def test_engagement_rate_hand_computed():
    events = pl.DataFrame(
        {
            "customer": ["A", "A", "B", "E", "C", "Z", "D"],
            "time": [
                D(2026, 1, 6),
                D(2026, 2, 1),
                D(2026, 3, 1),
                D(2026, 1, 2),
                D(2026, 2, 2),
                D(2026, 2, 2),
                D(2026, 1, 1),
            ],
        }
    )
    out = kpis({"metric": "engagement_rate"}, events=events, subscriptions=SUBS)
    # Jan: active E, A, B; engaged A, E (D's event precedes its start) -> 2/3
    assert (row(out, "2026-01-01")["value"], row(out, "2026-01-01")["n"]) == (2 / 3, 3)
    # Feb: active E, A, B, C, D; engaged A, C (Z is not a customer) -> 2/5
    assert row(out, "2026-02-01")["value"] == pytest.approx(0.4)
    # Mar: active E, A, D; B's event comes after B left -> 0/3
    assert row(out, "2026-03-01")["value"] == 0.0
    assert row(out)["value"] == pytest.approx(4 / 12)  # pooled over Dec-Mar
    by_plan = kpis({"metric": "engagement_rate", "by": "plan"}, events=events, subscriptions=SUBS)
    assert row(by_plan, "basic @ 2026-02-01")["value"] == pytest.approx(1 / 2)  # C of B, C
    two = kpis({"metric": "engagement_rate", "min_events": 2}, events=events, subscriptions=SUBS)
    assert row(two)["value"] == 0.0
    dup = pl.concat([SUBS, SUBS.head(1)])
    with pytest.raises(DataError, match="customer 'A' appears more than once"):
        kpis({"metric": "engagement_rate"}, events=events, subscriptions=dup)
