"""Binding a run's datasets: which frame each dataset role of a compiled pack reads.

A role is bound to a frame the caller passed, to a file read through a reader plugin, or to
a database query with the rules' conditions pushed into its WHERE. All of it happens before
the first rule runs, so a missing or unreadable input is one ``DataError`` up front rather
than a failure inside whichever rule reads it first. Kept apart from the run loop
(``engine``) because it is the only part of a run that touches files, databases and the
``data_root`` confinement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataError, UsageError
from ..io.datasets import apply_columns, read_dataset, to_lazy
from .compiler import CompiledPack, OutsideRoot, resolve_path
from .plugins import Registry


@dataclass
class BoundInputs:
    """The frames of one run, by role, and where the file and database ones came from."""

    #: every role's lazy frame, those the caller passed included
    inputs: dict[str, pl.LazyFrame]
    #: file datasets: their resolved path and reader options (rules that re-read the file)
    sources: dict[str, tuple[Path, Mapping[str, Any]]]
    #: database datasets: the SQL sent (shown by ``Result`` and the CLI)
    queries: dict[str, str]


def bind_inputs(
    pack: CompiledPack,
    data: Mapping[str, Any],
    registry: Registry,
    data_root: Path | None,
) -> BoundInputs:
    """Bind every role the pack's rules read: a frame in ``data`` wins over the pack's path or
    URI; a role no rule reads is left unread. Raises ``UsageError`` for a role the pack does
    not know and ``DataError`` naming every role left without data."""
    needed = {t for r in pack.rules for t in r.reads}
    unknown = [
        k for k in data if k not in pack.datasets and k not in pack.external and k not in needed
    ]
    if unknown:
        roles = sorted(set(pack.datasets) | set(pack.external)) or ["(none)"]
        raise UsageError(
            f"pack {pack.name!r} has no dataset role(s) {', '.join(map(repr, unknown))} "
            f"(roles: {', '.join(roles)})"
        )
    inputs: dict[str, pl.LazyFrame] = {}
    sources: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    queries: dict[str, str] = {}
    missing = []
    for role, ds in pack.datasets.items():
        if role in data:
            inputs[role] = apply_columns(to_lazy(data[role], role=role), ds.spec.columns, role=role)
        elif role in needed and ds.spec.uri is not None:
            inputs[role], queries[role] = _read_sql(role, ds, pack, data_root)
        elif role in needed:
            if ds.spec.path is None:
                missing.append(f"{role!r} (declared at {ds.location}, no path)")
                continue
            inputs[role] = _read(role, ds, registry, data_root)
            sources[role] = (dataset_path(ds, data_root), dict(ds.spec.options or {}))
    for role in pack.external:
        if role in data:
            inputs[role] = to_lazy(data[role], role=role)
        else:
            users = [r.id for r in pack.rules if role in r.reads]
            missing.append(f"{role!r} (read by {', '.join(users)})")
    for role, value in data.items():
        if role not in inputs:
            inputs[role] = to_lazy(value, role=role)
    if missing:
        raise DataError(f"pack {pack.name!r}: no data for: {', '.join(missing)}")
    return BoundInputs(inputs, sources, queries)


def dataset_path(ds: Any, data_root: Path | None) -> Path:
    """The file a dataset declares, resolved against its pack's folder and confined to
    ``data_root`` (a ``DataError`` naming the dataset if it escapes)."""
    try:
        return resolve_path(ds.base_dir, ds.spec.path, data_root)
    except OutsideRoot as exc:  # checked at load; a symlink may have changed since
        raise DataError(f"dataset {ds.role!r} ({ds.location}): {exc}") from None


def _read(role: str, ds: Any, registry: Registry, data_root: Path | None) -> pl.LazyFrame:
    path = dataset_path(ds, data_root)
    reader = registry.reader_for(str(path), ds.spec.reader)
    if reader is None:
        exts = sorted({e for r in registry.readers.values() for e in r.extensions})
        raise DataError(
            f"dataset {role!r} ({ds.location}): no reader for {path.name!r} "
            f"(known extensions: {', '.join(exts) or 'none — are the built-in plugins loaded?'})"
        )
    lf = read_dataset(path, reader=reader, options=ds.spec.options, role=role)
    return apply_columns(lf, ds.spec.columns, role=role, source=str(path))


def _read_sql(
    role: str, ds: Any, pack: CompiledPack, data_root: Path | None
) -> tuple[pl.LazyFrame, str]:
    """Read a database dataset, pushing down what the rules reading it filter on."""
    from ..io.sql import SqlSource, read_sql

    conditions: list[str | None] = []
    for crule in pack.rules:
        if role not in crule.reads:
            continue
        filtered = crule.rule.on or (crule.reads[0] if len(crule.reads) == 1 else None)
        if crule.kind.filters_input and filtered == role:
            conditions.append(crule.condition_texts.get("when"))
        else:
            conditions.append(None)  # reads the table some other way: no WHERE
    spec = ds.spec
    uri = spec.uri
    base_dir = ds.base_dir
    if data_root is not None and uri.split(":", 1)[0].lower() in ("duckdb", "sqlite"):
        from ..io.sql.connect import file_of

        try:  # a database file is a data file: inside the root, like a CSV
            resolve_path(base_dir, file_of(uri), data_root)
        except OutsideRoot as exc:
            raise DataError(f"dataset {role!r} ({ds.location}): {exc}") from None
    src = SqlSource(
        uri=uri,
        table=spec.table,
        query=spec.query,
        password_env=spec.password_env,
        columns=dict(spec.columns),
        base_dir=base_dir,
    )
    lf, sql = read_sql(src, role=role, conditions=conditions)
    return apply_columns(lf, spec.columns, role=role, source=spec.uri), sql
