"""The whole bundled review (every domain file of ``customer-value-review``) on the bundled data,
end to end: CLV, tiers and actions, Kano, journey, KPIs, canvas and maturity — and its report."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

import truenorth
from truenorth.builtins.html import render

PACKS = Path(truenorth.__file__).parent / "packs"
DOMAINS = ("clv", "kano", "journey", "kpi", "canvas", "maturity")


@pytest.fixture(scope="module")
def review() -> truenorth.Result:
    return truenorth.Engine.load([PACKS / f"{d}.yaml" for d in DOMAINS]).run()


def by_rule(result: truenorth.Result, rule: str) -> pl.DataFrame:
    return result.findings.filter(pl.col("rule_id") == rule)


def test_every_rule_runs(review):
    assert [(r.id, r.error) for r in review.errors] == []
    assert len(review.rules) == sum(
        len(yaml.safe_load((PACKS / f"{d}.yaml").read_text())["rules"]) for d in DOMAINS
    )


def test_customers_have_clv_p_alive_and_one_action_each(review):
    customers = review.tables["customers"]
    tx = pl.read_csv(PACKS / "data" / "transactions.csv")
    # Every customer with a paid purchase (zero-dollar promotions are not purchases).
    assert customers.height == tx.filter(pl.col("amount") > 0)["customer_id"].n_unique() == 23_502
    assert customers["p_alive"].is_between(0, 1).all()
    assert (customers["clv"] >= 0).all()
    assert 20 < customers["clv"].mean() < 50  # lifetimes on the same data: 33.1
    assert customers["action_tier"].null_count() == 0
    assert set(customers["action_tier"].unique()) == {
        "win_back", "reactivate", "reward", "second_purchase", "nurture"
    }  # fmt: skip
    one_timers = customers.filter(pl.col("frequency") == 0)
    assert set(one_timers["action_tier"].unique()) <= {"second_purchase", "reward"}
    # First matching row wins: every VIP is rewarded unless it must be won back first.
    vip = customers.filter(pl.col("clv_tier") == "vip")
    assert set(vip["action_tier"].unique()) == {"reward", "win_back"}


def test_clv_tiers_split_customers_10_40_50(review):
    customers = review.tables["customers"]
    share = dict(customers.group_by(pl.col("clv_tier").cast(pl.String)).len().iter_rows())
    n = customers.height
    assert share["vip"] / n == pytest.approx(0.1, abs=0.005)
    assert share["core"] / n == pytest.approx(0.4, abs=0.005)
    ranked = customers.group_by(pl.col("clv_tier").cast(pl.String)).agg(
        pl.col("clv").min().alias("lo"), pl.col("clv").max().alias("hi")
    )
    bounds = {t: (lo, hi) for t, lo, hi in ranked.iter_rows()}
    assert bounds["vip"][0] >= bounds["core"][1] >= bounds["occasional"][1]
    segments = review.tables["segments"]
    assert segments["customers"].sum() == n
    assert segments["clv_share"].sum() == pytest.approx(1.0)


def test_win_back_list_is_the_lapsing_big_spenders(review):
    f = by_rule(review, "lapsing-high-value")
    assert 50 < f.height < 1000
    assert set(f["action"].unique()) == {"win-back-offer"}
    customers = review.tables["customers"]
    flagged = customers.filter(pl.col("customer").cast(pl.String).is_in(f["subject"].implode()))
    assert (flagged["p_alive"] < 0.3).all() and (flagged["revenue"] >= 300).all()


def test_clv_to_cac_is_below_the_benchmark(review):
    ratio = review.tables["kpi_clv_cac"]["value"][0]
    assert 0.5 < ratio < 3  # mean 12-month CLV of a CDNOW customer is a fraction of 3x CAC
    assert by_rule(review, "clv-to-cac")["severity"].to_list() == ["warn"]


def test_canvas_finds_the_deliberate_gaps(review):
    subjects = set(by_rule(review, "canvas")["subject"].to_list())
    assert {
        "corporate-gifting", "vinyl-reissues", "warehouse", "radio-campaign", "late-delivery",
        "friend_referral", "review_written", "media",
    } <= subjects  # fmt: skip
    assert "occasional" in subjects  # a data segment (CLV tier) the canvas ignores
    coverage = dict(review.tables["canvas_coverage"].select("block", "coverage").iter_rows())
    assert coverage["channels"] == 1.0 and coverage["key_resources"] == 0.5
    # Canvas segments carry the measured size and value of the CLV tier behind them.
    segs = review.tables["canvas_segments"]
    collectors = segs.filter(pl.col("segment") == "collectors")
    vip = review.tables["segments"].filter(pl.col("clv_tier").cast(pl.String) == "vip")
    assert collectors["customers"][0] == vip["customers"][0]
    assert collectors["clv_total"][0] == pytest.approx(vip["clv_total"][0])


def test_maturity_uses_the_run_as_evidence(review):
    maturity = review.tables["maturity"]
    levels = dict(maturity.select("dimension", "level").iter_rows())
    assert set(levels) == {
        "research",
        "design",
        "experience",
        "value_proposition",
        "engagement",
        "improvement",
    }
    assert all(1 <= v <= 5 for v in levels.values())
    evidence = review.tables["maturity_evidence"]
    derived = evidence.filter(pl.col("source") != "assessor")
    assert derived.height > 0


def test_the_report_draws_every_chart(review, tmp_path):
    page = render(review)
    for chart in ("CLV distribution", "Mean P(alive) by frequency and recency", "Segment sizes",
                  "Kano: better vs |worse|", "Funnel", "Attribution of conversions by touchpoint",
                  "Touchpoint satisfaction", "KPIs against thresholds", "Canvas coverage per block",
                  "Customer-value maturity", "Findings per action"):  # fmt: skip
        assert f'aria-label="{chart}"' in page, chart
    assert "chart could not be drawn" not in page
    assert len(page) < 3_000_000


def test_cli_run_writes_the_html_report(tmp_path, tn):
    out = tmp_path / "out"
    proc = tn("run", *[str(PACKS / f"{d}.yaml") for d in DOMAINS], "--out", str(out),
              "--format", "html")  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr + proc.stdout
    page = (out / "customer-value-review" / "report.html").read_text(encoding="utf-8")
    assert "customer-value-review" in page and "Mean P(alive)" in page


def test_init_workspace_runs_the_review_from_its_own_copy(tmp_path, tn):
    """`truenorth init DIR` copies the packs and data; the copy runs on its own (relative paths)."""
    ws = tmp_path / "ws"
    init = tn("init", str(ws))
    assert init.returncode == 0, init.stderr
    rules = ws / "rules"
    for d in DOMAINS:
        assert (rules / f"{d}.yaml").read_text() == (PACKS / f"{d}.yaml").read_text()
    assert (rules / "data" / "transactions.csv").stat().st_size == (
        PACKS / "data" / "transactions.csv"
    ).stat().st_size
    result = truenorth.Engine.load([rules / f"{d}.yaml" for d in DOMAINS]).run()
    assert result.errors == []
    assert result.files and all(str(rules) in f for f in result.files)  # the copy, not the package
