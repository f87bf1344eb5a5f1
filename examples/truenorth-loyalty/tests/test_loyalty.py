"""Tests of the loyalty_tiers kind with truenorth's own harness (truenorth.testing)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from truenorth_loyalty import KIND

import truenorth
from truenorth.testing import assert_findings, run_rule

MEMBERS = pl.DataFrame(
    {
        "member": ["a", "b", "c", "d"],
        "points": [950, 1200, 4600, 30000],
        "points_expiring": [100, 0, 500, 0],
        "expires_on": [date(2026, 12, 1), date(2027, 6, 1), date(2027, 6, 1), date(2026, 12, 1)],
    }
)
OPTIONS = {"tiers": {"bronze": 0, "silver": 1000, "gold": 5000}, "as_of": "2026-11-23"}


def test_tiers_and_next_tier():
    result = run_rule("loyalty_tiers", OPTIONS, {"members": MEMBERS})
    out = result.tables["loyalty"]
    assert out["tier"].to_list() == ["bronze", "silver", "silver", "gold"]
    assert out["next_tier"].to_list() == ["silver", "gold", "gold", None]
    assert out["points_to_next"].to_list() == [50, 3800, 400, None]


def test_nudges_and_expiring_points():
    result = run_rule("loyalty_tiers", OPTIONS, {"members": MEMBERS})
    assert_findings(
        result,
        [
            {"subject": "a", "severity": "info", "value": 50.0},  # 50 <= 10% of 1000
            {"subject": "c", "severity": "info", "value": 400.0},  # 400 <= 10% of 5000
            {"subject": "a", "severity": "warn", "value": 100.0},  # 100 points expire 2026-12-01
        ],
    )


def test_the_record_itself_can_be_run_before_installation():
    result = run_rule(KIND, OPTIONS, {"members": MEMBERS})
    assert result.tables["loyalty"].height == 4


def test_bad_tiers_are_located_pack_errors():
    with pytest.raises(truenorth.PackError, match="lowest tier must start at 0"):
        run_rule("loyalty_tiers", {"tiers": {"silver": 1000}}, {"members": MEMBERS})
    with pytest.raises(truenorth.PackError, match="unknown key 'tier'"):
        run_rule("loyalty_tiers", {"tier": {"a": 0}}, {"members": MEMBERS})


def test_registered_through_the_entry_point():
    from truenorth.engine.plugins import build_registry

    reg = build_registry()
    info = next(p for p in reg.plugins if p.name == "loyalty")
    assert info.dist == "truenorth-loyalty" and not info.builtin and info.error is None
    assert reg.provider("kinds", "loyalty_tiers") == "loyalty"


def test_the_example_pack_and_its_own_tests():
    pack = Path(__file__).parent.parent / "packs" / "loyalty.yaml"
    engine = truenorth.Engine.load(pack)
    assert [o.passed for o in engine.run_tests()] == [True]
    result = engine.run()
    assert result.ok
    assert result.tables["loyalty"].filter(pl.col("member") == "M006")["tier"].item() == "platinum"
    assert "gold-with-expiring-points" in result.findings["rule_id"].to_list()
