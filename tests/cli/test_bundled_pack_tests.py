"""`truenorth test` on the bundled packs: their `tests:` cases run, pass, and can fail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import truenorth

PACKS = Path(truenorth.__file__).parent / "packs"

# cases in the bundled packs (10 added to the domain files and engine-demo.yaml, plus the
# engine-demo case that was already there); more may be added, none may go missing
MIN_CASES = {"clv": 3, "journey": 2, "kano": 1, "kpi": 2, "engine-demo": 3}


def truenorth_test(target: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("truenorth", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "truenorth.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    proc = subprocess.run(
        [*cmd, "test", str(target)], capture_output=True, text=True, env=env, timeout=600
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    # a model fit's warnings are findings of its rule, not raw lines on stderr
    assert "Warning" not in proc.stderr, proc.stderr
    return proc


def test_bundled_pack_cases_pass():
    proc = truenorth_test(PACKS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    assert summary, proc.stdout
    passed, failed = map(int, summary.groups())
    assert failed == 0
    assert passed >= sum(MIN_CASES.values()), proc.stdout
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("PASS ", "FAIL "))]
    assert len(lines) == passed and all(ln.startswith("PASS ") for ln in lines)
    for stem, n in MIN_CASES.items():
        in_file = [ln for ln in lines if f"{stem}.yaml:" in ln]
        assert len(in_file) >= n, (stem, proc.stdout)


def test_a_wrong_expectation_fails_the_run(tmp_path):
    packs = tmp_path / "packs"
    shutil.copytree(PACKS, packs)
    kpi = packs / "kpi.yaml"
    text = kpi.read_text()
    right = "{subject: overall, value: 20.0, n: 10}"
    assert right in text  # NPS of the ten March answers: (5 promoters - 3 detractors) / 10
    kpi.write_text(text.replace(right, "{subject: overall, value: 25.0, n: 10}"))
    proc = truenorth_test(packs)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL customer-value-review: kpi: NPS" in proc.stdout
    assert "no row matching {'subject': 'overall', 'value': 25.0" in proc.stdout
    assert re.search(r"^\d+ passed, 1 failed$", proc.stdout, re.M), proc.stdout
