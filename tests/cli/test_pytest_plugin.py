"""The pytest plugin: pack test cases collected as pytest items, selected with -k, failing with
the pack test's own explanation; non-pack YAML left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACK = """\
truenorth: 1
pack: mini
datasets:
  customers: {path: customers.csv, columns: {customer: id, clv: clv}}
rules:
  - id: big
    kind: condition
    on: customers
    when: "clv > 100"
    message: "{customer} is big"
tests:
  - name: one big customer
    given:
      customers: [{id: a, clv: 500}, {id: b, clv: 5}]
    expect:
      findings: [{rule: big, subject: a}]
  - name: wrongly expects two
    given:
      customers: [{id: a, clv: 500}, {id: b, clv: 5}]
    expect:
      count: 2
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    # -p no:truenorth: the installed entry point (if any) is replaced by the module under test
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:truenorth",
            "-p",
            "truenorth.pytest_plugin",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=folder,
    )


def make(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mini.yaml").write_text(PACK)
    (rules / "customers.csv").write_text("id,clv\n")
    (rules / "ci.yaml").write_text("jobs: {build: {runs-on: ubuntu-latest}}\n")  # not a pack
    return rules


def test_pack_tests_run_as_pytest_items(tmp_path):
    make(tmp_path)
    proc = run_pytest(tmp_path, "rules", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    # the pack test's own explanation, and where the case is written
    assert "expected 2 findings, got 1" in proc.stdout
    assert "mini.yaml:17" in proc.stdout


def test_k_selects_cases_by_name(tmp_path):
    make(tmp_path)
    proc = run_pytest(tmp_path, "rules", "-q", "-k", "one and big")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 deselected" in proc.stdout


def test_yaml_is_only_collected_when_asked(tmp_path):
    make(tmp_path)
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    pass\n")
    # a plain `pytest` (no path named) does not read the packs...
    proc = run_pytest(tmp_path, "-q")
    assert "1 passed" in proc.stdout and "failed" not in proc.stdout
    # ...unless the ini option asks for them
    (tmp_path / "pytest.ini").write_text("[pytest]\ntruenorth_packs = true\n")
    proc = run_pytest(tmp_path, "-q")
    assert "1 failed, 2 passed" in proc.stdout


def test_a_broken_pack_is_a_collection_error(tmp_path):
    rules = make(tmp_path)
    (rules / "mini.yaml").write_text(PACK.replace("kind: condition", "kind: nope"))
    proc = run_pytest(tmp_path, "rules", "-q")
    assert proc.returncode != 0
    assert "the pack does not load" in proc.stdout
    assert "mini.yaml:7:" in proc.stdout


def test_the_bundled_packs_pass(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = run_pytest(tmp_path, str(root / "rules" / "kpi.yaml"), "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
