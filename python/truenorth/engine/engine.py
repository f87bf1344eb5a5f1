"""The engine: load packs once, run them many times (thread-safe, re-entrant).

Evaluation: datasets are read lazily (``scan_csv``/``scan_parquet``), so the first rule that
reads one gets projection and predicate pushdown into the scan. Each rule's output tables are
collected when the rule finishes: this attributes errors and time to the rule that caused them
(a lazy plan would fail, and spend its time, inside whichever later rule collected it) and
avoids recomputing a table that several rules read. Conditions are compiled once per engine.

Example::

    >>> import polars as pl, truenorth
    >>> engine = truenorth.Engine.load({
    ...     "truenorth": 1, "pack": "demo", "params": {"limit": 100},
    ...     "rules": [{"id": "big", "kind": "condition", "on": "customers",
    ...                "when": "clv > ${limit}", "message": "{customer} is worth {clv}"}]})
    >>> df = pl.DataFrame({"customer": ["a", "b"], "clv": [50.0, 150.0]})
    >>> engine.run(data={"customers": df}).findings["message"].to_list()
    ['b is worth 150.0']
    >>> engine.run(data={"customers": df}, params={"limit": 10}).findings.height
    2
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataError, PackError, Problem, RuleError, UsageError
from ..io.datasets import apply_columns, read_dataset, to_lazy
from .compiler import (
    CompiledPack,
    CompiledRule,
    OutsideRoot,
    PackSource,
    compile_pack,
    read_sources,
    resolve_path,
)
from .context import RunContext, RunState, render_message
from .failures import describe, error_finding, out_of_range, unreadable_input
from .findings import empty_findings
from .packtests import TestOutcome, run_pack_tests
from .plugins import Registry, load_registry
from .records import Finding, RuleOutput
from .result import (
    Result,
    RuleRun,
    findings_frame,
    jsonable,
    normalize_findings,
)
from .yamlsrc import PackLimits

_MAX_PARAM_CACHE = 32
log = logging.getLogger("truenorth")


class Engine:
    """A compiled pack, ready to run on data many times.

    Create with :meth:`Engine.load`. :meth:`run` is thread-safe and re-entrant: a run keeps its
    state in local objects; the only shared state is the per-params compile cache (locked).
    """

    def __init__(
        self,
        source: PackSource,
        registry: Registry,
        params: Mapping[str, Any] | None = None,
        *,
        data_root: str | Path | None = None,
    ):
        self.source = source
        self.registry = registry
        self.data_root: Path | None = Path(data_root).resolve() if data_root is not None else None
        self._default_overrides = dict(params or {})
        self.pack: CompiledPack = compile_pack(
            source, registry, self._default_overrides, data_root=self.data_root
        )
        self._cache: dict[str, CompiledPack] = {}
        self._lock = threading.Lock()
        self._expr_cache: dict[str, pl.Expr] = {}
        self._typecheck_cache: dict[tuple[Any, ...], str | None] = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load_all(
        cls,
        sources: Any,
        *,
        params: Mapping[str, Any] | None = None,
        plugins: Sequence[Any] = (),
        strict: bool | None = None,
        registry: Registry | None = None,
        limits: PackLimits | None = None,
        data_root: str | Path | None = None,
    ) -> list[Engine]:
        """One engine per pack found in ``sources`` (files, folders, dicts).

        ``params`` apply to every pack that declares them; a name no pack declares is an error.
        ``limits`` and ``data_root`` are described in :meth:`load`.
        """
        items = _as_list(sources)
        reg = registry or load_registry(plugins, strict=strict)
        root = _data_root(data_root)
        t0 = time.perf_counter()
        groups = read_sources(items, limits=limits, dict_base=root)
        params = dict(params or {})
        known = {k for g in groups for k in g.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise UsageError(
                f"no pack declares param(s) {', '.join(map(repr, unknown))} "
                f"(params: {', '.join(sorted(known)) or '(none)'})"
            )
        engines: list[Engine] = []
        problems: list[Problem] = []
        for g in groups:
            own = {k: v for k, v in params.items() if k in g.params}
            try:
                engines.append(cls(g, reg, own, data_root=root))
            except PackError as exc:
                problems.extend(exc.problems)
        if problems:
            raise PackError(problems)
        log.debug(
            "loaded %d pack(s) (%s) in %.2f s",
            len(engines),
            ", ".join(e.name for e in engines),
            time.perf_counter() - t0,
        )
        return engines

    @classmethod
    def load(
        cls,
        sources: Any,
        *,
        params: Mapping[str, Any] | None = None,
        plugins: Sequence[Any] = (),
        strict: bool | None = None,
        registry: Registry | None = None,
        limits: PackLimits | None = None,
        data_root: str | Path | None = None,
    ) -> Engine:
        """Load and compile exactly one pack from files/folders/dicts (all sharing its name).

        Args:
            sources: a path, a pack dict, or a list of them.
            params: param overrides (``${name}`` substitution).
            plugins: extra plugin modules/objects, registered besides the entry points.
            strict: plugin load errors raise (default: ``TRUENORTH_STRICT``).
            limits: size and alias-expansion limits for pack files
                (:class:`truenorth.PackLimits`; default 1 MiB per file, 10,000 nodes built
                through YAML aliases).
            data_root: confine every path the pack reads (datasets, canvas and catalogue
                files, test inputs) to this folder, after resolving symlinks and ``..``; a
                path outside is a :class:`~truenorth.PackError` at its ``path:`` line.
                Relative paths in dict packs are resolved against it. Use it when the pack
                comes from someone else; without it (the CLI's default) a pack may read any
                file the process can.

        Example (a service that runs packs uploaded by its users)::

            engine = truenorth.Engine.load(
                uploaded_yaml_path,
                data_root="/srv/tenant-42/data",
                limits=truenorth.PackLimits(max_bytes=256_000, max_alias_nodes=1_000),
            )
        """
        engines = cls.load_all(
            sources,
            params=params,
            plugins=plugins,
            strict=strict,
            registry=registry,
            limits=limits,
            data_root=data_root,
        )
        if len(engines) != 1:
            names = ", ".join(e.name for e in engines)
            raise UsageError(
                f"expected one pack, found {len(engines)} ({names}); use Engine.load_all"
            )
        return engines[0]

    @property
    def name(self) -> str:
        return self.pack.name

    def __repr__(self) -> str:
        order = " → ".join(r.id for r in self.pack.rules)
        return f"Engine(pack={self.name!r}, rules: {order})"

    @property
    def rules(self) -> list[CompiledRule]:
        """The compiled rules in execution order."""
        return self.pack.rules

    def compiled(self, params: Mapping[str, Any] | None = None) -> CompiledPack:
        """The pack compiled for ``params`` (cached)."""
        if not params:
            return self.pack
        merged = {**self._default_overrides, **params}
        key = json.dumps(jsonable(merged), sort_keys=True)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        compiled = compile_pack(self.source, self.registry, merged, data_root=self.data_root)
        with self._lock:
            if len(self._cache) >= _MAX_PARAM_CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = compiled
        return compiled

    # ------------------------------------------------------------------ running
    def run(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        fail_fast: bool = False,
        only: Iterable[str] | None = None,
        progress: Callable[[str, str, RuleRun | None], None] | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> Result:
        """Run the pack. ``data`` maps dataset roles to frames; other roles are read from paths.

        Raises :class:`~truenorth.errors.DataError` for missing/unreadable inputs (before any
        rule runs) and, with ``fail_fast``, :class:`~truenorth.errors.RuleError` on the first
        rule that errors (:class:`~truenorth.errors.DataError` when the rule failed on bad
        input data). Otherwise a rule that raises becomes an ``error`` finding; one that raised
        ``DataError`` is marked :attr:`RuleRun.data_error` and makes the run exit 2, not 3.

        ``only`` runs a subset of rule ids (their inputs must not come from skipped rules).
        ``progress(event, rule_id, rule_run)`` is called with ``"start"`` before and ``"end"``
        after each rule (the CLI draws a progress bar with it). ``resources`` hands in-memory
        objects to rules (``ctx.resource()``), e.g. fitted models keyed by rule id.
        """
        t_start = time.perf_counter()
        pack = self.compiled(params)
        data = dict(data or {})
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
                inputs[role] = apply_columns(
                    to_lazy(data[role], role=role), ds.spec.columns, role=role
                )
            elif role in needed and ds.spec.uri is not None:
                inputs[role], queries[role] = self._read_sql(role, ds, pack)
            elif role in needed:
                if ds.spec.path is None:
                    missing.append(f"{role!r} (declared at {ds.location}, no path)")
                    continue
                inputs[role] = self._read(role, ds)
                sources[role] = (self._path(ds), dict(ds.spec.options or {}))
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

        run = RunState(
            pack=pack,
            params=dict(pack.params),
            inputs=inputs,
            resources=dict(resources or {}),
            conditions=self._expr_cache,
            typechecks=self._typecheck_cache,
            sources=sources,
            data_root=self.data_root,
        )
        frames: list[pl.DataFrame] = []
        runs: list[RuleRun] = []
        failed_tables: dict[str, str] = {}
        selected = set(only) if only is not None else None
        for crule in pack.rules:
            if selected is not None and crule.id not in selected:
                continue
            if progress is not None:
                progress("start", crule.id, None)
            rr, fs = self._run_rule(run, crule, failed_tables)
            if progress is not None:
                progress("end", crule.id, rr)
            runs.append(rr)
            if fs.height:
                frames.append(fs)
            if rr.status == "error":
                for t in crule.writes:
                    failed_tables[t] = crule.id
                if fail_fast:
                    if rr.data_error:
                        raise DataError(f"rule {crule.id!r} ({crule.kind.name}): {rr.error}")
                    raise RuleError(f"rule {crule.id!r} ({crule.kind.name}) failed: {rr.error}")
            elif rr.status == "skipped":
                for t in crule.writes:
                    failed_tables.setdefault(t, crule.id)
        frame = pl.concat(frames) if len(frames) > 1 else frames[0] if frames else empty_findings()
        return Result(
            pack=pack.name,
            params=dict(pack.params),
            tables=dict(run.produced),
            findings=frame,
            rules=runs,
            seconds=time.perf_counter() - t_start,
            files=list(pack.files),
            queries=queries,
        )

    def _path(self, ds: Any) -> Path:
        try:
            return resolve_path(ds.base_dir, ds.spec.path, self.data_root)
        except OutsideRoot as exc:  # checked at load; a symlink may have changed since
            raise DataError(f"dataset {ds.role!r} ({ds.location}): {exc}") from None

    def data_path(self, path: str | Path) -> Path:
        """A data file path given outside the pack (the CLI's ``--data``), relative to the
        working folder; with ``data_root`` it must resolve inside the root (else
        :class:`~truenorth.errors.UsageError`)."""
        try:
            return resolve_path(Path.cwd(), str(path), self.data_root)
        except OutsideRoot as exc:
            raise UsageError(f"--data: {exc}") from None

    def _read(self, role: str, ds: Any) -> pl.LazyFrame:
        path = self._path(ds)
        reader = self.registry.reader_for(str(path), ds.spec.reader)
        if reader is None:
            exts = sorted({e for r in self.registry.readers.values() for e in r.extensions})
            raise DataError(
                f"dataset {role!r} ({ds.location}): no reader for {path.name!r} "
                f"(known extensions: {', '.join(exts) or 'none — are the built-in plugins loaded?'})"
            )
        lf = read_dataset(path, reader=reader, options=ds.spec.options, role=role)
        return apply_columns(lf, ds.spec.columns, role=role, source=str(path))

    def _read_sql(self, role: str, ds: Any, pack: CompiledPack) -> tuple[pl.LazyFrame, str]:
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
        if self.data_root is not None and uri.split(":", 1)[0].lower() in ("duckdb", "sqlite"):
            from ..io.sql.connect import file_of

            try:  # a database file is a data file: inside the root, like a CSV
                resolve_path(base_dir, file_of(uri), self.data_root)
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

    def _run_rule(
        self, run: RunState, crule: CompiledRule, failed_tables: Mapping[str, str]
    ) -> tuple[RuleRun, pl.DataFrame]:
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
                    raise TypeError(
                        f"table {name!r} is a {type(table).__name__}, not a Polars frame"
                    )
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

    # ------------------------------------------------------------------ introspection
    def explain(self, rule_id: str) -> dict[str, Any]:
        """The compiled form of a rule: kind, options, reads/writes, compiled conditions."""
        crule = self.pack.rule(rule_id)
        return {
            "id": crule.id,
            "kind": crule.kind.name,
            "location": str(crule.rule.location),
            "options": jsonable(crule.rule.options.model_dump()),
            "reads": crule.reads,
            "writes": {t: (list(s) if s is not None else None) for t, s in crule.writes.items()},
            "conditions": {k: str(v) for k, v in crule.conditions.items()},
            "condition_texts": dict(crule.condition_texts),
            "order": [r.id for r in self.pack.rules].index(rule_id) + 1,
        }

    def run_tests(self, names: Collection[str] | None = None) -> list[TestOutcome]:
        """Run the pack's ``tests:`` cases (only those named in ``names`` when given); see
        :class:`TestOutcome`."""
        return run_pack_tests(
            self.pack, self.registry, self.run, data_root=self.data_root, names=names
        )


def _data_root(root: str | Path | None) -> Path | None:
    if root is None:
        return None
    p = Path(root).expanduser().resolve()
    if not p.is_dir():
        raise UsageError(f"data_root {str(root)!r}: not a folder (expected an existing folder)")
    return p


def _as_list(sources: Any) -> list[Any]:
    if isinstance(sources, (str, Path, Mapping)):
        return [sources]
    return list(sources)


__all__ = ["Engine", "RunContext", "TestOutcome", "render_message"]
