"""truenorth.testing.rule_context: the engine's own rule context for calling evaluate directly."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from truenorth import PackError
from truenorth.builtins import kpi
from truenorth.testing import rule_context

SCORES = pl.DataFrame({"subject": ["a", "b", "c", "d"], "value": [10.0, 40.0, None, -5.0]})


def test_thresholds_are_the_engines_fail_first_nulls_never_meet():
    ctx = rule_context("kpi", {"metric": "nps"}, warn="value < 30", fail="value < 0")
    found = {f.subject: f for f in ctx.check_thresholds(SCORES)}
    assert {s: f.severity for s, f in found.items()} == {"a": "warn", "d": "fail"}
    assert found["d"].threshold == "value < 0" and found["d"].value == -5.0
    # the engine's default message names the threshold the row met
    assert found["a"].message == "a: value = 10 meets warn threshold 'value < 30'"


def test_conditions_are_compiled_and_checked_by_the_engine():
    ctx = rule_context("kpi", {"metric": "nps"})
    expr = ctx.condition("value BETWEEN 0 AND 20", SCORES.schema)
    assert SCORES.filter(expr)["subject"].to_list() == ["a"]
    with pytest.raises(ValueError, match="valeu"):
        ctx.condition("valeu > 1", SCORES.schema)


def test_messages_render_as_in_a_run():
    ctx = rule_context("kpi", {"metric": "nps"}, warn="value < 30", message="{subject}!")
    assert [f.message for f in ctx.check_thresholds(SCORES)] == ["a!", "d!"]
    assert ctx.render("{subject} {missing}", {"subject": "a"}) == "a {missing}"


def test_evaluate_of_a_builtin_runs_on_the_given_tables():
    answers = pl.DataFrame({"score": [10, 9, 3, 2]})
    ctx = rule_context("kpi", {"metric": "nps"}, {"survey": answers}, rule_id="nps", fail="n < 5")
    out = kpi.evaluate(ctx)
    assert out.tables["kpis"]["value"].to_list() == [0.0]
    assert [(f.rule_id, f.subject, f.severity) for f in out.findings] == [
        ("nps", "overall", "fail")
    ]


def test_paths_resources_and_params(tmp_path: Path):
    ctx = rule_context(
        "kpi", {"metric": "nps"}, base_dir=tmp_path, resources={"model": 42}, rule_id="r"
    )
    assert ctx.resolve_path("canvas.yaml") == tmp_path / "canvas.yaml"
    assert ctx.resource("model") == 42 and ctx.resource() is None
    assert not ctx.has_table("survey")


def test_bad_options_are_pack_errors_as_in_a_pack():
    with pytest.raises(PackError, match="metric"):
        rule_context("kpi", {"metric": "npz"})
