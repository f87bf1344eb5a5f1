"""Planning: order a pack's rules by the tables they read and write, and derive each
table's declared schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from .compiled import CompiledRule, Dataset
from .conditions import CheckSchema
from .records import Location


def plan(
    rules: list[CompiledRule], datasets: Mapping[str, Dataset], problems: list[Problem]
) -> tuple[list[CompiledRule], dict[str, CheckSchema | None], list[str]]:
    """Order rules by tables: creators → augmenters (read+write, in pack order) → readers."""
    creators: dict[str, list[CompiledRule]] = {}
    augmenters: dict[str, list[CompiledRule]] = {}
    for r in rules:
        for t in r.writes:
            (augmenters if t in r.reads else creators).setdefault(t, []).append(r)
    for t, cs in creators.items():
        if len(cs) > 1:
            ids = ", ".join(repr(c.id) for c in cs)
            for c in cs[1:]:
                problems.append(
                    Problem(
                        f"table {t!r} is created by several rules ({ids})",
                        c.rule.location,
                        rule_id=c.id,
                        expected="one creating rule per table; others may read and extend it",
                    )
                )
        if t in datasets:
            problems.append(
                Problem(
                    f"rule writes table {t!r}, which is also a dataset role",
                    cs[0].rule.location,
                    rule_id=cs[0].id,
                    expected="a table name distinct from dataset roles, or read it via `on:`",
                )
            )
    # schemas: dataset columns, then union of writers
    schemas: dict[str, CheckSchema | None] = {}
    for role, ds in datasets.items():
        schemas[role] = {c: None for c in ds.spec.columns} if ds.spec.columns else None
    for t in set(creators) | set(augmenters):
        writers = creators.get(t, []) + augmenters.get(t, [])
        if t in datasets:
            base = schemas.get(t)
        elif t in creators:
            base = {}
        else:
            base = None  # an external input extended by rules: its own columns are unknown
        if any(w.writes[t] is None for w in writers) or base is None:
            schemas[t] = None
            continue
        merged: dict[str, Any] = dict(base)
        for w in writers:
            merged.update(w.writes[t] or {})
        schemas[t] = merged

    deps: dict[int, set[int]] = {id(r): set() for r in rules}
    external: list[str] = []
    for r in rules:
        for t in r.reads:
            cs = creators.get(t, [])
            augs = augmenters.get(t, [])
            if r in augs:
                k = augs.index(r)
                before = cs + augs[:k]
                deps[id(r)].update(id(x) for x in before)
                if not before and t not in datasets:
                    external.append(t)
            else:
                writers = cs + augs
                deps[id(r)].update(id(x) for x in writers)
                if not writers and t not in datasets:
                    external.append(t)
    # cycles (Kahn, stable by pack order)
    remaining = list(rules)
    done: set[int] = set()
    ordered: list[CompiledRule] = []
    while remaining:
        ready = [r for r in remaining if deps[id(r)] <= done]
        if not ready:
            cycle = ", ".join(repr(r.id) for r in remaining)
            for r in remaining:
                waits = [x for x in rules if id(x) in deps[id(r)] - done]
                why = "; ".join(
                    f"it reads {t!r}, which rule {x.id!r} writes"
                    for x in waits
                    for t in r.reads
                    if t in x.writes
                )
                problems.append(
                    Problem(
                        f"rules form a cycle through the tables they read and write "
                        f"({cycle}): {why}",
                        r.rule.location,
                        rule_id=r.id,
                        expected="an acyclic order of tables",
                    )
                )
            break
        for r in ready:
            ordered.append(r)
            done.add(id(r))
            remaining.remove(r)
    if datasets:
        for r in rules:
            for t in r.reads:
                if t in external:
                    # tables this rule could read: not the ones only it writes
                    others = {x for x in set(creators) | set(augmenters) if x not in r.writes}
                    known = sorted(set(datasets) | others)
                    msg = f"reads table {t!r}, which no dataset or rule provides"
                    if t in r.writes:
                        msg = (
                            f"reads table {t!r}, which only this rule writes: a rule cannot "
                            "read its own output (a self-cycle)"
                        )
                    problems.append(
                        Problem(
                            msg,
                            _where_read(r, t),
                            rule_id=r.id,
                            expected="one of: " + (", ".join(known) or "(none)"),
                        )
                    )
        external = []
    return ordered, schemas, sorted(set(external))


def _where_read(r: CompiledRule, table: str) -> Location:
    """Where rule ``r`` names ``table``: its ``on:``, or the ``with:`` option holding the name."""
    if r.rule.on == table:
        return r.doc.loc((*r.path, "on"))
    raw: Any = r.doc.value
    for part in r.path:
        raw = raw[part]
    written = raw.get("with") if isinstance(raw, dict) else None
    for key, value in (written if isinstance(written, dict) else {}).items():
        if value == table:
            return r.doc.loc((*r.path, "with", key))
    return r.rule.location or r.doc.loc(r.path)
