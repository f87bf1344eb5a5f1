"""A stand-in RuleContext for calling a kind's ``evaluate`` directly in unit tests: given tables,
paths resolved against a folder, and ``warn``/``fail`` checked as the engine does (fail before
warn, one finding per subject)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from truenorth import Finding, Options, Rule


class FakeContext:
    def __init__(
        self,
        rule_id: str,
        kind: str,
        options: Options,
        tables: dict[str, pl.DataFrame],
        base: Path,
        **rule: Any,
    ):
        self.rule = Rule(id=rule_id, kind=kind, options=options, **rule)
        self.tables, self.base, self.params = tables, base, {}

    def table(self, name: str) -> pl.LazyFrame:
        return self.tables[name].lazy()

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def resolve_path(self, p: str) -> Path:
        return self.base / p

    def finding(
        self, subject, message, *, severity=None, value=None, threshold=None, evidence=None
    ):
        return Finding(
            self.rule.id,
            self.rule.kind,
            severity or self.rule.severity,
            subject,
            message,
            value,
            threshold,
            dict(evidence or {}),
        )

    def check_thresholds(self, frame, *, value="value", subject="subject"):
        out = []
        for sev in ("fail", "warn"):
            cond = getattr(self.rule, sev)
            if cond:
                for r in frame.filter(pl.sql_expr(cond)).iter_rows(named=True):
                    if all(f.subject != r[subject] for f in out):
                        out.append(self.finding(r[subject], cond, severity=sev, value=r[value]))
        return out
