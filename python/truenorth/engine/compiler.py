"""From YAML sources to a compiled, planned pack.

Steps: read files (located YAML) → group files by ``pack`` name → validate structure
(:mod:`.sources`) → substitute ``${params}`` (:mod:`.params`) → validate each rule's ``with:``
against its kind's options model → plan the DAG by tables read/written (:mod:`.planner`) →
check conditions and message templates against declared schemas (here).
Every step collects problems; one :class:`~truenorth.errors.PackError` reports them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from ..errors import PackError, Problem
from ..io.sql import source_problems
from .compiled import CompiledPack, CompiledRule, Dataset, OutsideRoot, find_value, resolve_path
from .conditions import CheckSchema, check_condition, describe_schema
from .params import merge_params, parse_value, substitute
from .planner import plan
from .plugins import Registry
from .records import Location, Rule
from .sources import PackSource, SourceFile, read_sources
from .spec import DatasetSpec, RuleSpec, pydantic_problems
from .templates import EXPECTED as TEMPLATE_EXPECTED
from .templates import template_fields as message_fields


def _normalise_schema(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    out: dict[str, Any] = {}
    for k, v in schema.items():
        out[str(k)] = v
    return out


def compile_pack(
    source: PackSource,
    registry: Registry,
    params: Mapping[str, Any] | None = None,
    *,
    data_root: Path | None = None,
) -> CompiledPack:
    """Validate and plan one pack with the given param overrides.

    With ``data_root``, every dataset path must resolve inside it (see :func:`resolve_path`).
    """
    merged = merge_params(source.params, params, pack=source.name)
    problems: list[Problem] = list(source.problems)

    # datasets (params substituted in paths and options)
    datasets: dict[str, Dataset] = {}
    for f in source.files:
        for role, ds in f.spec.datasets.items():
            raw = f.doc.value["datasets"][role]
            sub = substitute(raw, merged, f.doc, ("datasets", role), problems)
            ds = DatasetSpec.model_validate(sub) if sub != raw else ds
            loc = f.doc.loc(("datasets", role), key=True)
            if ds.reader is not None and ds.reader not in registry.readers:
                problems.append(
                    Problem(
                        f"dataset {role!r}: unknown reader {ds.reader!r}",
                        f.doc.loc(("datasets", role, "reader")),
                        expected="one of: " + ", ".join(sorted(registry.readers)),
                    )
                )
            for key, msg, expected in source_problems(ds.uri, ds.table, ds.query, ds.path):
                problems.append(
                    Problem(
                        f"dataset {role!r}: {msg}",
                        f.doc.loc(("datasets", role, key)),
                        expected=expected,
                    )
                )
            if data_root is not None and ds.path is not None:
                try:
                    resolve_path(f.base_dir, ds.path, data_root)
                except OutsideRoot as exc:
                    problems.append(
                        Problem(
                            f"dataset {role!r}: {exc}",
                            f.doc.loc(("datasets", role, "path")),
                            expected="a path inside the data root",
                        )
                    )
            datasets[role] = Dataset(role, ds, f.base_dir, loc)

    # rules
    rules: list[CompiledRule] = []
    index = 0
    for f in source.files:
        for i, raw in enumerate(f.spec.rules):
            path = ("rules", i)
            rid = raw.get("id") if isinstance(raw.get("id"), str) else None
            sub = substitute(raw, merged, f.doc, path, problems, rid)
            try:
                spec = RuleSpec.model_validate(sub)
            except ValidationError as exc:
                problems.extend(
                    pydantic_problems(exc, f.doc, model=RuleSpec, prefix=path, rule_id=rid)
                )
                continue
            crule = _compile_rule(spec, f, path, registry, problems, index)
            index += 1
            if crule is not None:
                rules.append(crule)

    ordered, schemas, external = plan(rules, datasets, problems)
    warnings: list[Problem] = []
    for crule in ordered:
        _check_rule(crule, schemas, problems, set(datasets), data_root, warnings)
    tests = [
        (t, f.doc, ("tests", i), f.base_dir) for f in source.files for i, t in enumerate(f.tests)
    ]
    keep = _kept_tables(source, ordered, problems)
    if problems:
        raise PackError(problems)
    return CompiledPack(
        name=source.name,
        params=merged,
        datasets=datasets,
        rules=ordered,
        schemas=schemas,
        external=external,
        tests=tests,
        files=[f.doc.file for f in source.files],
        keep=keep,
        warnings=warnings,
    )


def _kept_tables(
    source: PackSource, rules: list[CompiledRule], problems: list[Problem]
) -> list[str]:
    """The pack's ``keep:`` tables (each one a table a rule writes), in first-seen order."""
    written = [t for r in rules for t in r.writes]
    keep: list[str] = []
    for f in source.files:
        for i, name in enumerate(f.spec.keep):
            if name not in written:
                problems.append(
                    Problem(
                        f"keep: {name!r} is not a table of this pack's rules",
                        f.doc.loc(("keep", i)),
                        expected="a table a rule writes: " + (", ".join(written) or "(none)"),
                    )
                )
            elif name not in keep:
                keep.append(name)
    return keep


def _compile_rule(
    spec: RuleSpec,
    f: SourceFile,
    path: tuple[Any, ...],
    registry: Registry,
    problems: list[Problem],
    index: int,
) -> CompiledRule | None:
    doc = f.doc
    kind = registry.kinds.get(spec.kind)
    if kind is None:
        msg, expected = registry.missing_kind(spec.kind)
        problems.append(Problem(msg, doc.loc((*path, "kind")), rule_id=spec.id, expected=expected))
        return None
    try:
        options = kind.options_model.model_validate(spec.with_)
    except ValidationError as exc:
        problems.extend(
            pydantic_problems(
                exc, doc, model=kind.options_model, prefix=(*path, "with"), rule_id=spec.id
            )
        )
        return None
    location = doc.loc(path)
    rule = Rule(
        id=spec.id,
        kind=spec.kind,
        options=options,
        on=spec.on,
        when=spec.when,
        warn=spec.warn,
        fail=spec.fail,
        severity=spec.severity,
        action=spec.action,
        message=spec.message,
        location=location,
        description=spec.description,
    )
    try:
        reads = [str(t) for t in kind.reads(options, rule)]
        writes = {str(k): _normalise_schema(v) for k, v in dict(kind.writes(options, rule)).items()}
    except Exception as exc:
        problems.append(
            Problem(f"rule kind {kind.name!r} could not plan this rule: {exc}", location, spec.id)
        )
        return None
    return CompiledRule(
        rule=rule,
        kind=kind,
        reads=list(dict.fromkeys(reads)),
        writes=writes,
        conditions={},
        description=spec.description,
        doc=doc,
        path=path,
        base_dir=f.base_dir,
        index=index,
    )


def _check_rule(
    crule: CompiledRule,
    schemas: Mapping[str, CheckSchema | None],
    problems: list[Problem],
    dataset_roles: set[str] | frozenset[str] = frozenset(),
    data_root: Path | None = None,
    warnings: list[Problem] | None = None,
) -> None:
    rule = crule.rule
    # `when:` filters the rows of the table the rule reads: `on:`, or its only input (a clv
    # rule names its transactions with `source:`)
    table = rule.on or (crule.reads[0] if len(crule.reads) == 1 else None)
    schema = schemas.get(table) if table else None
    for field_name in ("when", "warn", "fail"):
        text = getattr(rule, field_name)
        if text is None:
            continue
        loc = crule.doc.loc((*crule.path, field_name))
        # the kind declares which conditions are predicates over the `on` table; the others
        # (warn/fail thresholds on a frame the kind computes) cannot be checked before it runs
        use_schema = schema if field_name in crule.kind.row_predicates else None
        expr, found = check_condition(
            text,
            schema=use_schema,
            table=table,
            location=loc,
            rule_id=rule.id,
            field=field_name,
            dataset=table in dataset_roles,
        )
        problems.extend(found)
        if expr is not None:
            crule.conditions[field_name] = expr
            crule.condition_texts[field_name] = text
            crule.condition_locations[field_name] = loc
    if rule.message is not None:
        loc = crule.doc.loc((*crule.path, "message"))
        try:
            names = message_fields(rule.message)
        except ValueError as exc:
            problems.append(
                Problem(f"message: bad template: {exc}", loc, rule.id, TEMPLATE_EXPECTED)
            )
            return
        out_schema = schema if crule.kind.message_columns else None
        if out_schema is not None:
            extra = {"rule_id", "subject", "severity", "action", "value"}
            unknown = [n for n in names if n not in out_schema and n not in extra]
            if unknown:
                problems.append(
                    Problem(
                        f"message: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
                        loc,
                        rule.id,
                        f"columns of table {table!r}: {describe_schema(out_schema)}",
                    )
                )
    validate = getattr(crule.kind, "validate", None)
    if validate is not None:
        vctx = ValidationContext(crule, schemas, problems, data_root, warnings)
        try:
            validate(rule.options, rule, vctx)
        except PackError as exc:  # e.g. a path outside the data root, already located
            problems.extend(exc.problems)
        except Exception as exc:
            problems.append(
                Problem(
                    f"rule kind {crule.kind.name!r} validation raised: {exc}",
                    rule.location,
                    rule.id,
                )
            )


class ValidationContext:
    """What a rule kind's optional ``validate`` hook gets: schemas, located conditions, errors.

    Example (inside a kind's ``validate(options, rule, ctx)``)::

        expr = ctx.condition(row.when, at=("with", "rows", 0, "when"), table=rule.on)
        if options.top < 1:
            ctx.error("top must be positive", at=("with", "top"), expected="an integer >= 1")
    """

    def __init__(
        self,
        crule: CompiledRule,
        schemas: Mapping[str, CheckSchema | None],
        problems: list,
        data_root: Path | None = None,
        warnings: list | None = None,
    ):
        self._crule = crule
        self._schemas = schemas
        self._problems = problems
        self._data_root = data_root
        self._warnings: list = warnings if warnings is not None else []

    def schema(self, table: str) -> CheckSchema | None:
        """The declared schema of ``table`` (column -> dtype or None), or None if unknown."""
        return self._schemas.get(table)

    def location(self, at: Sequence[Any] = ()) -> Location:
        """The YAML location of ``at`` (a path relative to the rule, e.g. ``("with", "rows", 0)``)."""
        return self._crule.doc.loc((*self._crule.path, *at))

    def error(self, message: str, *, at: Sequence[Any] = (), expected: str | None = None) -> None:
        self._problems.append(Problem(message, self.location(at), self._crule.id, expected))

    def warn(self, message: str, *, at: Sequence[Any] = (), expected: str | None = None) -> None:
        """A located warning: the pack still loads; ``truenorth validate`` prints it and
        :attr:`CompiledPack.warnings` keeps it (e.g. a decision-table row that never fires)."""
        self._warnings.append(Problem(message, self.location(at), self._crule.id, expected))

    def report(self, problems: Sequence[Problem]) -> None:
        """Problems found in a file the rule references (a canvas, a catalogue): they keep
        their own file:line:column and are reported with the pack's."""
        self._problems.extend(problems)

    def resolve_path(self, path: str) -> Path:
        """A path from the rule's options, resolved against the pack file's folder.

        In a service's ``data_root`` mode a path outside the root raises
        :class:`~truenorth.errors.PackError` located at the option holding it.
        """
        try:
            return resolve_path(self._crule.base_dir, path, self._data_root)
        except OutsideRoot as exc:
            at = find_value(self._crule.doc.value, self._crule.path, path)
            raise PackError(
                [
                    Problem(
                        str(exc),
                        self._crule.doc.loc(at) if at else self._crule.rule.location,
                        self._crule.id,
                        "a path inside the data root",
                    )
                ]
            ) from None

    def condition(
        self, text: Any, *, at: Sequence[Any], table: str | None = None, row_predicate: bool = True
    ) -> pl.Expr | None:
        """Compile and check a condition found at ``at``; problems are recorded, None returned."""
        schema = self._schemas.get(table) if table else None
        field_name = ".".join(str(x) for x in at)
        expr, found = check_condition(
            text,
            schema=schema,
            table=table,
            location=self.location(at),
            rule_id=self._crule.id,
            field=field_name,
            row_predicate=row_predicate,
        )
        self._problems.extend(found)
        if expr is not None:
            self._crule.conditions[field_name] = expr
            self._crule.condition_texts[field_name] = text
            self._crule.condition_locations[field_name] = self.location(at)
        return expr


# The compile steps live in their own modules (sources, params, planner, compiled); their
# public names are re-exported here, where the engine and the CLI import them.
__all__ = [
    "CompiledPack",
    "CompiledRule",
    "Dataset",
    "OutsideRoot",
    "PackSource",
    "SourceFile",
    "ValidationContext",
    "compile_pack",
    "find_value",
    "merge_params",
    "message_fields",
    "parse_value",
    "read_sources",
    "resolve_path",
    "substitute",
]
