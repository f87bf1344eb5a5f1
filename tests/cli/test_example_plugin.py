"""The outside path: the example third-party plugin, installed with pip, used from a pack."""

from __future__ import annotations

import json
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "examples" / "truenorth-loyalty" / "packs" / "loyalty.yaml"


def test_installed_as_a_distribution_with_an_entry_point():
    dist = distribution("truenorth-loyalty")
    eps = [ep for ep in dist.entry_points if ep.group == "truenorth"]
    assert [(ep.name, ep.value) for ep in eps] == [("loyalty", "truenorth_loyalty")]


def test_plugins_lists_it(tn):
    data = json.loads(tn("plugins", "--json").stdout)
    assert data["kinds"]["loyalty_tiers"] == "loyalty"
    info = next(p for p in data["plugins"] if p["name"] == "loyalty")
    assert (
        info["dist"] == "truenorth-loyalty" and info["version"] == "0.1.0" and not info["builtin"]
    )


def test_run_a_pack_that_uses_its_kind(tmp_path, tn):
    proc = tn("run", str(PACK), "--format", "json", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "out" / "loyalty" / "report.json").read_text())
    assert [r["status"] for r in data["rules"]] == ["ok", "ok"]
    kinds = {f["kind"] for f in data["findings"]}
    assert kinds == {"loyalty_tiers", "condition"}
    nudged = {
        f["subject"]
        for f in data["findings"]
        if f["severity"] == "info" and f["kind"] == "loyalty_tiers"
    }
    assert nudged == {"M002", "M003", "M005"}
    assert tn("test", str(PACK)).returncode == 0


def test_disabling_it_makes_the_pack_invalid_with_a_located_error(tn):
    env_run = tn("validate", str(PACK), env={"TRUENORTH_DISABLE_PLUGINS": "loyalty"})
    assert env_run.returncode == 2
    assert f"{PACK}:12:11: rule 'tiers': unknown rule kind 'loyalty_tiers'" in env_run.stderr
