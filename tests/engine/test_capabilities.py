"""Capabilities, not names: what a kind or reporter declares decides which checks and defaults
the engine applies, so a third-party plugin opts in exactly like a built-in."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth import PackError
from truenorth.engine.plugins import build_registry


def _flag_rows(ctx: truenorth.RuleContext[truenorth.Options]) -> truenorth.RuleOutput:
    """Flag every row of the `on` table meeting `warn` (a third-party condition-like kind)."""
    rule = ctx.rule
    assert rule.on is not None and rule.warn is not None
    rows = ctx.table(rule.on).filter(ctx.condition(rule.warn)).collect()
    findings = [
        ctx.finding(str(row["id"]), ctx.render(rule.message or "{id}", row))
        for row in rows.iter_rows(named=True)
    ]
    return truenorth.RuleOutput(findings=findings)


def _plugin(**capabilities: object) -> object:
    kind = truenorth.RuleKind(
        name="flag_rows",
        options_model=truenorth.Options,
        evaluate=_flag_rows,
        **capabilities,  # type: ignore[arg-type]
    )

    class Plugin:
        __name__ = "third_party_flags"

        @staticmethod
        @truenorth.hookimpl
        def register_rule_kinds(register):
            register(kind)

    return Plugin()


def _pack(**rule: str) -> dict:
    return {
        "truenorth": 1,
        "pack": "p",
        # declared columns: conditions and messages can be checked before any data is read
        "datasets": {"orders": {"columns": {"id": "id", "amount": "amount"}}},
        "rules": [{"id": "r", "kind": "flag_rows", "on": "orders", **rule}],
    }


OPT_IN = {"row_predicates": ("when", "warn", "fail"), "message_columns": True}


def test_a_third_party_kind_that_opts_in_gets_condition_checks():
    plugin = _plugin(**OPT_IN)
    with pytest.raises(PackError) as err:
        truenorth.Engine.load(_pack(warn="amonut > 1"), plugins=[plugin])
    (problem,) = err.value.problems
    assert problem.message.startswith("warn: unknown column 'amonut'") and problem.rule_id == "r"
    assert "amount" in (problem.expected or "")


def test_a_third_party_kind_that_opts_in_gets_placeholder_checks():
    plugin = _plugin(**OPT_IN)
    with pytest.raises(PackError, match=r"unknown placeholder\(s\) \{amt\}"):
        truenorth.Engine.load(_pack(warn="amount > 1", message="{id}: {amt}"), plugins=[plugin])


def test_the_opted_in_kind_runs_with_correct_conditions():
    plugin = _plugin(**OPT_IN)
    engine = truenorth.Engine.load(
        _pack(warn="amount > 1", message="{id} spent {amount}"), plugins=[plugin]
    )
    data = pl.DataFrame({"id": ["a", "b"], "amount": [0.5, 3.0]})
    result = engine.run(data={"orders": data})
    assert result.findings["message"].to_list() == ["b spent 3.0"]


def test_without_opting_in_warn_and_messages_are_left_to_run_time():
    # warn/fail of a kind that computes its own frame cannot be checked against `on`
    plugin = _plugin()
    engine = truenorth.Engine.load(_pack(warn="value > 1", message="{whatever}"), plugins=[plugin])
    assert engine.rules[0].conditions.keys() == {"warn"}


def test_the_when_predicate_is_checked_by_default():
    plugin = _plugin()
    with pytest.raises(PackError, match="unknown column 'amonut'"):
        truenorth.Engine.load(_pack(when="amonut > 1", warn="value > 1"), plugins=[plugin])


def test_a_kind_can_decline_the_when_check():
    plugin = _plugin(row_predicates=())
    truenorth.Engine.load(_pack(when="amonut > 1", warn="value > 1"), plugins=[plugin])


def test_bad_capabilities_are_rejected_at_registration():
    reg = build_registry([_plugin(row_predicates=("where",))], use_entry_points=False)
    assert "row_predicates must be a tuple of when, warn, fail" in (reg.plugins[0].error or "")
    assert "flag_rows" not in reg.kinds


def _reporter_plugin(default: str) -> object:
    def write(result: truenorth.Result, path: Path | None) -> None:
        assert path is not None
        path.write_text(result.pack)

    reporter = truenorth.Reporter("pack_name", write, ".txt", default=default)  # type: ignore[arg-type]

    class Plugin:
        __name__ = "third_party_reporter"

        @staticmethod
        @truenorth.hookimpl
        def register_reporters(register):
            register(reporter)

    return Plugin()


def test_builtin_default_formats_come_from_the_reporters():
    reg = build_registry()
    assert reg.default_formats(out=False) == ["console"]
    assert sorted(reg.default_formats(out=True)) == [
        "console",
        "html",
        "json",
        "markdown",
        "tables",
    ]


def test_a_third_party_reporter_can_be_a_default_with_out():
    reg = build_registry([_reporter_plugin("out")])
    assert "pack_name" in reg.default_formats(out=True)
    assert "pack_name" not in reg.default_formats(out=False)
    reg = build_registry([_reporter_plugin("never")])
    assert "pack_name" not in reg.default_formats(out=True)


def test_a_bad_reporter_default_is_rejected():
    reg = build_registry([_reporter_plugin("sometimes")], use_entry_points=False)
    assert "default must be one of never, always, out" in (reg.plugins[0].error or "")
