"""The `canvas` rule kind: format, located errors, consistency checks, links to data."""

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
from truenorth.builtins.canvas import (
    KIND,
    Canvas,
    CanvasOptions,
    check_canvas,
    evaluate,
    load_canvas,
    load_canvas_text,
)
from truenorth.errors import DataError, PackError
from truenorth.testing import make_pack, rule_context, run_rule

GOOD = textwrap.dedent(
    """\
    canvas: 1
    name: Acme Analytics
    customer_segments:
      - id: smb
        name: Small businesses
        data_segment: [loyal, champions]
        pains:
          - {id: setup-pain, name: Setup takes weeks, priority: high}
          - {id: price-pain, name: Pricey, priority: low}
        gains:
          - {id: insight, name: Actionable insight, priority: high}
      - id: enterprise
        name: Enterprises
    value_propositions:
      - id: fast-setup
        name: Live in a day
        serves: [smb, enterprise]
        pain_relievers: [{id: templates, name: Templates, relieves: [setup-pain]}]
        gain_creators: [{id: alerts, name: Alerts, creates: [insight]}]
    channels:
      - {id: web, name: Website, delivers: [fast-setup], reaches: [smb, enterprise],
         touchpoints: [site, app]}
    customer_relationships:
      - {id: self-serve, name: Self service, with: [smb, enterprise], touchpoints: [help]}
    revenue_streams:
      - {id: subscription, name: Subscriptions, from: [smb, enterprise]}
    key_activities:
      - {id: dev, name: Product development, supports: [fast-setup]}
    key_resources:
      - {id: platform, name: Platform, supports: [fast-setup]}
    key_partnerships:
      - {id: cloud, name: Cloud provider, provides: [platform]}
    cost_structure:
      - {id: salaries, name: Salaries, for: [dev]}
      - {id: hosting, name: Hosting, for: [platform, cloud]}
    """
)


def check(text: str, **kw: Any):
    return check_canvas(load_canvas_text(text, "c.yaml"), **kw)


def problems(text: str) -> list[str]:
    with pytest.raises(PackError) as err:
        load_canvas_text(text, "c.yaml")
    return [str(p) for p in err.value.problems]


def test_consistent_canvas_has_full_coverage_and_no_issues():
    coverage, segs, issues = check(GOOD)
    assert issues == []
    assert coverage["block"].to_list()[0] == "customer_segments"
    assert coverage.height == 9
    assert coverage["coverage"].to_list() == [1.0] * 9
    assert coverage["items"].to_list() == [2, 1, 1, 1, 1, 1, 1, 1, 2]
    assert segs["segment"].to_list() == ["smb", "enterprise"]
    assert segs["has_data"].to_list() == [None, None]  # no segments table


def test_json_schema_uses_yaml_names():
    schema = Canvas.model_json_schema(by_alias=True)
    rel = schema["$defs"]["Relationship"]["properties"]
    assert "with" in rel and "with_" not in rel
    assert set(schema["properties"]) >= {"customer_segments", "cost_structure"}


# ------------------------------------------------------------------------- located errors


def test_unknown_key_is_located_with_allowed_keys():
    (msg,) = problems(
        GOOD.replace("    name: Enterprises\n", "    name: Enterprises\n    nmae: x\n")
    )
    assert msg.startswith("c.yaml:14:5: unknown key 'nmae'")
    assert "one of: id, name, description, data_segment" in msg


def test_unknown_and_wrong_kind_links_and_duplicate_ids():
    text = GOOD.replace("serves: [smb, enterprise]", "serves: [smb, nobody, dev]").replace(
        "- {id: hosting,", "- {id: dev,"
    )
    msgs = problems(text)
    assert any(
        m.startswith("c.yaml:17:19: value proposition 'fast-setup': serves 'nobody': no such id")
        and "enterprise, smb" in m
        for m in msgs
    ), msgs
    assert any(
        m.startswith("c.yaml:17:27:")
        and "serves 'dev' is a key activity (defined at c.yaml:28:10)" in m
        for m in msgs
    ), msgs
    assert any(
        m.startswith("c.yaml:35:10: duplicate id 'dev' (cost); first defined as a key activity")
        for m in msgs
    ), msgs


def test_relieves_must_name_a_pain():
    msgs = problems(GOOD.replace("relieves: [setup-pain]", "relieves: [insight]"))
    assert (
        len(msgs) == 1
        and "relieves 'insight' is a gain" in msgs[0]
        and "expected a pain id" in msgs[0]
    )


def test_bad_values_and_yaml_syntax():
    msgs = problems(GOOD.replace("priority: low", "priority: urgent"))
    assert (
        len(msgs) == 1
        and msgs[0].startswith("c.yaml:9:50:")
        and "'high', 'medium' or 'low'" in msgs[0]
    )
    msgs = problems(GOOD.replace("canvas: 1", "canvas: 2"))
    assert msgs[0].startswith("c.yaml:1:9:")
    msgs = problems("customer_segments: [\n")
    assert msgs[0].startswith("c.yaml:2:1: invalid YAML")
    msgs = problems(GOOD + "name: again\n")
    assert "duplicate key 'name'" in msgs[0] and msgs[0].startswith("c.yaml:36:1:")
    msgs = problems("customer_segments:\n  - name: no id\n")
    assert msgs == ["c.yaml:2:5: missing required key 'id'"]
    msgs = problems("- just a list\n")
    assert "a canvas must be a mapping" in msgs[0]


def test_load_canvas_from_file(tmp_path: Path):
    p = tmp_path / "canvas.yaml"
    p.write_text(GOOD)
    assert load_canvas(p).canvas.name == "Acme Analytics"
    with pytest.raises(PackError, match="cannot read canvas file"):
        load_canvas(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- consistency


def by_check(issues) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i in issues:
        out.setdefault(i.check, []).append(i.subject)
    return out


def test_segment_without_links_and_orphans():
    text = GOOD + textwrap.dedent(
        """\
        """
    )
    text = text.replace(
        "  - id: enterprise\n    name: Enterprises\n",
        "  - id: enterprise\n    name: Enterprises\n  - id: gov\n    name: Government\n",
    )
    text = text.replace(
        "key_activities:\n", "key_activities:\n  - {id: lobby, name: Lobbying}\n"
    ).replace("cost_structure:\n", "cost_structure:\n  - {id: misc, name: Misc}\n")
    coverage, _, issues = check(text)
    found = by_check(issues)
    assert found["segment_links"] == ["gov"]
    gov = next(i for i in issues if i.subject == "gov")
    assert gov.evidence["missing"] == [
        "value proposition",
        "channel",
        "customer relationship",
        "revenue stream",
    ]
    assert gov.location is not None and gov.location.line == 14
    assert "c.yaml:14:9" in gov.message
    assert found["resource_links"] == ["lobby"]
    lobby = next(i for i in issues if i.subject == "lobby")
    assert "supports no value proposition and appears in no cost" in lobby.message
    assert found["cost_links"] == ["misc"]
    cov = dict(coverage.select("block", "coverage").iter_rows())
    assert cov["customer_segments"] == pytest.approx(2 / 3)
    assert cov["key_activities"] == 0.5
    unl = dict(coverage.select("block", "unlinked_items").iter_rows())
    assert unl["cost_structure"] == "misc"


def test_value_proposition_without_support_and_segment():
    text = GOOD.replace("channels:\n", "  - {id: lonely, name: Lonely}\nchannels:\n")
    _, _, issues = check(text)
    (i,) = [i for i in issues if i.subject == "lonely"]
    assert i.check == "value_proposition_links"
    assert "serves no customer segment and is supported by no key activity" in i.message


def test_vpc_fit_high_priority_pain_and_gain():
    text = GOOD.replace("relieves: [setup-pain]", "relieves: []").replace(
        "creates: [insight]", "creates: []"
    )
    _, _, issues = check(text)
    found = by_check(issues)
    assert found == {"vpc_pain": ["setup-pain"], "vpc_gain": ["insight"]}  # price-pain is low
    _, _, issues = check(text, vpc_priority="low")
    assert by_check(issues)["vpc_pain"] == ["setup-pain", "price-pain"]


def test_reliever_in_a_vp_not_serving_the_segment_does_not_count():
    text = GOOD.replace("serves: [smb, enterprise]", "serves: [enterprise]")
    _, _, issues = check(text)
    found = by_check(issues)
    assert found["vpc_pain"] == ["setup-pain"] and found["segment_links"] == ["smb"]


# ------------------------------------------------------------------------ links to data

SEGMENTS = pl.DataFrame(
    {
        "segment": ["loyal", "champions", "enterprise", "hibernating"],
        "customers": [10, 5, 3, 40],
        "clv_total": [1000.0, 1500.0, 900.0, 80.0],
    }
)


def test_segments_attach_size_and_clv():
    _, segs, issues = check(GOOD, segments=SEGMENTS)
    smb = segs.filter(pl.col("segment") == "smb").row(0, named=True)
    assert smb["customers"] == 15 and smb["clv_total"] == 2500.0
    assert smb["clv_mean"] == pytest.approx(2500 / 15)
    assert smb["data_segments"] == "champions, loyal" and smb["has_data"] is True
    ent = segs.filter(pl.col("segment") == "enterprise").row(0, named=True)
    assert ent["customers"] == 3 and ent["clv_mean"] == 300.0  # matched by id
    (ignored,) = issues
    assert ignored.check == "data_segment_ignored" and ignored.subject == "hibernating"
    assert "40 customers" in ignored.message


def test_segments_with_clv_mean_only_and_missing_data_segment():
    seg = pl.DataFrame(
        {"segment": ["loyal", "champions"], "customers": [10, 30], "clv_mean": [100.0, 300.0]}
    )
    _, segs, issues = check(GOOD, segments=seg)
    smb = segs.filter(pl.col("segment") == "smb").row(0, named=True)
    assert smb["clv_mean"] == pytest.approx((10 * 100 + 30 * 300) / 40)
    assert smb["clv_total"] is None
    (gap,) = issues
    assert gap.check == "segment_without_data" and gap.subject == "enterprise"
    _, _, issues = check(GOOD.replace("[loyal, champions]", "[loyal, vip]"), segments=seg)
    msgs = {(i.check, i.subject): i.message for i in issues}
    assert "'vip'" in msgs[("segment_without_data", "smb")]
    assert ("segment_without_data", "enterprise") in msgs
    assert "champions" in msgs[("data_segment_ignored", "champions")]


def test_segments_table_without_segment_column():
    with pytest.raises(DataError, match=r"segments: no column 'segment'.*name, customers"):
        check(GOOD, segments=pl.DataFrame({"name": ["x"], "customers": [1]}))


def test_touchpoints():
    tp = pl.DataFrame({"touchpoint": ["site", "help", "email", "site"]})
    _, _, issues = check(GOOD, touchpoints=tp)
    found = by_check(issues)
    assert found == {"touchpoint_without_data": ["web"], "touchpoint_unmapped": ["email"]}
    (web,) = [i for i in issues if i.subject == "web"]
    assert "'app'" in web.message and web.evidence["touchpoint"] == "app"


# -------------------------------------------------------------------------------- the rule


def context(
    options: dict[str, Any], tables: dict[str, pl.DataFrame], base: Path, **rule: Any
) -> RuleContext[CanvasOptions]:
    return rule_context("canvas", options, tables, rule_id="c1", base_dir=base, **rule)


def test_evaluate_reads_optional_tables_and_thresholds(tmp_path: Path):
    (tmp_path / "canvas.yaml").write_text(GOOD.replace("creates: [insight]", "creates: []"))
    ctx = context({"path": "canvas.yaml"}, {"segments": SEGMENTS}, tmp_path, warn="coverage < 1")
    out = evaluate(ctx)
    checks = sorted(f.evidence.get("check", "threshold") for f in out.findings)
    assert checks == ["data_segment_ignored", "vpc_gain"]
    assert set(out.tables) == {"canvas_coverage", "canvas_segments", "canvas_segment_kpis"}
    ctx = context({"path": "canvas.yaml"}, {}, tmp_path, warn="coverage < 1")
    out = evaluate(ctx)
    assert [f.subject for f in out.findings] == ["insight"]
    assert "canvas.yaml:11:14" in out.findings[0].message
    assert list(KIND.reads(CanvasOptions(path="x", segments="segs"), None)) == ["segs"]  # type: ignore[arg-type]
    assert set(KIND.writes(CanvasOptions(path="x"), None)) == {  # type: ignore[arg-type]
        "canvas_coverage",
        "canvas_segments",
        "canvas_segment_kpis",
    }


# ---------------------------------------------------------------------------- properties


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_random_canvases_coverage_is_consistent(data):
    n_seg = data.draw(st.integers(0, 4))
    n_vp = data.draw(st.integers(0, 4))
    segs = [f"s{i}" for i in range(n_seg)]
    vps = [f"v{i}" for i in range(n_vp)]
    doc: dict[str, Any] = {
        "customer_segments": [{"id": s, "name": s} for s in segs],
        "value_propositions": [
            {
                "id": v,
                "name": v,
                "serves": data.draw(st.lists(st.sampled_from(segs), unique=True)) if segs else [],
            }
            for v in vps
        ],
        "channels": [
            {
                "id": "c0",
                "name": "c0",
                "reaches": data.draw(st.lists(st.sampled_from(segs), unique=True)) if segs else [],
            }
        ],
        "key_activities": [
            {
                "id": "a0",
                "name": "a0",
                "supports": data.draw(st.lists(st.sampled_from(vps), unique=True)) if vps else [],
            }
        ],
    }
    import yaml

    coverage, _, issues = check(yaml.safe_dump(doc))
    for r in coverage.iter_rows(named=True):
        assert r["linked"] + r["unlinked"] == r["items"]
        assert r["coverage"] is None or 0 <= r["coverage"] <= 1
    # every unlinked item has exactly one finding about its links
    unlinked = sum(coverage["unlinked"])
    assert unlinked == len([i for i in issues if i.check.endswith("_links")])


# ------------------------------------------------------------- through the real engine


def write_pack(tmp_path: Path, options: dict, **rule) -> Path:
    pack = make_pack("canvas", options, **rule)
    f = tmp_path / "pack.yaml"
    f.write_text(yaml.safe_dump(pack, sort_keys=False))
    return f


def test_canvas_pack_with_segments_table(tmp_path: Path):
    (tmp_path / "canvas.yaml").write_text(GOOD.replace("creates: [insight]", "creates: []"))
    f = write_pack(tmp_path, {"path": "canvas.yaml", "segments": "segments"}, warn="coverage < 1")
    segments = pl.DataFrame(
        {
            "segment": ["loyal", "champions", "enterprise"],
            "customers": [10, 5, 3],
            "clv_total": [1000.0, 1500.0, 900.0],
        }
    )
    result = Engine.load(f).run(data={"segments": segments})
    found = result.findings.sort("subject")
    assert found["subject"].to_list() == ["insight"]
    assert "canvas.yaml:11:14" in found["message"][0]
    segs = result.tables["canvas_segments"]
    assert segs.filter(pl.col("segment") == "smb")["customers"][0] == 15
    assert result.tables["canvas_coverage"]["coverage"].min() == 1.0


def test_canvas_file_errors_surface_with_location(tmp_path: Path):
    (tmp_path / "canvas.yaml").write_text(
        GOOD.replace("reaches: [smb, enterprise]", "reaches: [smb, enterprize]")
    )
    # the canvas is part of the pack: its problems are load-time (`truenorth validate`) errors
    with pytest.raises(PackError, match=r"canvas.yaml:21:\d+: channel 'web': reaches 'enterprize'"):
        run_rule("canvas", {"path": str(tmp_path / "canvas.yaml")})


def test_a_missing_canvas_file_is_a_load_time_error_at_its_path_option(tmp_path: Path):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "truenorth: 1\npack: p\nrules:\n  - id: bmc\n    kind: canvas\n    with: {path: nope.yaml}\n"
    )
    with pytest.raises(PackError, match=r"canvas file 'nope.yaml' not found") as info:
        Engine.load(pack)
    (problem,) = info.value.problems
    loc = problem.location
    assert (problem.rule_id, loc.file, loc.line, loc.column) == ("bmc", str(pack), 6, 18)


def test_segment_table_column_aliases():
    seg = pl.DataFrame(
        {
            "segment": ["loyal", "champions", "enterprise"],
            "n_customers": [1, 3, 2],
            "clv_sum": [10.0, 30.0, 8.0],
        }
    )
    _, segs, _ = check(GOOD, segments=seg)
    smb = segs.filter(pl.col("segment") == "smb").row(0, named=True)
    assert (smb["customers"], smb["clv_total"], smb["clv_mean"]) == (4, 40.0, 10.0)


def test_canvas_threshold_typo_is_a_load_time_error():
    with pytest.raises(PackError, match=r"unknown column 'coverag'; did you mean 'coverage'"):
        Engine.load(make_pack("canvas", {"path": "c.yaml"}, warn="coverag < 1"))


def test_doc_example_canvas_is_valid_and_consistent():
    from truenorth.builtins.canvas import DOC

    blocks = DOC.split("```yaml\n")
    canvas_text = blocks[1].split("```")[0]
    coverage, _, issues = check_canvas(load_canvas_text(canvas_text, "doc.yaml"))
    assert issues == []
    assert coverage["coverage"].to_list() == [1.0] * 9
    (rule,) = yaml.safe_load(blocks[2].split("```")[0])
    assert CanvasOptions(**rule["with"]).segments == "segments"


def test_segment_kpis_are_n_weighted_means_of_mapped_data_segments():
    from truenorth.builtins.canvas import segment_kpis

    kpis = pl.DataFrame(
        {
            "metric": ["nps"] * 5,
            "subject": ["overall", "loyal", "champions", "enterprise", "loyal @ 2026-01-01"],
            "segment": [None, "loyal", "champions", "enterprise", "loyal"],
            "period": [None, None, None, None, dt.date(2026, 1, 1)],
            "value": [40.0, 50.0, 80.0, 0.0, -100.0],
            "n": [45, 10, 30, 5, 2],
        }
    )
    out = segment_kpis(load_canvas_text(GOOD, "c.yaml"), {"kpi_nps": kpis})
    rows = {r["segment"]: r for r in out.iter_rows(named=True)}
    assert rows["smb"]["value"] == pytest.approx((10 * 50 + 30 * 80) / 40)  # 72.5
    assert rows["smb"]["n"] == 40 and rows["smb"]["data_segments"] == "champions, loyal"
    assert rows["enterprise"]["value"] == 0.0 and rows["enterprise"]["table"] == "kpi_nps"
    with pytest.raises(DataError, match="not a KPI table"):
        segment_kpis(load_canvas_text(GOOD, "c.yaml"), {"x": pl.DataFrame({"a": [1]})})


def test_canvas_attaches_kpis_of_an_earlier_rule(tmp_path: Path):
    (tmp_path / "canvas.yaml").write_text(GOOD)
    pack = make_pack(
        "canvas",
        {"path": "canvas.yaml", "kpis": ["kpi_nps"]},
        rule_id="canvas",
        extra_rules=[
            {
                "id": "nps",
                "kind": "kpi",
                "with": {"metric": "nps", "source": "survey", "by": "segment", "table": "kpi_nps"},
            }
        ],
    )
    pack["rules"].reverse()  # canvas first in the file: ordered by the tables it reads
    f = tmp_path / "pack.yaml"
    f.write_text(yaml.safe_dump(pack, sort_keys=False))
    survey = pl.DataFrame(
        {
            "score": [10, 10, 0, 9, 3],
            "segment": ["loyal", "champions", "champions", "enterprise", "x"],
        }
    )
    result = Engine.load(f).run(data={"survey": survey})
    out = {r["segment"]: r["value"] for r in result.tables["canvas_segment_kpis"].to_dicts()}
    assert out == {"smb": pytest.approx(100 * (2 - 1) / 3), "enterprise": 100.0}
