"""Pack test cases (``tests:`` in a pack): given small tables → expected findings and values."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import Location, TruenorthError
from ..io.datasets import apply_columns, read_dataset
from .compiled import CompiledPack, OutsideRoot, resolve_path
from .plugins import Registry
from .result import Result
from .spec import DatasetSpec, ExpectedFinding


@dataclass
class TestOutcome:
    """The outcome of one pack test case."""

    name: str
    passed: bool
    failures: list[str]
    location: Location | None = None
    seconds: float = 0.0


def _matches(row: dict[str, Any], exp: ExpectedFinding) -> bool:
    pairs = {
        "rule_id": exp.rule,
        "subject": exp.subject,
        "severity": exp.severity,
        "action": exp.action,
    }
    return all(v is None or str(row.get(k)) == str(v) for k, v in pairs.items())


def _describe(exp: ExpectedFinding) -> str:
    return ", ".join(f"{k}={v}" for k, v in exp.model_dump().items() if v is not None) or "(any)"


def _given_frame(
    registry: Registry, role: str, given: Any, base_dir: Any, data_root: Path | None = None
) -> pl.LazyFrame | pl.DataFrame:
    if isinstance(given, DatasetSpec):
        if given.path is None:
            raise TruenorthError(f"given {role!r}: a path is required")
        try:
            path = resolve_path(base_dir, given.path, data_root)
        except OutsideRoot as exc:
            raise TruenorthError(f"given {role!r}: {exc}") from None
        reader = registry.reader_for(str(path), given.reader)
        if reader is None:
            raise TruenorthError(f"given {role!r}: no reader for {path.name}")
        lf = read_dataset(path, reader=reader, options=given.options, role=role)
        return apply_columns(lf, given.columns, role=role, source=str(path))
    if not given:
        raise TruenorthError(f"given {role!r}: no rows (give at least one row, or a path)")
    if isinstance(given, list) and given and all(isinstance(r, dict) for r in given):
        # rows with different keys would silently become null cells: a typo must fail loudly
        first = list(given[0])
        for i, row in enumerate(given[1:], start=2):
            if set(row) != set(first):
                extra = sorted(set(row) - set(first))
                lacks = sorted(set(first) - set(row))
                parts = [f"has {', '.join(extra)} not in row 1"] if extra else []
                parts += [f"lacks {', '.join(lacks)}"] if lacks else []
                raise TruenorthError(
                    f"given {role!r}, row {i}: {'; '.join(parts)} "
                    f"(expected the same columns in every row: {', '.join(first)})"
                )
    return pl.DataFrame(given, infer_schema_length=None)


def run_pack_tests(
    pack: CompiledPack,
    registry: Registry,
    run: Callable[..., Result],
    *,
    data_root: Path | None = None,
    names: Collection[str] | None = None,
) -> list[TestOutcome]:
    """Run ``pack``'s ``tests:`` cases (those named in ``names``, or all), each through
    ``run(data=..., params=...)``; with ``data_root``, their ``given:`` files must lie
    inside it."""
    outcomes = []
    for case, doc, path, base_dir in pack.tests:
        if names is not None and case.name not in names:
            continue
        t0 = time.perf_counter()
        failures: list[str] = []
        loc = doc.loc(path)
        try:
            data = {
                role: _given_frame(registry, role, g, base_dir, data_root)
                for role, g in case.given.items()
            }
            result = run(data=data, params=case.params or None)
        except TruenorthError as exc:
            outcomes.append(
                TestOutcome(case.name, False, [str(exc)], loc, time.perf_counter() - t0)
            )
            continue
        exp = case.expect
        rule_ids = {r.id for r in pack.rules}
        for e in [*(exp.contains or []), *(exp.findings or [])]:
            rid = getattr(e, "rule", None)
            if rid is not None and rid not in rule_ids:
                failures.append(
                    f"expected finding names rule {rid!r}, which is not in the pack "
                    f"(rules: {', '.join(sorted(rule_ids))})"
                )
        rows = list(result.findings.iter_rows(named=True))
        if exp.no_errors and result.errors:
            failures += [f"rule {r.id!r} {r.status}: {r.error}" for r in result.errors]
        real = [r for r in rows if r["severity"] != "error"]
        if exp.count is not None and len(real) != exp.count:
            failures.append(f"expected {exp.count} findings, got {len(real)}")
        if exp.contains:
            for e in exp.contains:
                if not any(_matches(r, e) for r in real):
                    failures.append(f"missing finding: {_describe(e)}")
        if exp.findings is not None:
            unmatched = list(real)
            for e in exp.findings:
                hit = next((r for r in unmatched if _matches(r, e)), None)
                if hit is None:
                    failures.append(f"missing finding: {_describe(e)}")
                else:
                    unmatched.remove(hit)
            for r in unmatched:
                failures.append(
                    f"unexpected finding: rule={r['rule_id']}, subject={r['subject']}, "
                    f"severity={r['severity']}"
                )
        for table, expected_rows in (exp.tables or {}).items():
            if table not in result.tables:
                failures.append(
                    f"no table {table!r} (tables: {', '.join(result.tables) or 'none'})"
                )
                continue
            actual = result.tables[table].to_dicts()
            for want in expected_rows:
                if not any(_row_matches(a, want) for a in actual):
                    failures.append(f"table {table!r}: no row matching {want}")
        outcomes.append(
            TestOutcome(case.name, not failures, failures, loc, time.perf_counter() - t0)
        )
    return outcomes


def _row_matches(actual: dict[str, Any], want: dict[str, Any]) -> bool:
    for k, v in want.items():
        if k not in actual:
            return False
        a = actual[k]
        if isinstance(v, float) and isinstance(a, (int, float)):
            if abs(a - v) > 1e-6 * max(1.0, abs(v)):
                return False
        elif a != v and str(a) != str(v):
            return False
    return True
