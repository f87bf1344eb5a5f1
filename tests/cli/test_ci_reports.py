"""CI-native outputs: JUnit XML (schema-valid, read back by junitparser), SARIF 2.1.0 (read by
an independent SARIF object model with no unknown properties), GitHub annotations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml
from pydantic import BaseModel
from sarif_pydantic import Sarif

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "rules" / "engine-demo.yaml"
XSD = xmlschema.XMLSchema(ROOT / "tests" / "data" / "junit-common.xsd")


def truenorth(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_junit_run_marks_rules_with_findings_at_the_gate(tmp_path):
    proc = truenorth("run", str(DEMO), "--format", "junit", "--fail-on", "warn")
    assert proc.returncode == 1, proc.stderr
    XSD.validate(proc.stdout)
    path = tmp_path / "r.xml"
    path.write_text(proc.stdout)
    suites = list(JUnitXml.fromfile(str(path)))
    cases = {c.name: c for s in suites for c in s}
    assert set(cases) == {"tiers", "lapsing-high-value", "lost-platinum"}
    failed = [n for n, c in cases.items() if any(isinstance(r, Failure) for r in c.result)]
    json_run = json.loads(truenorth("run", str(DEMO), "--format", "json").stdout)
    with_warn = {f["rule_id"] for f in json_run["findings"] if f["severity"] in ("warn", "fail")}
    assert set(failed) == with_warn and failed
    # the default gate (none) marks nothing failed, as it sets no failing exit code
    relaxed = truenorth("run", str(DEMO), "--format", "junit")
    assert relaxed.returncode == 0 and 'failures="0"' in relaxed.stdout


def test_junit_reports_rule_errors(tmp_path):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "truenorth: 1\npack: p\ndatasets:\n  t: {path: t.csv}\nrules:\n"
        '  - id: bad\n    kind: condition\n    on: t\n    when: "x > 1"\n'
    )
    (tmp_path / "t.csv").write_text("x\nabc\n")
    proc = truenorth("run", str(pack), "--format", "junit")
    XSD.validate(proc.stdout)
    (tmp_path / "r.xml").write_text(proc.stdout)
    (case,) = [c for s in JUnitXml.fromfile(str(tmp_path / "r.xml")) for c in s]
    assert any(isinstance(r, Error) for r in case.result)


def test_junit_for_pack_tests():
    proc = truenorth("test", str(ROOT / "rules" / "kpi.yaml"), "--format", "junit")
    assert proc.returncode == 0, proc.stderr
    XSD.validate(proc.stdout)
    assert proc.stdout.count("<testcase ") == 2 and 'file="rules/kpi.yaml"' in proc.stdout


def _no_unknown_properties(model: object, path: str = "$") -> list[str]:
    out = []
    if isinstance(model, BaseModel):
        for key in model.model_extra or {}:
            out.append(f"{path}.{key}")
        for name in type(model).model_fields:
            out += _no_unknown_properties(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, (list, tuple)):
        for i, item in enumerate(model):
            out += _no_unknown_properties(item, f"{path}[{i}]")
    return out


def test_sarif_is_a_valid_log_with_rule_locations():
    proc = truenorth("run", str(DEMO), "--format", "sarif")
    log = json.loads(proc.stdout)
    model = Sarif.model_validate(log)
    # properties bags are free-form in SARIF; every other key must be a SARIF property.
    # sarif-pydantic's invocation model lacks toolExecutionNotifications (SARIF 2.1.0
    # §3.20.21), which we use for rule errors.
    unknown = [
        p
        for p in _no_unknown_properties(model)
        if ".properties" not in p and not p.endswith(".toolExecutionNotifications")
    ]
    assert unknown == []
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    results = run["results"]
    assert results and all(r["level"] in ("error", "warning", "note") for r in results)
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "rules/engine-demo.yaml"
    line = loc["region"]["startLine"]
    assert DEMO.read_text().splitlines()[line - 1].strip().startswith("- id: lapsing-high-value")
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(ids[r["ruleIndex"]] == r["ruleId"] for r in results)
    # fingerprints identify a finding by rule and subject: stable across runs
    again = json.loads(truenorth("run", str(DEMO), "--format", "sarif").stdout)
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in results
    ]


@pytest.mark.parametrize("text", ["50% off: now, or never\nreally"])
def test_github_annotations_escape_workflow_command_syntax(text):
    from truenorth.builtins.ci_reports import _escape_data, _escape_property

    assert _escape_data(text) == "50%25 off: now, or never%0Areally"
    assert _escape_property(text) == "50%25 off%3A now%2C or never%0Areally"


def test_github_annotations_point_at_the_rule():
    proc = truenorth("run", str(DEMO), "--format", "github")
    lines = proc.stdout.splitlines()
    assert lines and all(
        line.startswith("::warning file=rules/engine-demo.yaml,")
        or line.startswith("::warning title=")
        for line in lines
    )
    assert all(",line=25," in line for line in lines)
