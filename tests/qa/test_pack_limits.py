"""QA regressions: a hostile pack file cannot take minutes and gigabytes to load.

A 393-byte pack with 7 levels of nested YAML aliases under ``params`` took 38 s and 1.9 GB in
``truenorth validate``; alias expansion now stops at a node budget with an error located at
the alias, and pack files have a size limit.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import truenorth
from truenorth.engine.yamlsrc import MAX_ALIAS_NODES, MAX_PACK_BYTES


def bomb(levels: int, width: int = 9) -> str:
    """The "billion laughs" pack: each level lists the previous one ``width`` times."""
    lines = [
        "truenorth: 1",
        "pack: bomb",
        "params:",
        "  a: &a [" + ", ".join(["lol"] * width) + "]",
    ]
    prev = "a"
    for i in range(levels - 1):
        name = f"l{i}"
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{prev}"] * width) + "]")
        prev = name
    lines.append("rules: []")
    return "\n".join(lines) + "\n"


def alias_column(text: str, line: int) -> int:
    return text.splitlines()[line - 1].index("*") + 1


def test_nested_alias_bomb_is_refused_quickly_at_the_alias(tmp_path):
    text = bomb(7)
    assert len(text.encode()) < 450
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(path)
    seconds = time.perf_counter() - t0
    (problem,) = info.value.problems
    assert f"more than {MAX_ALIAS_NODES} nodes" in problem.message
    assert "max_alias_nodes" in problem.expected
    loc = problem.location
    assert loc.file == str(path)
    # located at an alias (the first one whose expansion crossed the budget)
    assert loc.column == alias_column(text, loc.line)
    assert text.splitlines()[loc.line - 1].lstrip().startswith("l")
    assert seconds < 30  # before the limit: 38 s and 1.9 GB; a guard, not a benchmark


def test_alias_budget_is_configurable_and_counts_nodes(tmp_path):
    # 3 levels of 3: b expands a three times (3 x 4 nodes), c expands b three times (3 x 13)
    text = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    ok = truenorth.parse_yaml(text, "t.yaml", limits=truenorth.PackLimits(max_alias_nodes=51))
    assert ok.value["c"] == [[["x"] * 3] * 3] * 3
    with pytest.raises(truenorth.PackError, match=r"t.yaml:3:13: YAML aliases expand to more"):
        truenorth.parse_yaml(text, "t.yaml", limits=truenorth.PackLimits(max_alias_nodes=50))


def test_ordinary_alias_reuse_is_fine_and_zero_forbids_aliases(tmp_path):
    text = (
        "truenorth: 1\npack: p\n"
        "rules:\n"
        "  - {id: a, kind: condition, on: t, when: 'x > 1', with: &w {subject: id, limit: 5}}\n"
        "  - {id: b, kind: condition, on: t, when: 'x > 2', with: *w}\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    engine = truenorth.Engine.load(path)
    assert engine.explain("b")["options"]["limit"] == 5
    column = text.splitlines()[4].index("*w") + 1
    with pytest.raises(truenorth.PackError, match=rf"p.yaml:5:{column}: YAML aliases expand"):
        truenorth.Engine.load(path, limits=truenorth.PackLimits(max_alias_nodes=0))


def test_merge_keys_count_against_the_budget():
    text = "base: &b {x: [1, 2, 3, 4, 5, 6]}\nm1: {<<: *b, y: 1}\nm2: {<<: *b, y: 2}\n"
    assert truenorth.parse_yaml(text, "m.yaml").value["m2"] == {"x": [1, 2, 3, 4, 5, 6], "y": 2}
    with pytest.raises(truenorth.PackError, match="aliases expand to more than 5 nodes"):
        truenorth.parse_yaml(text, "m.yaml", limits=truenorth.PackLimits(max_alias_nodes=5))


def test_dict_from_yaml_safe_load_with_shared_objects_is_bounded():
    # yaml.safe_load shares aliased objects: walking them would expand the bomb as well
    doc = yaml.safe_load(bomb(7))
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(doc)
    text = str(info.value)
    assert text.startswith("<dict>:1:1: shared (aliased) objects expand to more than")
    assert "params.l" in text


def test_pack_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    filler = "# " + "x" * 98 + "\n"
    path.write_text("truenorth: 1\npack: big\nrules: []\n" + filler * (MAX_PACK_BYTES // 100 + 1))
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(path)
    (problem,) = info.value.problems
    assert str(problem.location) == f"{path}:1:1"
    assert f"over the {MAX_PACK_BYTES:,}-byte limit" in problem.message
    assert "max_bytes" in problem.expected
    # a service can lower it; and a trusted big pack can raise it
    small = tmp_path / "small.yaml"
    small.write_text("truenorth: 1\npack: s\nrules: []\n" + filler * 20)
    with pytest.raises(truenorth.PackError, match="over the 1,000-byte limit"):
        truenorth.Engine.load(small, limits=truenorth.PackLimits(max_bytes=1000))
    assert truenorth.Engine.load(path, limits=truenorth.PackLimits(max_bytes=2 * MAX_PACK_BYTES))


def test_parse_yaml_counts_utf8_bytes():
    text = "a: " + "é" * 600 + "\n"  # 600 characters, 1,200 bytes
    with pytest.raises(truenorth.PackError, match="over the 1,000-byte limit"):
        truenorth.parse_yaml(text, "u.yaml", limits=truenorth.PackLimits(max_bytes=1000))


def test_load_time_is_logged(tmp_path, caplog):
    path = tmp_path / "p.yaml"
    path.write_text(
        "truenorth: 1\npack: p\nrules:\n"
        "  - {id: a, kind: condition, on: t, when: 'x > 1', with: &w {evidence: [x, y]}}\n"
        "  - {id: b, kind: condition, on: t, when: 'x > 2', with: *w}\n"
    )
    with caplog.at_level(logging.DEBUG, logger="truenorth"):
        truenorth.Engine.load(path)
    lines = [r.getMessage() for r in caplog.records if r.name == "truenorth"]
    assert any(
        line.startswith(f"loaded {path}: ") and "(4 through aliases)" in line for line in lines
    ), lines
    assert any(line.startswith("loaded 1 pack(s) (p) in ") for line in lines), lines


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    return subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
    )


def test_cli_validate_reports_the_bomb_and_env_configures_limits(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(7))
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    assert f"error: invalid pack: {path}:" in proc.stderr
    assert "YAML aliases expand to more than 10000 nodes" in proc.stderr
    assert "Traceback" not in proc.stderr
    small = cli("validate", str(path), env={"TRUENORTH_MAX_PACK_BYTES": "100"})
    assert small.returncode == 2 and "over the 100-byte limit" in small.stderr
    bad = cli("validate", str(path), env={"TRUENORTH_MAX_ALIAS_NODES": "lots"})
    assert bad.returncode == 2
    assert "TRUENORTH_MAX_ALIAS_NODES='lots': expected a whole number" in bad.stderr
    debug = cli("--debug", "validate", str(Path(truenorth.__file__).parent / "packs" / "kpi.yaml"))
    assert debug.returncode == 0, debug.stderr
    assert "debug: loaded " in debug.stderr and " in " in debug.stderr
