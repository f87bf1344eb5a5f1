"""What compiling a pack produces: compiled rules, datasets and the planned pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import Problem, UsageError
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
    condition_locations: dict[str, Location] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.rule.id


class OutsideRoot(ValueError):
    """A pack path that leaves the ``data_root`` a service confined datasets to."""


def resolve_path(base_dir: Path, path: str, root: Path | None = None) -> Path:
    """A path written in a pack (a dataset, a canvas, a catalogue), resolved against the pack
    file's folder unless absolute; ``~`` is expanded.

    Without ``root`` (the CLI) any path is allowed, ``../`` and absolute paths included: the
    person running the CLI can read those files anyway. With ``root`` (a service's
    ``Engine.load(..., data_root=...)``) the path is fully resolved (symlinks, ``..``) and must
    lie inside ``root``; otherwise :class:`OutsideRoot` is raised. The resolved path is
    returned, so the file checked is the file read.
    """
    p = Path(path).expanduser()
    p = p if p.is_absolute() else base_dir / p
    if root is None:
        return p
    real_root = Path(root).resolve()
    real = p.resolve()
    if real != real_root and real_root not in real.parents:
        raise OutsideRoot(
            f"path {path!r} resolves to {str(real)!r}, outside the data root {str(real_root)!r}"
        )
    return real


def find_value(doc: Any, prefix: tuple[Any, ...], value: str) -> tuple[Any, ...] | None:
    """The path (under ``prefix``) of the first string equal to ``value`` in a document."""
    node = doc
    for k in prefix:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            return None
    stack: list[tuple[tuple[Any, ...], Any]] = [(tuple(prefix), node)]
    while stack:
        at, v = stack.pop(0)
        if v == value:
            return at
        if isinstance(v, dict):
            stack.extend(((*at, k), c) for k, c in v.items())
        elif isinstance(v, list):
            stack.extend(((*at, i), c) for i, c in enumerate(v))
    return None


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
    keep: list[str] = field(default_factory=list)  # tables kept in the run history
    # located warnings from the kinds' validate hooks: the pack loads, `validate` prints them
    warnings: list[Problem] = field(default_factory=list)

    def rule(self, rule_id: str) -> CompiledRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise UsageError(f"pack {self.name!r} has no rule {rule_id!r}")
