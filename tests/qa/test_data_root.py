"""QA regressions: a service can confine every file a pack reads to a data root.

``path: ../../../../etc/passwd`` and absolute paths were read, and their contents could reach
findings. The CLI keeps reading any path (its user can read those files anyway); services pass
``Engine.load(..., data_root=...)`` (the CLI: ``--data-root``) and get a located error instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import truenorth

PACKS = Path(truenorth.__file__).parent / "packs"

PACK = """\
truenorth: 1
pack: p
params: {{file: c.csv}}
datasets:
  customers:
    path: {path}
    columns: {{customer: customer, clv: clv}}
rules:
  - {{id: big, kind: condition, on: customers, when: "clv > 1", message: "{{customer}}"}}
tests:
  - name: given file
    given: {{customers: {{path: {given}}}}}
    expect: {{count: 1}}
"""


@pytest.fixture
def tree(tmp_path):
    """root/ (the data root, with the pack and c.csv) and secret/ beside it."""
    root = tmp_path / "root"
    secret = tmp_path / "secret"
    root.mkdir()
    secret.mkdir()
    for folder in (root, secret):
        (folder / "c.csv").write_text("customer,clv\nx,5\n")
    return root, secret


def write(root: Path, path: str, given: str = "c.csv") -> Path:
    pack = root / "p.yaml"
    pack.write_text(PACK.format(path=path, given=given))
    return pack


def path_line(pack: Path) -> tuple[int, int]:
    for i, line in enumerate(pack.read_text().splitlines(), 1):
        if line.strip().startswith("path:"):
            return i, line.index(":") + 3
    raise AssertionError


def test_without_a_root_any_path_is_read_as_written(tree):
    root, secret = tree
    pack = write(root, "../secret/c.csv")
    assert truenorth.Engine.load(pack).run().findings["subject"].to_list() == ["x"]
    pack = write(root, str(secret / "c.csv"))
    assert truenorth.Engine.load(pack).run().findings.height == 1


@pytest.mark.parametrize("escape", ["../secret/c.csv", "ABS", "sub/../../secret/c.csv", "~/x.csv"])
def test_paths_leaving_the_root_are_located_load_errors(tree, escape):
    root, secret = tree
    escape = str(secret / "c.csv") if escape == "ABS" else escape
    pack = write(root, escape)
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(pack, data_root=root)
    (problem,) = info.value.problems
    assert (problem.location.line, problem.location.column) == path_line(pack)
    assert f"dataset 'customers': path {escape!r} resolves to " in problem.message
    assert f"outside the data root {str(root.resolve())!r}" in problem.message
    assert problem.expected == "a path inside the data root"


def test_symlinks_are_resolved_before_the_check(tree):
    root, secret = tree
    (root / "out.csv").symlink_to(secret / "c.csv")
    (root / "data").mkdir()
    (root / "in.csv").symlink_to(root / "c.csv")
    with pytest.raises(truenorth.PackError, match=r"'out.csv' resolves to .*secret/c\.csv'"):
        truenorth.Engine.load(write(root, "out.csv"), data_root=root)
    engine = truenorth.Engine.load(write(root, "in.csv"), data_root=root)
    assert engine.run().findings.height == 1
    # inside the root, absolute and ../ paths are fine
    inside = write(root, "data/../c.csv")
    assert truenorth.Engine.load(inside, data_root=root).run().findings.height == 1
    absolute = write(root, str(root / "c.csv"))
    assert truenorth.Engine.load(absolute, data_root=root).run().findings.height == 1


def test_param_substituted_paths_and_dict_packs(tree):
    root, _ = tree
    pack = write(root, "${file}")
    engine = truenorth.Engine.load(pack, data_root=root)
    assert engine.run().findings.height == 1
    with pytest.raises(truenorth.PackError, match=re.escape("path '../secret/c.csv' resolves to")):
        engine.run(params={"file": "../secret/c.csv"})
    # a dict pack has no folder of its own: relative paths are relative to the root
    doc = {
        "truenorth": 1,
        "pack": "d",
        "datasets": {"t": {"path": "c.csv"}},
        "rules": [{"id": "r", "kind": "condition", "on": "t", "when": "clv > 1"}],
    }
    assert truenorth.Engine.load(doc, data_root=root).run().findings.height == 1
    doc["datasets"]["t"]["path"] = "/etc/passwd"
    with pytest.raises(truenorth.PackError, match="<dict>:1:1: dataset 't': path '/etc/passwd'"):
        truenorth.Engine.load(doc, data_root=root)


def test_data_root_must_be_a_folder(tree):
    root, _ = tree
    with pytest.raises(truenorth.UsageError, match="not a folder"):
        truenorth.Engine.load(write(root, "c.csv"), data_root=root / "c.csv")


def test_pack_test_inputs_are_confined(tree):
    root, _ = tree
    engine = truenorth.Engine.load(write(root, "c.csv", given="../secret/c.csv"), data_root=root)
    (outcome,) = engine.run_tests()
    assert not outcome.passed
    assert "given 'customers': path '../secret/c.csv' resolves to" in outcome.failures[0]
    ok = truenorth.Engine.load(write(root, "c.csv", given="c.csv"), data_root=root)
    assert [o.passed for o in ok.run_tests()] == [True]


def test_rule_option_paths_are_confined_at_load_and_at_run(tree):
    root, secret = tree
    shutil.copy(PACKS / "data" / "canvas.yaml", secret / "canvas.yaml")
    shutil.copy(PACKS / "data" / "maturity.yaml", secret / "maturity.yaml")
    pack = root / "k.yaml"
    pack.write_text(
        "truenorth: 1\npack: k\nrules:\n"
        "  - id: canvas\n    kind: canvas\n    with:\n      path: ../secret/canvas.yaml\n"
    )
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(pack, data_root=root)
    (problem,) = info.value.problems
    assert (problem.location.line, problem.location.column) == (7, 13)
    assert problem.rule_id == "canvas" and "outside the data root" in problem.message
    assert truenorth.Engine.load(pack).rules  # the CLI way: read as written

    # maturity reads its ratings file only when it runs: a data error, located at `ratings:`
    pack.write_text(
        "truenorth: 1\npack: k\nrules:\n"
        "  - id: m\n    kind: maturity\n    with:\n      ratings: ../secret/maturity.yaml\n"
    )
    result = truenorth.Engine.load(pack, data_root=root).run()
    (rr,) = result.rules
    assert rr.status == "error" and rr.data_error
    assert f"{pack}:7:16: path '../secret/maturity.yaml' resolves to" in rr.error
    assert result.exit_code() == 2
    assert truenorth.Engine.load(pack).run().rules[0].status == "ok"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_cli_data_root_confines_pack_paths_and_data_overrides(tree):
    root, secret = tree
    pack = write(root, "c.csv")
    ok = cli("run", "--data-root", str(root), str(pack), "--data", "customers=c.csv", cwd=root)
    assert ok.returncode == 0, ok.stderr
    out = cli(
        "run",
        "--data-root",
        str(root),
        str(pack),
        "--data",
        f"customers={secret / 'c.csv'}",
        cwd=root,
    )
    assert out.returncode == 2
    assert "error: --data: path" in out.stderr and "outside the data root" in out.stderr
    bad = write(root, "../secret/c.csv")
    v = cli("validate", "--data-root", str(root), str(bad), cwd=root)
    assert v.returncode == 2
    assert f"p.yaml:{path_line(bad)[0]}:{path_line(bad)[1]}: dataset 'customers'" in v.stderr
    assert cli("validate", str(bad), cwd=root).returncode == 0
    t = cli(
        "test", "--data-root", str(root), str(write(root, "c.csv", "../secret/c.csv")), cwd=root
    )
    assert t.returncode != 0 and "outside the data root" in t.stdout + t.stderr


def test_frames_passed_in_memory_need_no_path(tree):
    root, _ = tree
    engine = truenorth.Engine.load(write(root, "c.csv"), data_root=root)
    df = pl.DataFrame({"customer": ["q"], "clv": [9.0]})
    assert engine.run(data={"customers": df}).findings["subject"].to_list() == ["q"]
