"""QA regressions: `kinds --json` is JSON; a pack file named twice is read once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import truenorth

PACKS = Path(truenorth.__file__).parent / "packs"
DEMO = PACKS / "engine-demo.yaml"


def test_kinds_json_lists_every_kind_as_json(tn):
    proc = tn("kinds", "--json")
    assert proc.returncode == 0
    kinds = {k["name"]: k for k in json.loads(proc.stdout)}
    assert {"clv", "segment", "condition", "decision_table", "kano", "kpi"} <= set(kinds)
    assert kinds["condition"]["plugin"] and kinds["condition"]["summary"]
    assert "properties" in kinds["kano"]["options"]


def test_the_same_pack_file_named_twice_is_read_once(monkeypatch, tn):
    proc = tn("validate", str(DEMO), str(DEMO))
    assert proc.returncode == 0, proc.stderr
    assert "duplicate rule id" not in proc.stderr
    # also through the API and relative/absolute spellings of one file
    monkeypatch.chdir(DEMO.parent)
    engines = truenorth.Engine.load_all([str(DEMO), DEMO.name, str(PACKS)])
    (demo,) = [e for e in engines if e.name == "engine-demo"]
    assert [r.id for r in demo.rules] == ["tiers", "lapsing-high-value", "lost-platinum"]


def test_different_files_with_clashing_rule_ids_still_clash(tmp_path):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(
        "truenorth: 1\npack: p\nrules:\n  - {id: r, kind: condition, on: t, when: 'x > 1'}\n"
    )
    b.write_text(a.read_text())
    with pytest.raises(truenorth.PackError, match="duplicate rule id"):
        truenorth.Engine.load([a, b])


def test_init_into_a_file_or_an_unwritable_place_is_a_usage_error(tmp_path, tn):
    f = tmp_path / "afile"
    f.write_text("x")
    proc = tn("init", str(f))
    assert proc.returncode == 2 and "is not a folder" in proc.stderr
    assert "internal error" not in proc.stderr
    proc = tn("init", str(f / "sub"))
    assert proc.returncode == 2 and "cannot write the workspace" in proc.stderr
    assert f.read_text() == "x"
