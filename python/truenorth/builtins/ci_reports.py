"""CI-native reports: JUnit XML, SARIF 2.1.0 and GitHub workflow annotations.

* ``junit`` — one ``<testcase>`` per rule (``classname`` the pack), failed when the rule has
  findings at or above the run's gate (``--fail-on``; ``none`` marks no failures, as it sets no
  failing exit code; ``new`` marks findings new against the ``--baseline`` run), an ``<error>`` when the rule errored, ``<skipped>`` when it was skipped.
  The same document shape serves ``truenorth test`` (one test case per pack test).
* ``sarif`` — one result per finding with the pack file location of its rule, so code-scanning
  UIs annotate the YAML line that defines the rule; levels: fail/error → ``error``, warn →
  ``warning``, info → ``note``. ``partialFingerprints`` hash rule id + subject, so a finding
  keeps its identity across runs (new / fixed alerts).
* ``github`` — ``::error``/``::warning``/``::notice`` workflow commands, one per finding,
  annotating the rule's line in the pack (GitHub shows them on the pull request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import truenorth
from truenorth.io import atomic_write_text

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_RANK = {"info": 0, "warn": 1, "fail": 2, "error": 3}
_SARIF_LEVEL = {"error": "error", "fail": "error", "warn": "warning", "info": "note"}
_GITHUB_LEVEL = {"error": "error", "fail": "error", "warn": "warning", "info": "notice"}


@dataclass(frozen=True)
class Where:
    file: str
    line: int | None = None
    column: int | None = None


def parse_location(text: str | None) -> Where | None:
    """``"rules/clv.yaml:12:5"`` → Where (the file part may itself hold colons)."""
    if not text:
        return None
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return Where(parts[0], int(parts[1]), int(parts[2]))
    return Where(text)


def _relative(path: str) -> str:
    """A path relative to the working directory when below it (CI tools resolve URIs against
    the checkout), with forward slashes."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return Path(path).as_posix()
    return Path(path if rel.startswith("..") else rel).as_posix()


def _out(text: str, path: Path | None) -> None:
    if path is None:
        import sys

        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)


# ------------------------------------------------------------------------------ JUnit


def _gate(result: truenorth.Result) -> int | None:
    fail_on = getattr(result, "fail_on", "none")
    return _RANK.get(fail_on) if fail_on in _RANK else None


def junit_document(suites: Iterable[ET.Element]) -> str:
    root = ET.Element("testsuites", name="truenorth")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    seconds = 0.0
    for suite in suites:
        root.append(suite)
        for k in totals:
            totals[k] += int(suite.get(k, "0"))
        seconds += float(suite.get("time", "0"))
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(name: str, cases: Sequence[ET.Element], seconds: float) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
        time=f"{seconds:.3f}",
        timestamp=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    )
    suite.extend(cases)
    return suite


def run_suite(result: truenorth.Result) -> ET.Element:
    """One ``<testsuite>`` for a run: a test case per rule."""
    gate = _gate(result)
    new: set[tuple[str, str]] | None = None
    diff = getattr(result, "baseline", None)
    if getattr(result, "fail_on", None) == "new" and diff is not None:
        new = {(str(f.get("rule_id")), str(f.get("subject"))) for f in diff.new}
    findings = result.finding_records()
    cases = []
    for rule in result.rules:
        case = ET.Element(
            "testcase", classname=result.pack, name=rule.id, time=f"{rule.seconds:.3f}"
        )
        where = parse_location(rule.location)
        if where is not None:
            case.set("file", _relative(where.file))
            if where.line is not None:
                case.set("line", str(where.line))
        if rule.status == "error":
            err = ET.SubElement(case, "error", message=str(rule.error or "rule failed"))
            err.set("type", "data error" if rule.data_error else "rule error")
            err.text = rule.error or ""
        elif rule.status != "ok":
            ET.SubElement(case, "skipped", message=str(rule.error or rule.status))
        else:
            own = [f for f in findings if f.rule_id == rule.id]
            if new is not None:  # --fail-on new: what is new against the baseline run
                gating = [f for f in own if (f.rule_id, str(f.subject)) in new]
            else:
                gating = [f for f in own if gate is not None and _RANK.get(f.severity, 0) >= gate]
            if gating:
                worst = max(gating, key=lambda f: _RANK.get(f.severity, 0)).severity
                fail = ET.SubElement(
                    case,
                    "failure",
                    message=f"{len(gating)} finding(s) at or above {result.fail_on}",
                    type=worst,
                )
                fail.text = "\n".join(f"[{f.severity}] {f.subject}: {f.message}" for f in gating)
            if own:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(f"[{f.severity}] {f.subject}: {f.message}" for f in own)
        cases.append(case)
    return _suite(result.pack, cases, result.seconds)


def tests_suite(pack: str, outcomes: Sequence[Any]) -> ET.Element:
    """One ``<testsuite>`` for ``truenorth test``: a test case per pack test."""
    cases = []
    for o in outcomes:
        case = ET.Element("testcase", classname=pack, name=o.name, time=f"{o.seconds:.3f}")
        where = parse_location(str(o.location) if o.location else None)
        if where is not None:
            case.set("file", _relative(where.file))
            if where.line is not None:
                case.set("line", str(where.line))
        if not o.passed:
            fail = ET.SubElement(
                case, "failure", message=str(o.failures[0]) if o.failures else "failed"
            )
            fail.text = "\n".join(str(f) for f in o.failures)
        cases.append(case)
    return _suite(pack, cases, sum(o.seconds for o in outcomes))


def write_junit(result: truenorth.Result, path: Path | None) -> None:
    _out(junit_document([run_suite(result)]), path)


# ------------------------------------------------------------------------------ SARIF


def _fingerprint(rule_id: str, subject: object) -> str:
    return hashlib.sha256(f"{rule_id}\x00{subject}".encode()).hexdigest()[:32]


def _physical(where: Where) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _relative(where.file)}}
    if where.line is not None:
        physical["region"] = {"startLine": where.line, "startColumn": where.column or 1}
    return {"physicalLocation": physical}


def sarif_log(result: truenorth.Result) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a run (a ``dict`` ready for ``json.dumps``)."""
    rules = []
    index: dict[str, int] = {}
    for i, r in enumerate(result.rules):
        index[r.id] = i
        entry: dict[str, Any] = {
            "id": r.id,
            "name": r.kind,
            "shortDescription": {"text": r.description or f"{r.kind} rule {r.id}"},
            "properties": {"kind": r.kind},
        }
        rules.append(entry)
    results = []
    for f in result.finding_records():
        res: dict[str, Any] = {
            "ruleId": f.rule_id,
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "partialFingerprints": {"truenorthFinding/v1": _fingerprint(f.rule_id, f.subject)},
            "properties": {
                "severity": f.severity,
                "subject": str(f.subject),
                **({"value": f.value} if f.value is not None else {}),
                **({"threshold": f.threshold} if f.threshold else {}),
                **({"action": f.action} if f.action else {}),
            },
        }
        if f.rule_id in index:
            res["ruleIndex"] = index[f.rule_id]
        where = parse_location(f.location)
        if where is not None:
            res["locations"] = [_physical(where)]
        results.append(res)
    notes = []
    for r in result.errors:
        note: dict[str, Any] = {
            "level": "error",
            "message": {"text": f"rule {r.id} {r.status}: {r.error}"},
        }
        if (w := parse_location(r.location)) is not None:
            note["locations"] = [_physical(w)]
        notes.append(note)
    invocation = {"executionSuccessful": not result.errors, "toolExecutionNotifications": notes}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "truenorth",
                        "version": truenorth.__version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"truenorth/{result.pack}/"},
                "invocations": [invocation],
                "results": results,
            }
        ],
    }


def write_sarif(result: truenorth.Result, path: Path | None) -> None:
    _out(json.dumps(sarif_log(result), indent=2, default=str) + "\n", path)


# ------------------------------------------------------------------------------ GitHub


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(result: truenorth.Result) -> list[str]:
    lines = []
    for f in result.finding_records():
        props = {"title": f"truenorth {result.pack}: {f.rule_id}"}
        where = parse_location(f.location)
        if where is not None:
            props["file"] = _relative(where.file)
            if where.line is not None:
                props["line"] = str(where.line)
                props["col"] = str(where.column or 1)
        shown = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items())
        level = _GITHUB_LEVEL.get(f.severity, "warning")
        lines.append(f"::{level} {shown}::{_escape_data(f.message)}")
    for r in result.errors:
        lines.append(
            f"::error title={_escape_property(f'truenorth rule {r.id}')}::{_escape_data(str(r.error))}"
        )
    return lines


def write_github(result: truenorth.Result, path: Path | None) -> None:
    lines = github_annotations(result)
    _out("\n".join(lines) + ("\n" if lines else ""), path)


REPORTERS = (
    truenorth.Reporter(
        "junit", write_junit, ".xml", "JUnit XML: a test case per rule, failed at --fail-on"
    ),
    truenorth.Reporter(
        "sarif", write_sarif, ".sarif", "SARIF 2.1.0: findings at their rule's pack location"
    ),
    truenorth.Reporter(
        "github", write_github, ".txt", "GitHub workflow annotations (::warning file=...::)"
    ),
)
