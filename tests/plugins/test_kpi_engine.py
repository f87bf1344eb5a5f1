"""The `kpi` kind through the real engine (truenorth.testing.run_rule): thresholds, errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from truenorth import Engine, PackError, RuleError
from truenorth.testing import assert_findings, make_pack, run_rule

SURVEY = pl.DataFrame(
    {
        "score": [10, 9, 8, 7, 6, 0, 10, 10, 3, 9],
        "region": ["n", "n", "n", "s", "s", "s", "n", "s", "s", "n"],
    }
)


def test_nps_thresholds_per_segment():
    # n: 10, 9, 8, 10, 9 -> P=4, D=0 -> 80; s: 7, 6, 0, 10, 3 -> P=1, D=3 -> -40
    result = run_rule(
        "kpi",
        {"metric": "nps", "source": "survey", "by": "region"},
        {"survey": SURVEY},
        warn="value < 30",
        fail="value < 0",
    )
    kpis = result.tables["kpis"].sort("subject")
    assert kpis["subject"].to_list() == ["n", "overall", "s"]
    assert kpis["value"].to_list() == pytest.approx([80.0, 20.0, -40.0])
    assert_findings(
        result,
        [
            {"subject": "overall", "severity": "warn", "value": 20.0},
            {"subject": "s", "severity": "fail", "value": -40.0},
        ],
    )


def test_target_findings_without_thresholds():
    result = run_rule(
        "kpi",
        {"metric": "csat", "source": "survey"},
        {"survey": pl.DataFrame({"score": [5, 5, 4, 2]})},
    )
    assert_findings(result, [{"subject": "overall", "value": 0.75}])


def test_bad_value_is_a_rule_error_naming_row_and_value():
    with pytest.raises(RuleError, match=r"survey: column 'score', row 2: value 11"):
        run_rule(
            "kpi",
            {"metric": "nps", "source": "survey"},
            {"survey": pl.DataFrame({"score": [9, 11]})},
        )


def test_bad_option_is_located_at_its_key():
    pack = make_pack("kpi", {"metric": "nps", "source": "survey", "ci": "wilson"})
    with pytest.raises(PackError) as err:
        Engine.load(pack)
    text = str(err.value)
    assert "ci" in text and "adjusted_wald" in text


def test_two_kpi_rules_write_distinct_tables():
    pack = make_pack(
        "kpi",
        {"metric": "nps", "source": "survey", "table": "kpi_nps"},
        rule_id="nps",
        extra_rules=[
            {
                "id": "csat",
                "kind": "kpi",
                "with": {"metric": "csat", "source": "answers", "table": "kpi_csat"},
            }
        ],
    )
    engine = Engine.load(pack)
    result = engine.run(data={"survey": SURVEY, "answers": pl.DataFrame({"score": [5, 4, 4, 1]})})
    assert result.tables["kpi_nps"]["value"][0] == pytest.approx(20.0)
    assert result.tables["kpi_csat"]["value"][0] == pytest.approx(0.75)


def test_option_errors_name_file_line_column(tmp_path):
    import yaml

    f = tmp_path / "p.yaml"
    for options, where, text in (
        ({"metric": "nps", "source": "survey", "ci": "wilson"}, "p.yaml:10:9:", "'adjusted_wald'"),
        ({"metric": "npx"}, "p.yaml:8:13:", "'first_response_time'"),
        ({"metric": "cac_payback"}, "p.yaml:8:5:", "missing required key 'gross_margin'"),
        ({"metric": "nps", "period": "monthly"}, "p.yaml:9:13:", "calendar interval"),
    ):
        f.write_text(yaml.safe_dump(make_pack("kpi", options), sort_keys=False))
        with pytest.raises(PackError) as err:
            Engine.load(f)
        msg = str(err.value)
        assert where in msg and text in msg, msg


def test_threshold_typo_is_a_load_time_error():
    with pytest.raises(PackError, match=r"warn: unknown column 'valeu'; did you mean 'value'"):
        Engine.load(make_pack("kpi", {"metric": "nps", "source": "survey"}, warn="valeu < 30"))
    Engine.load(
        make_pack(
            "kpi",
            {"metric": "nps", "source": "survey"},
            warn="value < 30 OR delta < -5",
            fail="ci_high < 0",
        )
    )


@pytest.mark.parametrize("kind", ["kpi", "canvas", "maturity"])
def test_kind_examples_compile(kind, tmp_path, monkeypatch):
    import shutil

    import yaml

    import truenorth
    from truenorth.testing import load_registry

    # the canvas example names `canvas.yaml` beside the pack (checked at load time)
    bundled = Path(truenorth.__file__).parent / "packs" / "data" / "canvas.yaml"
    shutil.copy(bundled, tmp_path / "canvas.yaml")
    monkeypatch.chdir(tmp_path)

    registered = load_registry().kinds[kind]
    assert registered.examples
    rules = [r for snippet in registered.examples for r in yaml.safe_load(snippet)]
    Engine.load({"truenorth": 1, "pack": "examples", "rules": rules})
