"""Failure isolation: how an exception inside one rule becomes that rule's error finding.

A rule that fails must not stop the others, and the user must learn whether the *data* is at
fault (exit 2, fix the input) or the rule is (exit 3, a bug): these helpers tell the two apart
and word the one-line message.
"""

from __future__ import annotations

import polars as pl

from ..errors import DataError
from ..io.datasets import diagnose_csv
from .compiler import CompiledRule
from .context import RunState
from .records import Finding, Rule


def out_of_range(exc: BaseException) -> DataError | None:
    """A DataError when Polars refused a value in a strict cast (``conversion from `f64` to
    `i64` failed``): a count of 9.2e18 customers or a text where a number belongs is a property
    of the data, which the user can fix, not a defect of the rule (exit 2, not 3)."""
    if isinstance(exc, pl.exceptions.InvalidOperationError) and "conversion from" in str(exc):
        first = str(exc).strip().splitlines()[0]
        return DataError(f"a value is out of range for its column: {first}")
    return None


def unreadable_input(run: RunState, crule: CompiledRule, exc: BaseException) -> DataError | None:
    """A DataError when a Polars error came from an input dataset that cannot be read/parsed.

    Datasets are scanned lazily, so a malformed file (ragged rows, invalid UTF-8, ...) only fails
    inside the first rule that reads it. On that error path, re-read each input the rule reads;
    if one fails on its own, the data is at fault: name the dataset, file and line.
    """
    if not isinstance(exc, pl.exceptions.PolarsError):
        return None
    for role in crule.reads:
        lf = run.inputs.get(role)
        if lf is None or role in run.produced:
            continue
        try:
            lf.collect()
        except Exception as read_exc:
            where = ""
            detail = ""
            if role in run.sources:
                path, options = run.sources[role]
                where = f" ({path})"
                if path.suffix.lower() in (".csv", ".tsv", ".txt"):
                    sep = options.get("separator") or (
                        "\t" if path.suffix.lower() == ".tsv" else ","
                    )
                    found = diagnose_csv(path, separator=sep)
                    detail = f"; {found}" if found else ""
            first = str(read_exc).strip().splitlines()[0] if str(read_exc).strip() else ""
            return DataError(f"dataset {role!r}{where}: cannot read: {first}{detail}")
    return None


def describe(exc: BaseException) -> str:
    """One line: the exception type and the first line of its message."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = text.strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def error_finding(rule: Rule, message: str) -> Finding:
    return Finding(
        rule_id=rule.id,
        kind=rule.kind,
        severity="error",
        subject=rule.id,
        message=message,
        action=None,
        location=str(rule.location) if rule.location else None,
    )
