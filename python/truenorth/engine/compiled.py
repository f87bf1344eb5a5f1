"""What compiling a pack produces: compiled rules, datasets and the planned pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import UsageError
from .conditions import CheckSchema
from .records import Location, Rule, RuleKind
from .spec import DatasetSpec, TestCase
from .yamlsrc import Located


@dataclass
class CompiledRule:
    """A validated rule with its kind, planned inputs/outputs and compiled conditions."""

    rule: Rule[Any]
    kind: RuleKind[Any]
    reads: list[str]
    writes: dict[str, Any]
    conditions: dict[str, pl.Expr]  # when/warn/fail, plus kind conditions ("with.rows.0.when")
    description: str | None
    doc: Located
    path: tuple[Any, ...]
    base_dir: Path
    index: int
    condition_texts: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.rule.id


def resolve_path(base_dir: Path, path: str) -> Path:
    """A path written in a pack (a dataset, a canvas, a catalogue), resolved against the pack
    file's folder unless absolute; ``~`` is expanded."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


@dataclass
class Dataset:
    role: str
    spec: DatasetSpec
    base_dir: Path
    location: Location


@dataclass
class CompiledPack:
    name: str
    params: dict[str, Any]
    datasets: dict[str, Dataset]
    rules: list[CompiledRule]  # in execution order
    schemas: dict[str, CheckSchema | None]
    external: list[str]  # tables no rule writes and no dataset declares (must be passed in)
    tests: list[tuple[TestCase, Located, tuple[Any, ...], Path]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def rule(self, rule_id: str) -> CompiledRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise UsageError(f"pack {self.name!r} has no rule {rule_id!r}")
