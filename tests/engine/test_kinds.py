"""The condition and decision_table rule kinds, through the public test harness."""

from __future__ import annotations

import json

import polars as pl
import pytest

import truenorth
from truenorth.testing import assert_findings, run_rule

CUSTOMERS = pl.DataFrame(
    {
        "customer": ["a", "b", "c", "d", "e"],
        "clv": [50.0, 250.0, 1200.0, 400.0, None],
        "p_alive": [0.9, 0.1, 0.05, 0.8, 0.2],
        "segment": ["new", "at_risk", "champion", "loyal", "at_risk"],
    }
)


def test_condition_findings_per_matching_row_with_evidence_and_action():
    result = run_rule(
        "condition",
        {"subject": "customer", "value": "clv"},
        {"customers": CUSTOMERS},
        when="p_alive < 0.3 AND clv > 200",
        action="win-back",
        message="{customer}: {clv:.0f}",
    )
    assert_findings(
        result,
        [
            {
                "subject": "b",
                "severity": "warn",
                "action": "win-back",
                "value": 250.0,
                "message": "b: 250",
            },
            {"subject": "c", "severity": "warn", "action": "win-back", "value": 1200.0},
        ],
    )
    ev = json.loads(result.findings.filter(pl.col("subject") == "c")["evidence"][0])
    assert ev == {"clv": 1200.0, "p_alive": 0.05}
    assert result.findings["threshold"].unique().to_list() == ["p_alive < 0.3 AND clv > 200"]


def test_condition_null_values_do_not_match():
    result = run_rule("condition", {}, {"customers": CUSTOMERS}, when="clv < 100")
    assert result.findings["subject"].to_list() == ["a"]  # e has a null clv


def test_condition_warn_and_fail_levels():
    result = run_rule(
        "condition",
        {"value": "p_alive"},
        {"customers": CUSTOMERS},
        warn="p_alive < 0.25",
        fail="p_alive < 0.1",
    )
    got = dict(zip(result.findings["subject"], result.findings["severity"], strict=True))
    assert got == {"b": "warn", "c": "fail", "e": "warn"}
    thresholds = dict(zip(result.findings["subject"], result.findings["threshold"], strict=True))
    assert thresholds["c"] == "p_alive < 0.1"


def test_condition_string_functions_and_in_lists():
    result = run_rule(
        "condition",
        {},
        {"customers": CUSTOMERS},
        when="segment IN ('at_risk', 'loyal') AND segment LIKE 'at%'",
    )
    assert sorted(result.findings["subject"].to_list()) == ["b", "e"]


def test_condition_default_subject_is_first_column_and_limit():
    result = run_rule("condition", {"limit": 2}, {"customers": CUSTOMERS}, when="p_alive < 0.95")
    assert result.findings["subject"].to_list() == ["a", "b"]


def test_condition_unknown_option_column_is_located():
    with pytest.raises(truenorth.PackError, match="subject: unknown column 'cust'"):
        # with a declared schema (the decision table declares its outputs), the check is static
        truenorth.Engine.load(
            {
                "truenorth": 1,
                "pack": "p",
                "datasets": {"c": {"path": "c.csv", "columns": {"customer": "id"}}},
                "rules": [
                    {
                        "id": "r",
                        "kind": "condition",
                        "on": "c",
                        "when": "customer = 'x'",
                        "with": {"subject": "cust"},
                    }
                ],
            }
        )


def test_condition_needs_on_and_when():
    with pytest.raises(truenorth.PackError, match="need `when:`"):
        run_rule("condition", {}, {"customers": CUSTOMERS})


def test_decision_table_first_hit_policy():
    result = run_rule(
        "decision_table",
        {
            "rows": [
                {"when": "clv >= 1000", "tier": "gold", "discount": 20},
                {"when": "clv >= 200", "tier": "silver", "discount": 10},
                {"when": "p_alive < 0.5", "tier": "rescue"},
            ],
        },
        {"customers": CUSTOMERS},
        raise_errors=True,
    )
    out = result.tables["customers"].sort("customer")
    assert out["tier"].to_list() == [None, "silver", "gold", "silver", "rescue"]
    assert out["discount"].to_list() == [None, 10, 20, 10, None]
    assert out["rule_row"].to_list() == [None, 2, 1, 2, 3]
    # unmatched rows are reported (no default given), and the static check names the gap
    assert_findings(
        result,
        [
            {"subject": "a", "severity": "warn", "threshold": "no row matched"},
            {"subject": "table", "severity": "info", "threshold": "a row for every input"},
        ],
    )
    (gap,) = result.findings.filter(pl.col("subject") == "table")["message"].to_list()
    assert gap == "inputs no row matches, e.g. clv < 200 AND p_alive >= 0.5"


def test_decision_table_default_means_no_unmatched_findings():
    result = run_rule(
        "decision_table",
        {"rows": [{"when": "clv >= 1000", "tier": "gold"}], "default": {"tier": "base"}},
        {"customers": CUSTOMERS},
    )
    assert result.findings.height == 0
    assert result.tables["customers"].sort("customer")["tier"].to_list() == [
        "base",
        "base",
        "gold",
        "base",
        "base",
    ]


def test_decision_table_collect_policy():
    result = run_rule(
        "decision_table",
        {
            "hit_policy": "collect",
            "rows": [
                {"when": "clv >= 200", "tag": "valuable"},
                {"when": "p_alive < 0.3", "tag": "lapsing"},
                {"when": "segment = 'new'", "tag": "new"},
            ],
            "into": "tags",
        },
        {"customers": CUSTOMERS},
        on="customers",
    )
    out = result.tables["tags"].sort("customer")
    assert out["tag"].to_list() == [
        ["new"],
        ["valuable", "lapsing"],
        ["valuable", "lapsing"],
        ["valuable"],
        ["lapsing"],
    ]
    assert out["rule_row"].to_list() == [[3], [1, 2], [1, 2], [1], [2]]
    # every customer matched a row; the static check still names the inputs no row covers
    assert result.findings["message"].to_list() == [
        "inputs no row matches, e.g. clv < 200 AND p_alive >= 0.3 AND segment <> 'new'"
    ]


def test_decision_table_row_condition_errors_are_located(tmp_path):
    path = tmp_path / "dt.yaml"
    path.write_text(
        """truenorth: 1
pack: p
datasets:
  c: {path: c.csv, columns: {customer: id, clv: clv}}
rules:
  - id: dt
    kind: decision_table
    on: c
    with:
      rows:
        - {when: "clv > 1", tier: a}
        - {when: "AVG(clv) > 1", tier: b}
        - {when: "clvv > 1", tier: c}
"""
    )
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(path)
    probs = info.value.problems
    assert [(p.location.line, p.location.column) for p in probs] == [(12, 18), (13, 18)]
    assert "aggregate" in probs[0].message and "unknown column 'clvv'" in probs[1].message
    assert all(p.rule_id == "dt" for p in probs)


def test_decision_table_options_validation():
    with pytest.raises(truenorth.PackError, match="assigns no output"):
        run_rule("decision_table", {"rows": [{"when": "clv > 1"}]}, {"customers": CUSTOMERS})
    with pytest.raises(truenorth.PackError, match="no 'when'"):
        run_rule("decision_table", {"rows": [{"tier": "x"}]}, {"customers": CUSTOMERS})


def test_decision_table_then_condition_on_its_output():
    rules = [
        {
            "id": "tiers",
            "kind": "decision_table",
            "on": "customers",
            "with": {"rows": [{"when": "clv >= 1000", "tier": "gold"}], "default": {"tier": "std"}},
        },
        {
            "id": "gold-lapsing",
            "kind": "condition",
            "on": "customers",
            "when": "tier = 'gold' AND p_alive < 0.1",
        },
    ]
    engine = truenorth.Engine.load({"truenorth": 1, "pack": "p", "rules": rules})
    result = engine.run(data={"customers": CUSTOMERS})
    assert result.findings["subject"].to_list() == ["c"]


def test_decision_table_into_a_new_table_keeps_the_input_columns_usable():
    rules = [
        {
            "id": "tags",
            "kind": "decision_table",
            "on": "customers",
            "with": {
                "rows": [{"when": "clv >= 1000", "tier": "gold"}],
                "default": {"tier": "std"},
                "into": "tiers",
            },
        },
        {
            "id": "gold-lapsing",
            "kind": "condition",
            "on": "tiers",
            "when": "tier = 'gold' AND p_alive < 0.1",
        },
    ]
    engine = truenorth.Engine.load({"truenorth": 1, "pack": "p", "rules": rules})
    result = engine.run(data={"customers": CUSTOMERS})
    assert result.findings["subject"].to_list() == ["c"]
    assert "customers" not in result.tables and result.tables["tiers"].height == 5


def test_condition_nan_never_matches():
    frame = pl.DataFrame({"customer": ["a", "b", "c"], "clv": [float("nan"), 500.0, None]})
    result = run_rule("condition", {}, {"customers": frame}, when="clv > 200")
    assert result.findings["subject"].to_list() == ["b"]
    result = run_rule("condition", {}, {"customers": frame}, warn="clv > 200", fail="clv > 400")
    assert result.findings.select("subject", "severity").rows() == [("b", "fail")]
