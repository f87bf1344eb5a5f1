"""The `maturity` rule kind: staged levels, ratings files, derived evidence, findings."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth import Engine, RuleContext
from truenorth.builtins.maturity import (
    KIND,
    PROBES,
    RATINGS,
    MaturityOptions,
    Rating,
    Run,
    assess,
    derive_evidence,
    evaluate,
    load_catalogue,
    load_catalogue_text,
    load_ratings,
    load_ratings_text,
)
from truenorth.builtins.maturity.evidence import DEFAULT_TABLES
from truenorth.errors import DataError, PackError
from truenorth.testing import make_pack, rule_context

CANVAS = textwrap.dedent(
    """\
    customer_segments:
      - {id: smb, name: Small businesses}
    value_propositions:
      - {id: fast, name: Fast, serves: [smb]}
    channels:
      - {id: web, name: Web, delivers: [fast], reaches: [smb]}
    customer_relationships:
      - {id: self, name: Self service, with: [smb]}
    revenue_streams:
      - {id: subs, name: Subscriptions, from: [smb]}
    key_activities:
      - {id: dev, name: Development, supports: [fast]}
    cost_structure:
      - {id: salaries, name: Salaries, for: [dev]}
    """
)

SMALL = textwrap.dedent(
    """\
    maturity: 1
    dimensions:
      a:
        name: Dimension A
        criteria:
          - {id: a2, level: 2, text: A two}
          - {id: a3x, level: 3, text: A three x}
          - {id: a3y, level: 3, text: A three y}
          - {id: a4, level: 4, text: A four}
          - {id: a5, level: 5, text: A five}
      b:
        name: Dimension B
        criteria:
          - {id: b2, level: 2, text: B two}
          - {id: b4, level: 4, text: B four, derive: segmentation}
    """
)


def r(x: str) -> Rating:
    return Rating(x, "ratings", "")


def run_of(tables: dict[str, pl.DataFrame]) -> Run:
    return Run(lambda n: n in tables, lambda n: tables[n].lazy(), DEFAULT_TABLES)


def test_default_catalogue_shape():
    cat = load_catalogue()
    assert list(cat.dimensions) == [
        "research",
        "design",
        "experience",
        "value_proposition",
        "engagement",
        "improvement",
    ]
    assert cat.levels == {
        1: "ad-hoc",
        2: "initiating",
        3: "enabling",
        4: "optimizing",
        5: "leading",
    }
    for dim in cat.dimensions.values():
        assert {c.level for c in dim.criteria} == {2, 3, 4, 5}
    used = {c.derive for d in cat.dimensions.values() for c in d.criteria if c.derive}
    assert used <= set(PROBES)


def test_staged_levels_hand_computed():
    cat = load_catalogue_text(SMALL)
    ratings = {
        "a2": r("fully"),
        "a3x": r("largely"),
        "a3y": r("partially"),
        "a4": r("fully"),
        "a5": r("fully"),
        "b2": r("largely"),
    }
    derived = {"segmentation": ("fully", "2 segments")}
    table, ev = assess(cat, ratings, derived)
    rows = {x["dimension"]: x for x in table.iter_rows(named=True)}
    # A: level 3 blocked by a3y (partially) although 4 and 5 are fully -> staged level 2
    assert rows["a"]["level"] == 2 and rows["a"]["level_name"] == "initiating"
    assert rows["a"]["next_level"] == 3 and rows["a"]["gaps"] == 1
    assert rows["a"]["gap_criteria"] == "a3y"
    # B: no level-3 criteria (vacuous), b4 derived fully -> level 5 (nothing at 5)
    assert rows["b"]["level"] == 5 and rows["b"]["next_level"] is None and rows["b"]["gaps"] == 0
    assert rows["a"]["floor"] is True and rows["b"]["floor"] is False
    b4 = ev.filter(pl.col("criterion") == "b4").row(0, named=True)
    assert b4["rating"] == "fully" and b4["source"] == "derived (segmentation)"
    assert ev.schema["level"] == pl.Int64 and ev.height == 7


def test_no_ratings_is_level_one_everywhere():
    table, ev = assess(load_catalogue(), {}, {})
    assert table["level"].to_list() == [1] * 6 and table["floor"].all()
    assert (ev["rating"] == "not").all() and set(ev["source"]) == {"none"}


def test_assessor_rating_wins_over_derived_but_keeps_it():
    cat = load_catalogue_text(SMALL)
    _, ev = assess(
        cat,
        {"b4": Rating("partially", "ratings", "only one segment used")},
        {"segmentation": ("fully", "2 segments")},
    )
    b4 = ev.filter(pl.col("criterion") == "b4").row(0, named=True)
    assert b4["rating"] == "partially"
    assert b4["evidence"] == "only one segment used; derived: fully (2 segments)"


# --------------------------------------------------------------------------------- ratings


def test_ratings_yaml_forms_and_located_errors(tmp_path: Path):
    cat = load_catalogue_text(SMALL)
    got = load_ratings_text("a2: fully\nb2: {rating: largely, evidence: CRM in place}\n", cat)
    assert got["a2"].rating == "fully" and got["b2"].evidence == "CRM in place"
    got = load_ratings_text("ratings:\n  a2: not\n", cat)
    assert got["a2"].rating == "not"
    with pytest.raises(PackError) as err:
        load_ratings_text(
            "a2: fully\na9: largely\nb2: mostly\nb4: {rating: fully, why: x}\n", cat, "r.yaml"
        )
    msgs = [str(p) for p in err.value.problems]
    assert msgs[0].startswith("r.yaml:2:1: unknown criterion 'a9'") and "e.g. a5, a4, a2" in msgs[0]
    assert msgs[1].startswith("r.yaml:3:5: criterion 'b2': rating 'mostly' is not a rating")
    assert "not, partially, largely, fully" in msgs[1]
    assert msgs[2].startswith("r.yaml:4:21: unknown key 'why'")
    p = tmp_path / "r.yaml"
    p.write_text("a2: largely\n")
    assert load_ratings(p, cat)["a2"].source == f"ratings ({p})"


def test_ratings_csv(tmp_path: Path):
    cat = load_catalogue_text(SMALL)
    p = tmp_path / "r.csv"
    p.write_text("criterion,rating,evidence\na2,Fully,survey\nb2,largely,\n")
    got = load_ratings(p, cat)
    assert got["a2"].rating == "fully" and got["a2"].evidence == "survey"
    p.write_text("criterion,rating\na2,fully\nb2,sort of\n")
    with pytest.raises(DataError, match=r"column 'rating', row 2: value 'sort of' is not a rating"):
        load_ratings(p, cat)
    p.write_text("criterion,rating\nzz,fully\n")
    with pytest.raises(DataError, match=r"column 'criterion', row 1: value 'zz'"):
        load_ratings(p, cat)
    p.write_text("id,rating\na2,fully\n")
    with pytest.raises(DataError, match=r"no column 'criterion'"):
        load_ratings(p, cat)


def test_catalogue_errors_are_located():
    with pytest.raises(PackError) as err:
        load_catalogue_text(
            SMALL.replace("level: 4, text: A four", "level: 6, text: A four"), "cat.yaml"
        )
    assert str(err.value).startswith("cat.yaml:9:25: dimensions.a.criteria.3.level")
    with pytest.raises(PackError, match=r"cat.yaml:14:14: duplicate criterion id 'a2'"):
        load_catalogue_text(SMALL.replace("id: b2", "id: a2"), "cat.yaml")
    with pytest.raises(PackError, match=r"cat.yaml:15:50: dimensions.b.criteria.1.derive"):
        load_catalogue_text(SMALL.replace("derive: segmentation", "derive: magic"), "cat.yaml")


# -------------------------------------------------------------------------- derived evidence

AS_OF = dt.date(2026, 11, 23)


def test_derived_evidence_from_run_tables():
    tables = {
        "survey": pl.DataFrame(
            {"score": [9, 3], "time": [dt.date(2026, 6, 1), dt.date(2026, 10, 1)]}
        ),
        "segments": pl.DataFrame({"segment": ["a", "b"], "clv_total": [1.0, 2.0]}),
        "kpis": pl.DataFrame(
            {
                "metric": ["nps", "first_response_time"],
                "target": [None, 2.0],
                "benchmark": [None, None],
            }
        ),
        "canvas_coverage": pl.DataFrame({"coverage": [1.0, 0.5, None]}),
        "funnel": pl.DataFrame({"stage": ["x"]}),
    }
    d = derive_evidence(run_of(tables), as_of=AS_OF)
    assert set(d) == set(PROBES)
    assert d["feedback_collected"][0] == "fully"
    assert d["feedback_recent"] == (
        "fully",
        "latest feedback in 'survey': 2026-10-01 (53 days before 2026-11-23; recent = within "
        "90 days)",
    )
    assert derive_evidence(run_of(tables), as_of=AS_OF, recent_days=30)["feedback_recent"][0] == (
        "partially"
    )
    assert d["segmentation"][0] == "fully" and d["clv_measured"][0] == "fully"
    assert d["value_vs_cac"] == (
        "partially",
        "CLV measured (CLV columns of 'segments') but no CAC / CLV:CAC KPI",
    )
    assert d["kpis_tracked"][0] == "fully"
    assert d["kpi_thresholds"] == (
        "largely",
        "KPIs in 'kpis' with targets; without any: nps",
    )
    assert d["kpi_benchmarks"][0] == "not" and d["support_kpis"][0] == "largely"
    assert d["journey_mapped"][0] == "fully" and d["kano_analysis"][0] == "not"
    assert d["canvas_maintained"] == (
        "largely",
        "canvas coverage 75% on average ('canvas_coverage')",
    )
    assert d["canvas_consistent"][0] == "partially"
    assert d["rules_in_run"][0] == "partially"  # never enough on its own


def test_old_feedback_is_not_recent_and_empty_run():
    old = {"feedback": pl.DataFrame({"time": [dt.datetime(2024, 1, 1, 12)]})}
    assert derive_evidence(run_of(old), as_of=AS_OF)["feedback_recent"][0] == "not"
    d = derive_evidence(run_of({}), as_of=AS_OF)
    assert all(v[0] == "not" for k, v in d.items() if k != "rules_in_run")
    assert d["feedback_collected"][1] == (
        "no feedback table (survey/feedback/responses/reviews/kano_survey) in this run"
    )


# ------------------------------------------------------------------------------- the rule


def context(
    options: dict[str, Any], tables: dict[str, pl.DataFrame], base: Path, **rule: Any
) -> RuleContext[MaturityOptions]:
    return rule_context("maturity", options, tables, rule_id="m1", base_dir=base, **rule)


def test_evaluate_findings_and_tables(tmp_path: Path):
    (tmp_path / "cat.yaml").write_text(SMALL)
    (tmp_path / "ratings.yaml").write_text("a2: fully\na3x: largely\na3y: partially\nb2: largely\n")
    ctx = context(
        {"catalogue": "cat.yaml", "ratings": "ratings.yaml", "as_of": "2026-11-23"},
        {"segments": pl.DataFrame({"segment": ["x"]})},
        tmp_path,
        warn="level < 3",
    )
    out = evaluate(ctx)
    assert set(out.tables) == {"maturity", "maturity_evidence"}
    overall = out.findings[0]
    assert overall.subject == "overall" and overall.severity == "info" and overall.value == 2.0
    assert "level 2 (initiating); floor dimension: Dimension A (a)" in overall.message
    gaps = [f for f in out.findings if f.severity == "info" and f.subject != "overall"]
    assert [f.subject for f in gaps] == ["a/a3y", "b/b4"]
    # b: level 3 vacuous, b4 derived "partially" (one segment) blocks level 4
    assert "to reach level 4 (optimizing)" in gaps[1].message and "partially" in gaps[1].message
    warns = [f.subject for f in out.findings if f.severity == "warn"]
    assert warns == ["a"]


def test_reads_writes_and_options():
    o = MaturityOptions(wait_for=["kpis", "segments"])
    assert list(KIND.reads(o, None)) == ["kpis", "segments"]  # type: ignore[arg-type]
    assert set(KIND.writes(o, None)) == {"maturity", "maturity_evidence"}  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MaturityOptions(recent_dayz=3)  # type: ignore[call-arg]


# ----------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(RATINGS), min_size=31, max_size=31))
def test_staged_level_properties(values):
    cat = load_catalogue()
    ids = [c.id for d in cat.dimensions.values() for c in d.criteria]
    ratings = {i: r(v) for i, v in zip(ids, values, strict=False)}
    table, ev = assess(cat, ratings, {})
    for row in table.iter_rows(named=True):
        dim = ev.filter(pl.col("dimension") == row["dimension"])
        ok = dim.filter(pl.col("level") <= row["level"])
        # every criterion at or below the level is at least "largely"
        assert ok["rating"].is_in(["largely", "fully"]).all()
        if row["level"] < 5:
            nxt = dim.filter(pl.col("level") == row["level"] + 1)
            bad = nxt.filter(pl.col("rating").is_in(["not", "partially"]))
            assert bad.height == row["gaps"] > 0
    assert table.filter(pl.col("floor"))["level"].min() == table["level"].min()
    # raising any rating never lowers a level (monotone)
    up = {i: r("fully") if v.rating == "partially" else v for i, v in ratings.items()}
    higher, _ = assess(cat, up, {})
    assert (higher["level"] >= table["level"]).all()


# ------------------------------------------------------------- through the real engine


def test_maturity_uses_evidence_of_earlier_rules(tmp_path: Path):
    (tmp_path / "canvas.yaml").write_text(CANVAS)
    (tmp_path / "ratings.yaml").write_text(
        "research.owner: {rating: largely, evidence: CX lead}\n"
        "design.customer_input: fully\n"
        "value_proposition.defined: fully\n"
    )
    pack = make_pack(
        "maturity",
        {"ratings": "ratings.yaml", "as_of": "2026-11-23", "wait_for": ["kpis", "canvas_coverage"]},
        rule_id="maturity",
        warn="level < 2",
        extra_rules=[
            # listed after nothing: the engine orders them by the tables maturity waits for
            {"id": "nps", "kind": "kpi", "with": {"metric": "nps", "source": "survey"}},
            {"id": "canvas", "kind": "canvas", "with": {"path": "canvas.yaml"}},
        ],
    )
    pack["rules"] = [pack["rules"][-1], *pack["rules"][:-1]]  # maturity first in the file
    f = tmp_path / "pack.yaml"
    f.write_text(yaml.safe_dump(pack, sort_keys=False))
    survey = pl.DataFrame({"score": [9, 10, 3], "time": [dt.date(2026, 11, 1)] * 3})
    result = Engine.load(f).run(data={"survey": survey})
    ev = result.tables["maturity_evidence"]
    rating = dict(ev.select("criterion", "rating").iter_rows())
    assert rating["research.feedback_collected"] == "fully"
    assert rating["experience.kpis_tracked"] == "fully"
    assert rating["value_proposition.canvas"] == "fully"
    assert rating["research.owner"] == "largely"
    levels = dict(result.tables["maturity"].select("dimension", "level").iter_rows())
    # level 2: feedback collected (derived) + owner (rated); level 3 needs Kano, absent
    assert levels["research"] == 2
    subjects = result.findings["subject"].to_list()
    assert "research/research.needs_classified" in subjects
    assert "research/research.feedback_recent" not in subjects  # 22 days old: recent
    # no dimension reaches 2 without ratings for its level-2 criteria -> warn "level < 2"
    warned = result.findings.filter(pl.col("severity") == "warn")["subject"].to_list()
    assert sorted(warned) == ["engagement", "improvement"]


def test_kpi_tables_found_among_wait_for_by_columns():
    kpi_like = pl.DataFrame(
        {"metric": ["referral_rate"], "subject": ["overall"], "value": [0.1], "benchmark": [0.2]}
    )
    tables = {"kpi_referrals": kpi_like, "other": pl.DataFrame({"x": [1]})}
    run = Run(
        lambda n: n in tables,
        lambda n: tables[n].lazy(),
        DEFAULT_TABLES,
        extra=["kpi_referrals", "other"],
    )
    d = derive_evidence(run, as_of=AS_OF)
    assert d["referral_tracked"] == ("fully", "referral rate in 'kpi_referrals'")
    assert d["kpi_benchmarks"][0] == "fully"
    assert d["kpis_tracked"][0] == "largely"  # referral rate only: no NPS/CSAT/CES/churn


def test_doc_examples_are_valid():
    from truenorth.builtins.maturity import DOC

    parts = [p.split("```")[0] for p in DOC.split("```yaml\n")[1:]]
    cat = load_catalogue_text(parts[0], "doc.yaml")
    assert list(cat.dimensions) == ["research"]
    ratings = load_ratings_text(parts[1], load_catalogue())
    assert ratings["research.owner"].evidence == "CX lead since 2024"
    (rule,) = yaml.safe_load(parts[2])
    MaturityOptions(**rule["with"])


def test_kpi_thresholds_seen_through_the_kpi_table():
    from truenorth.builtins.kpi import KpiOptions, compute_tables

    survey = pl.DataFrame({"score": [9, 10, 3]})
    o = KpiOptions.model_validate({"metric": "nps"})
    kpis = compute_tables(o, lambda n: survey.lazy(), lambda n: True, warn="value < 30")["kpis"]
    assert kpis["warn"].to_list() == ["value < 30"] and kpis["fail"].to_list() == [None]
    d = derive_evidence(run_of({"kpis": kpis}), as_of=AS_OF)
    assert d["kpi_thresholds"] == ("fully", "every KPI in 'kpis' has warn/fail thresholds")
    bare = compute_tables(o, lambda n: survey.lazy(), lambda n: True)["kpis"]
    d = derive_evidence(run_of({"kpis": bare}), as_of=AS_OF)
    assert d["kpi_thresholds"][0] == "not"
