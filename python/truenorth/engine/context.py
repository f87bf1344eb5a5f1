"""The engine's rule context: what a rule's ``evaluate`` gets in one run (tables, conditions
compiled once per engine, thresholds, findings, messages), and the state of that run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataError, PackError
from .compiled import CompiledPack, CompiledRule, OutsideRoot, find_value, resolve_path
from .conditions import (
    ConditionError,
    compile_condition,
    double_quoted_words,
    type_check_on_frame,
)
from .records import Finding, Rule, Severity
from .templates import render_template


def render_message(template: str, row: Mapping[str, Any]) -> str:
    """Fill ``{column}`` placeholders from ``row``; unknown names are left visible.

    See :mod:`truenorth.engine.templates`: only plain names with bounded format specs render.
    """
    return render_template(template, row)


class RunContext:
    """The engine's implementation of :class:`truenorth.RuleContext` for one rule in one run."""

    def __init__(self, run: RunState, crule: CompiledRule):
        self._run = run
        self._crule = crule
        self.rule: Rule = crule.rule
        self.params: Mapping[str, Any] = run.params
        self.notes: list[dict[str, Any]] = []

    # tables ----------------------------------------------------------------
    def table(self, name: str) -> pl.LazyFrame:
        try:
            return self._run.table(name)
        except KeyError:
            have = ", ".join(sorted(self._run.available())) or "(none)"
            raise KeyError(f"no table {name!r} (available: {have})") from None

    def has_table(self, name: str) -> bool:
        return name in self._run.available()

    def resource(self, name: str | None = None) -> Any:
        return self._run.resources.get(self.rule.id if name is None else name)

    def resolve_path(self, path: str) -> Path:
        crule = self._crule
        try:
            return resolve_path(crule.base_dir, path, self._run.data_root)
        except OutsideRoot as exc:
            at = find_value(crule.doc.value, crule.path, path)
            where = crule.doc.loc(at) if at else crule.rule.location
            raise DataError(f"{where}: {exc}") from None

    # findings --------------------------------------------------------------
    def finding(
        self,
        subject: str,
        message: str,
        *,
        severity: Severity | None = None,
        value: float | None = None,
        threshold: str | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> Finding:
        rule = self.rule
        return Finding(
            rule_id=rule.id,
            kind=rule.kind,
            severity=severity or rule.severity,
            subject="" if subject is None else str(subject),
            message=message,
            value=value,
            threshold=threshold,
            evidence=dict(evidence or {}),
            action=rule.action,
            location=str(rule.location) if rule.location else None,
        )

    def condition(self, text: str, schema: Mapping[str, Any] | None = None) -> pl.Expr:
        field_name = next((k for k, t in self._crule.condition_texts.items() if t == text), None)
        # the rule's own conditions were compiled at load time, against the declared schema
        expr = self._crule.conditions.get(field_name) if field_name else None
        where = field_name or "condition"
        if field_name in self._crule.condition_locations:
            where += f" ({self._crule.condition_locations[field_name]})"
        if expr is None:
            try:
                expr = self._run.condition(text, schema)
            except PackError as exc:
                raise ConditionError(f"{where}: {exc}") from None
        if schema is not None:
            key = (text, tuple((k, str(v)) for k, v in schema.items()))
            cache = self._run.typechecks
            if key in cache:
                problem = cache[key]
            else:
                problem = cache[key] = type_check_on_frame(expr, text, schema)
            if problem:
                raise ConditionError(f"{where}: {problem}")
        return expr

    def note(self, step: str, count: int | None = None, **info: Any) -> None:
        entry: dict[str, Any] = {"step": step}
        if count is not None:
            entry["count"] = int(count)
        entry.update(info)
        self.notes.append(entry)

    def render(self, template: str, row: Mapping[str, Any]) -> str:
        return render_message(template, row)

    def check_thresholds(
        self, frame: pl.DataFrame, *, value: str = "value", subject: str = "subject"
    ) -> list[Finding]:
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        conds = {
            k: self._crule.conditions[k] for k in ("fail", "warn") if k in self._crule.conditions
        }
        if not conds:
            return []
        for need in (subject, value):
            if need not in frame.columns:
                raise ValueError(
                    f"check_thresholds: no column {need!r} (columns: {', '.join(frame.columns)})"
                )
        masks = {}
        for level, expr in conds.items():
            text = getattr(self.rule, level)
            problem = type_check_on_frame(expr, text, frame.schema)
            if problem:
                where = self._crule.condition_locations.get(level)
                raise ConditionError(f"{level}{f' ({where})' if where else ''}: {problem}")
            masks[f"__tn_{level}"] = expr.fill_null(False)
        flagged = frame.with_columns(**masks)
        findings = []
        used = {c for e in conds.values() for c in e.meta.root_names()}
        for row in flagged.iter_rows(named=True):
            hit: Severity
            if row.get("__tn_fail"):
                hit = "fail"
            elif row.get("__tn_warn"):
                hit = "warn"
            else:
                continue
            v = row[value]
            evidence = {c: row[c] for c in sorted(used) if c in row}
            shown = f"{v:.4g}" if isinstance(v, float) else v
            default = f"{row[subject]}: {value} = {shown} meets {hit} threshold {getattr(self.rule, hit)!r}"
            msg = self.render(self.rule.message, row) if self.rule.message else default
            findings.append(
                self.finding(
                    row[subject],
                    msg,
                    severity=hit,
                    value=float(v)
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                    else None,
                    threshold=getattr(self.rule, hit),
                    evidence=evidence,
                )
            )
        self.note("thresholds", len(findings), rows=frame.height)
        return findings


@dataclass
class RunState:
    pack: CompiledPack
    params: dict[str, Any]
    inputs: dict[str, pl.LazyFrame]
    produced: dict[str, pl.DataFrame] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    # shared across runs of one engine (expressions are immutable; dict get/set are atomic)
    conditions: dict[str, pl.Expr] = field(default_factory=dict)
    typechecks: dict[tuple[Any, ...], str | None] = field(default_factory=dict)
    # role -> (file, reader options) for datasets read from files (for error diagnosis)
    sources: dict[str, tuple[Path, Mapping[str, Any]]] = field(default_factory=dict)
    data_root: Path | None = None

    def available(self) -> set[str]:
        return set(self.inputs) | set(self.produced)

    def table(self, name: str) -> pl.LazyFrame:
        if name in self.produced:
            return self.produced[name].lazy()
        return self.inputs[name]

    def condition(self, text: str, schema: Mapping[str, Any] | None = None) -> pl.Expr:
        """A condition a rule builds while running; ``"double quoted"`` names are columns
        when ``schema`` has them (without a schema they are reported as likely strings)."""
        quoted = [w for w, _ in double_quoted_words(text)]
        key = text if not quoted else f"{text}\x00{sorted(schema or ())}"
        expr = self.conditions.get(key)
        if expr is None:
            names = {c: None for c in schema} if quoted and schema is not None else None
            expr = compile_condition(text, schema=names)
            if len(self.conditions) < 10_000:
                self.conditions[key] = expr
        return expr
