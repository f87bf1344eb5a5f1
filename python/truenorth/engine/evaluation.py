"""Evaluating one compiled rule within a run: call its kind, check what it returned against
what the kind declares, and turn a failure into an ``error`` finding with its cause.

Separate from the run loop (``engine``) because this is where plugin code runs: everything a
kind may get wrong (an undeclared or missing table, a non-Polars table, a finding of the wrong
type, an exception) is caught and attributed to the rule here, and nowhere else.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping

import polars as pl

from ..errors import DataError
from .compiler import CompiledRule
from .context import RunContext, RunState
from .failures import describe, error_finding, out_of_range, unreadable_input
from .findings import empty_findings
from .records import Finding, RuleOutput
from .result import RuleRun, findings_frame, normalize_findings


def evaluate_rule(
    run: RunState, crule: CompiledRule, failed_tables: Mapping[str, str]
) -> tuple[RuleRun, pl.DataFrame]:
    """The rule's run record and findings. A rule reading a table that an earlier rule failed
    to make is skipped (one finding saying which), not run on a missing input."""
    rule = crule.rule
    loc = str(rule.location) if rule.location else None
    conditions = {k: str(v) for k, v in crule.conditions.items()}
    blocked = [t for t in crule.reads if t in failed_tables]
    if blocked:
        why = ", ".join(f"{t!r} (rule {failed_tables[t]!r} failed)" for t in blocked)
        msg = f"skipped: input table {why}"
        f = error_finding(rule, msg)
        return RuleRun(
            rule.id,
            rule.kind,
            "skipped",
            0.0,
            1,
            [],
            msg,
            loc,
            crule.description,
            [],
            conditions,
        ), findings_frame([f])
    ctx = RunContext(run, crule)
    t0 = time.perf_counter()
    try:
        out = crule.kind.evaluate(ctx)
        if out is None:
            out = RuleOutput()
        if not isinstance(out, RuleOutput):
            raise TypeError(
                f"evaluate returned {type(out).__name__}, expected truenorth.RuleOutput"
            )
        produced: dict[str, pl.DataFrame] = {}
        for name, table in out.tables.items():
            if name not in crule.writes:
                raise TypeError(
                    f"produced table {name!r} that its kind does not declare in writes "
                    f"(declared: {', '.join(crule.writes) or 'none'})"
                )
            if isinstance(table, pl.LazyFrame):
                table = table.collect()
            if not isinstance(table, pl.DataFrame):
                raise TypeError(f"table {name!r} is a {type(table).__name__}, not a Polars frame")
            produced[name] = table
        not_made = [t for t in crule.writes if t not in produced]
        if not_made:
            raise TypeError(f"did not produce declared table(s) {', '.join(not_made)}")
        for f in out.findings:
            if not isinstance(f, Finding):
                raise TypeError(f"findings must be truenorth.Finding, got {type(f).__name__}")
        parts = [findings_frame(list(out.findings))] if out.findings else []
        if out.findings_frame is not None:
            parts.append(normalize_findings(out.findings_frame, rule))
        found = pl.concat(parts) if len(parts) > 1 else parts[0] if parts else empty_findings()
    except Exception as exc:
        seconds = time.perf_counter() - t0
        if not isinstance(exc, DataError):
            exc = unreadable_input(run, crule, exc) or out_of_range(exc) or exc
        msg = describe(exc)
        rr = RuleRun(
            rule.id,
            rule.kind,
            "error",
            seconds,
            1,
            [],
            msg,
            loc,
            crule.description,
            ctx.notes,
            conditions,
        )
        rr.traceback = traceback.format_exc()
        rr.data_error = isinstance(exc, DataError)
        return rr, findings_frame([error_finding(rule, msg)])
    run.produced.update(produced)
    seconds = time.perf_counter() - t0
    return (
        RuleRun(
            rule.id,
            rule.kind,
            "ok",
            seconds,
            found.height,
            list(produced),
            None,
            loc,
            crule.description,
            ctx.notes,
            conditions,
        ),
        found,
    )
