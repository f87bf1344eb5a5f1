"""From YAML sources to a compiled, planned pack.

Steps: read files (located YAML) → group files by ``pack`` name → validate structure → substitute
``${params}`` → validate each rule's ``with:`` against its kind's options model → plan the DAG by
tables read/written → check conditions and message templates against declared schemas.
Every step collects problems; one :class:`~truenorth.errors.PackError` reports them all.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import ValidationError

from ..errors import PackError, Problem, UsageError
from .conditions import CheckSchema, check_condition, describe_schema
from .plugins import Registry
from .records import Location, Rule, RuleKind
from .spec import DatasetSpec, PackFileRaw, RuleSpec, TestCase, pydantic_problems
from .yamlsrc import Located, from_python, load_yaml

PARAM = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
YAML_SUFFIXES = (".yaml", ".yml")


# ----------------------------------------------------------------------------------- sources
@dataclass
class SourceFile:
    doc: Located
    spec: PackFileRaw
    base_dir: Path
    tests: list[TestCase] = field(default_factory=list)


@dataclass
class PackSource:
    """All files of one pack, validated structurally (params not yet substituted)."""

    name: str
    files: list[SourceFile]
    problems: list[Problem] = field(default_factory=list)  # reported by compile_pack

    @property
    def base_dir(self) -> Path:
        return self.files[0].base_dir

    @property
    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.files:
            out.update(f.spec.params)
        return out


def _expand(source: Any) -> list[tuple[Located, Path]]:
    if isinstance(source, Mapping):
        return [(from_python(dict(source), "<dict>"), Path.cwd())]
    p = Path(source)
    if p.is_dir():
        files = sorted(x for x in p.iterdir() if x.is_file() and x.suffix in YAML_SUFFIXES)
        if not files:
            raise PackError([Problem(f"no *.yaml files in folder {p}", Location(str(p), 1, 1))])
        out = []
        errors: list[Problem] = []
        for f in files:
            try:
                out.append((load_yaml(f), f.resolve().parent))
            except PackError as exc:
                errors.extend(exc.problems)
        if errors:
            raise PackError(errors)
        return out
    if not p.exists():
        raise PackError([Problem("no such file or folder", Location(str(p), 1, 1))])
    return [(load_yaml(p), p.resolve().parent)]


def read_sources(sources: Iterable[Any]) -> list[PackSource]:
    """Read pack files/folders/dicts and group them by pack name (in first-seen order)."""
    problems: list[Problem] = []
    groups: dict[str, PackSource] = {}
    seen: set[Path] = set()  # a file named twice (`run rules rules/kpi.yaml`) is read once
    for source in sources:
        try:
            located = _expand(source)
        except PackError as exc:
            problems.extend(exc.problems)
            continue
        for doc, base in located:
            if not isinstance(source, Mapping):
                key = Path(doc.file).resolve()
                if key in seen:
                    continue
                seen.add(key)
            if not isinstance(doc.value, dict):
                problems.append(
                    Problem(
                        f"a pack file must be a mapping, got {type(doc.value).__name__}",
                        doc.loc(()),
                        expected="keys truenorth, pack, datasets, params, rules, tests",
                    )
                )
                continue
            try:
                spec = PackFileRaw.model_validate(doc.value)
            except ValidationError as exc:
                problems.extend(pydantic_problems(exc, doc, model=PackFileRaw))
                continue
            tests = []
            for i, raw in enumerate(spec.tests):
                try:
                    tests.append(TestCase.model_validate(raw))
                except ValidationError as exc:
                    problems.extend(
                        pydantic_problems(exc, doc, model=TestCase, prefix=("tests", i))
                    )
            groups.setdefault(spec.pack, PackSource(spec.pack, [])).files.append(
                SourceFile(doc, spec, base, tests)
            )
    for group in groups.values():
        group.problems = _merge_problems(group)
    if problems:
        raise PackError(problems)
    return list(groups.values())


def _merge_problems(group: PackSource) -> list[Problem]:
    problems = []
    seen: dict[tuple[str, str], Location] = {}
    for f in group.files:
        for section in ("datasets", "params"):
            for key in getattr(f.spec, section):
                loc = f.doc.loc((section, key), key=True)
                if (section, key) in seen:
                    problems.append(
                        Problem(
                            f"{section[:-1] if section == 'datasets' else 'param'} {key!r} "
                            f"defined twice in pack {group.name!r} (first at {seen[(section, key)]})",
                            loc,
                        )
                    )
                seen.setdefault((section, key), loc)
        for i, rule in enumerate(f.spec.rules):
            rid = rule.get("id")
            if not isinstance(rid, str):
                continue
            loc = f.doc.loc(("rules", i, "id"))
            if ("rule", rid) in seen:
                problems.append(
                    Problem(
                        f"duplicate rule id (first at {seen[('rule', rid)]})",
                        loc,
                        rule_id=rid,
                        expected="unique rule ids within a pack",
                    )
                )
            seen.setdefault(("rule", rid), loc)
    return problems


# ------------------------------------------------------------------------------------ params
def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar semantics (``6`` → int, ``true`` → bool, else string)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, (dict, list)) or (value is None and text.strip() not in ("null", "~", "")):
        return text
    return value


def merge_params(
    declared: Mapping[str, Any], overrides: Mapping[str, Any] | None, *, pack: str
) -> dict[str, Any]:
    """Pack params overridden by ``overrides``; unknown names and type changes are errors."""
    params = dict(declared)
    for key, value in (overrides or {}).items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "(none)"
            raise UsageError(f"pack {pack!r} has no param {key!r} (params: {known})")
        default = declared[key]
        if isinstance(value, str) and not isinstance(default, str):
            value = parse_value(value)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise UsageError(
                f"--set {key}: param {key!r} of pack {pack!r} must be true or false "
                f"(its default is {default!r}), got {value!r}"
            )
        if (
            isinstance(default, (int, float))
            and not isinstance(default, bool)
            and (not isinstance(value, (int, float)) or isinstance(value, bool))
        ):
            raise UsageError(
                f"--set {key}: param {key!r} of pack {pack!r} must be a number "
                f"(its default is {default!r}), got {value!r}"
            )
        if isinstance(default, str) and not isinstance(value, str):
            value = str(value)
        params[key] = value
    return params


def substitute(
    value: Any,
    params: Mapping[str, Any],
    doc: Located,
    path: tuple[Any, ...],
    problems: list,
    rule_id: str | None = None,
) -> Any:
    """Replace ``${name}`` in scalars: a whole-value reference keeps the param's type."""
    if isinstance(value, dict):
        return {
            k: substitute(v, params, doc, (*path, k), problems, rule_id) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            substitute(v, params, doc, (*path, i), problems, rule_id) for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = PARAM.fullmatch(value)
    if whole and whole.group(1):
        name = whole.group(1)
        if name in params:
            return params[name]

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name not in params:
            problems.append(
                Problem(
                    f"unknown param ${{{name}}}",
                    doc.loc(path),
                    rule_id=rule_id,
                    expected=f"one of: {', '.join(sorted(params)) or '(no params declared)'}"
                    f"; for a literal '$' before a {{placeholder}} write $${{{name}}}",
                )
            )
            return m.group(0)
        return str(params[name])

    return PARAM.sub(repl, value)


# ---------------------------------------------------------------------------------- compiled
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


def message_fields(template: str) -> list[str]:
    """Names used by a ``{placeholder}`` template (raises ValueError if malformed)."""
    names = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None:
            if name == "" or name.isdigit():
                raise ValueError("placeholders must name a column, e.g. {customer}")
            names.append(re.split(r"[.\[]", name, maxsplit=1)[0])
    return names


def _normalise_schema(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    out: dict[str, Any] = {}
    for k, v in schema.items():
        out[str(k)] = v
    return out


def compile_pack(
    source: PackSource, registry: Registry, params: Mapping[str, Any] | None = None
) -> CompiledPack:
    """Validate and plan one pack with the given param overrides."""
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

    ordered, schemas, external = _plan(rules, datasets, problems)
    for crule in ordered:
        _check_rule(crule, schemas, problems, set(datasets))
    tests = [
        (t, f.doc, ("tests", i), f.base_dir) for f in source.files for i, t in enumerate(f.tests)
    ]
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
    )


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
        conflict = registry.conflicts.get(("kinds", spec.kind))
        if conflict:
            msg = f"rule kind {spec.kind!r} is provided by several plugins: {', '.join(conflict)}"
            expected = "exactly one plugin providing it (disable one: TRUENORTH_DISABLE_PLUGINS)"
        else:
            failed = [p.name for p in registry.errors if p.name == spec.kind]
            extra = (
                f" (plugin {failed[0]!r} failed to load; see `truenorth plugins`)" if failed else ""
            )
            msg = f"unknown rule kind {spec.kind!r}{extra}"
            expected = "one of: " + ", ".join(sorted(registry.kinds))
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


def _plan(
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
                waits = sorted(x.id for x in rules if id(x) in deps[id(r)] - done)
                problems.append(
                    Problem(
                        f"rules form a cycle through the tables they read and write "
                        f"({cycle}); this rule waits for {', '.join(map(repr, waits))}",
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
                    known = sorted(set(datasets) | set(creators) | set(augmenters))
                    problems.append(
                        Problem(
                            f"reads table {t!r}, which no dataset or rule provides",
                            r.doc.loc((*r.path, "on")) if r.rule.on == t else r.rule.location,
                            rule_id=r.id,
                            expected="one of: " + (", ".join(known) or "(none)"),
                        )
                    )
        external = []
    return ordered, schemas, sorted(set(external))


def _check_rule(
    crule: CompiledRule,
    schemas: Mapping[str, CheckSchema | None],
    problems: list[Problem],
    dataset_roles: set[str] | frozenset[str] = frozenset(),
) -> None:
    rule = crule.rule
    table = rule.on
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
    if rule.message is not None:
        loc = crule.doc.loc((*crule.path, "message"))
        try:
            names = message_fields(rule.message)
        except ValueError as exc:
            problems.append(
                Problem(f"message: bad template: {exc}", loc, rule.id, "{column} placeholders")
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
        vctx = ValidationContext(crule, schemas, problems)
        try:
            validate(rule.options, rule, vctx)
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
        self, crule: CompiledRule, schemas: Mapping[str, CheckSchema | None], problems: list
    ):
        self._crule = crule
        self._schemas = schemas
        self._problems = problems

    def schema(self, table: str) -> CheckSchema | None:
        """The declared schema of ``table`` (column -> dtype or None), or None if unknown."""
        return self._schemas.get(table)

    def location(self, at: Sequence[Any] = ()) -> Location:
        """The YAML location of ``at`` (a path relative to the rule, e.g. ``("with", "rows", 0)``)."""
        return self._crule.doc.loc((*self._crule.path, *at))

    def error(self, message: str, *, at: Sequence[Any] = (), expected: str | None = None) -> None:
        self._problems.append(Problem(message, self.location(at), self._crule.id, expected))

    def report(self, problems: Sequence[Problem]) -> None:
        """Problems found in a file the rule references (a canvas, a catalogue): they keep
        their own file:line:column and are reported with the pack's."""
        self._problems.extend(problems)

    def resolve_path(self, path: str) -> Path:
        """A path from the rule's options, resolved against the pack file's folder."""
        return resolve_path(self._crule.base_dir, path)

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
        return expr


__all__ = [
    "CompiledPack",
    "CompiledRule",
    "PackSource",
    "ValidationContext",
    "compile_pack",
    "merge_params",
    "parse_value",
    "read_sources",
]
