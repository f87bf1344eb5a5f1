"""The engine: load packs once, run them many times (thread-safe, re-entrant).

Evaluation: datasets are read lazily (``scan_csv``/``scan_parquet``), so the first rule that
reads one gets projection and predicate pushdown into the scan. Each rule's output tables are
collected when the rule finishes: this attributes errors and time to the rule that caused them
(a lazy plan would fail, and spend its time, inside whichever later rule collected it) and
avoids recomputing a table that several rules read. Conditions are compiled once per engine.

This module holds the engine itself: loading, the per-params compile cache and the run loop
that orders rules and assembles the ``Result``. Binding datasets to frames is ``binding``;
evaluating one rule (where plugin code runs and fails) is ``evaluation``.

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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataError, PackError, Problem, RuleError, UsageError
from .binding import bind_inputs
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
from .evaluation import evaluate_rule
from .findings import empty_findings
from .packtests import TestOutcome, run_pack_tests
from .plugins import Registry, load_registry
from .result import Result, RuleRun, jsonable
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
        bound = bind_inputs(pack, dict(data or {}), self.registry, self.data_root)
        run = RunState(
            pack=pack,
            params=dict(pack.params),
            inputs=bound.inputs,
            resources=dict(resources or {}),
            conditions=self._expr_cache,
            typechecks=self._typecheck_cache,
            sources=bound.sources,
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
            rr, fs = evaluate_rule(run, crule, failed_tables)
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
            queries=bound.queries,
        )

    def data_path(self, path: str | Path) -> Path:
        """A data file path given outside the pack (the CLI's ``--data``), relative to the
        working folder; with ``data_root`` it must resolve inside the root (else
        :class:`~truenorth.errors.UsageError`)."""
        try:
            return resolve_path(Path.cwd(), str(path), self.data_root)
        except OutsideRoot as exc:
            raise UsageError(f"--data: {exc}") from None

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
