"""The ``retention`` rule kind: the bundled pack, load-time checks, data errors, the report."""

from __future__ import annotations

import textwrap
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth.builtins.html import render

PACKS = Path(truenorth.__file__).parent / "packs"


@pytest.fixture(scope="module")
def club() -> truenorth.Result:
    return truenorth.Engine.load([PACKS / "retention.yaml"]).run()


def test_bundled_pack_fits_every_old_enough_cohort(club):
    assert [(r.id, r.error) for r in club.errors] == []
    cohorts = club.tables["club_retention_cohorts"]
    assert cohorts.height == 18
    fitted = cohorts.filter(pl.col("status") == "fitted")
    # the two youngest cohorts (1998-05, 1998-06) have fewer than 2 renewals observed; 1998-04's
    # two renewals leave the likelihood flat (no heterogeneity visible yet)
    assert set(cohorts.filter(pl.col("status") != "fitted")["cohort"]) == {
        "1998-04",
        "1998-05",
        "1998-06",
    }
    for col in ("alpha", "beta", "alpha_se", "survival_at_horizon", "derl_new", "customer_value"):
        assert fitted[col].null_count() == 0 and fitted[col].is_finite().all(), col
    young = club.findings.filter(pl.col("subject").is_in(["1998-05", "1998-06"]))
    assert set(young["severity"]) == {"info"}
    flat = club.findings.filter(pl.col("subject") == "1998-04")
    assert flat["severity"].to_list() == ["warn"] and "not identified" in flat["message"][0]


def test_the_holiday_cohorts_are_flagged(club):
    flagged = club.findings.filter(pl.col("severity").is_in(["warn", "fail"]))
    assert {"1997-11", "1997-12"} <= set(flagged["subject"])
    by = dict(
        club.tables["club_retention_cohorts"].select("cohort", "survival_at_horizon").iter_rows()
    )
    regular = [v for k, v in by.items() if v is not None and k not in ("1997-11", "1997-12")]
    assert by["1997-11"] < min(regular) and by["1997-12"] < min(regular)
    msg = flagged.filter(pl.col("subject") == "1997-12")["message"][0]
    assert "projected to remain after 24 months" in msg


def test_survival_table_actual_vs_fitted(club):
    t = club.tables["club_retention"]
    jan = t.filter(pl.col("cohort") == "1997-01").sort("period")
    assert jan["period"].to_list() == list(range(25))
    assert jan.filter(pl.col("observed"))["period"].max() == 17
    obs = jan.filter(pl.col("observed"))
    assert obs["actual_survival"][0] == 1.0 and obs["fitted_survival"][0] == 1.0
    # fitted tracks actual within a few points while observed
    assert (obs["actual_survival"] - obs["fitted_survival"]).abs().max() < 0.06
    assert jan.filter(~pl.col("observed"))["actual_survival"].null_count() == 7


def test_member_values(club):
    v = club.tables["club_member_value"]
    members = pl.read_csv(PACKS / "data" / "memberships.csv")
    assert v.height == members.filter(pl.col("lapsed_on").is_null()).height
    fitted = v.filter(pl.col("expected_residual_lifetime").is_not_null())
    assert (fitted["residual_value"] == 6.0 * fitted["expected_residual_lifetime"]).all()
    assert ((fitted["p_renew"] > 0) & (fitted["p_renew"] < 1)).all()
    assert (fitted["elasticity"] > 1).all()


def test_report_draws_the_survival_chart(club):
    page = render(club)
    assert 'aria-label="Survival by cohort: actual vs projected (club_retention)"' in page
    assert "chart could not be drawn" not in page


def _pack(tmp_path, rule: str, csv: str) -> Path:
    (tmp_path / "subs.csv").write_text(textwrap.dedent(csv).lstrip())
    p = tmp_path / "pack.yaml"
    p.write_text(
        "truenorth: 1\npack: t\ndatasets:\n  subscriptions: {path: subs.csv}\nrules:\n"
        + textwrap.indent(textwrap.dedent(rule).lstrip(), "  ")
    )
    return p


CSV = """
customer,start,end
1,0,1
2,0,2
3,0,
4,0,3
5,1,2
6,1,
7,0,
8,1,4
"""


def test_load_time_errors_are_located(tmp_path):
    p = _pack(tmp_path, """
        - id: r
          kind: retention
          with: {horizn: 5}
        """, CSV)  # fmt: skip
    with pytest.raises(truenorth.PackError, match=r"pack.yaml:\d+:\d+.*horizn"):
        truenorth.Engine.load([p])
    p = _pack(tmp_path, """
        - id: r
          kind: retention
          warn: "survival < 0.5"
        """, CSV)  # fmt: skip
    with pytest.raises(truenorth.PackError, match=r"survival"):
        truenorth.Engine.load([p])
    p = _pack(tmp_path, """
        - id: r
          kind: retention
          with: {model: weibull}
        """, CSV)  # fmt: skip
    with pytest.raises(truenorth.PackError, match=r"sbg"):
        truenorth.Engine.load([p])


def test_integer_periods_and_data_errors(tmp_path):
    rule = """
        - id: r
          kind: retention
          with: {horizon: 6, fit: pooled}
          warn: "survival_at_horizon < 0.9"
        """
    res = truenorth.Engine.load([_pack(tmp_path, rule, CSV)]).run()
    assert res.errors == []
    cohorts = res.tables["retention_cohorts"]
    assert cohorts["cohort"].to_list() == ["0", "1"]
    # pooled: one parameter set for both cohorts
    assert cohorts["alpha"].n_unique() == 1
    assert set(res.findings.filter(pl.col("severity") == "warn")["subject"]) == {"0", "1"}
    bad = CSV.replace("5,1,2", "5,3,2")
    res = truenorth.Engine.load([_pack(tmp_path, rule, bad)]).run()
    (err,) = res.errors
    assert "row 5 ends in period 2, before it starts" in str(err.error)
    assert "'end'" in str(err.error)


def test_kinds_lists_retention(tn):
    proc = tn("kinds", "retention")
    assert proc.returncode == 0, proc.stderr
    assert "survival_at_horizon" in proc.stdout and "discount_rate" in proc.stdout
