"""Reading packs: files, folders and dicts → located YAML, grouped by ``pack`` name and
validated structurally (params are substituted later, per compile)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import PackError, Problem
from .records import Location
from .spec import PackFileRaw, TestCase, pydantic_problems
from .yamlsrc import Located, PackLimits, from_python, load_yaml

YAML_SUFFIXES = (".yaml", ".yml")


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


def _expand(
    source: Any, limits: PackLimits | None = None, dict_base: Path | None = None
) -> list[tuple[Located, Path]]:
    if isinstance(source, Mapping):
        return [(from_python(dict(source), "<dict>", limits=limits), dict_base or Path.cwd())]
    p = Path(source)
    if p.is_dir():
        files = sorted(x for x in p.iterdir() if x.is_file() and x.suffix in YAML_SUFFIXES)
        if not files:
            raise PackError([Problem(f"no *.yaml files in folder {p}", Location(str(p), 1, 1))])
        out = []
        errors: list[Problem] = []
        for f in files:
            try:
                out.append((load_yaml(f, limits=limits), f.resolve().parent))
            except PackError as exc:
                errors.extend(exc.problems)
        if errors:
            raise PackError(errors)
        return out
    if not p.exists():
        raise PackError([Problem("no such file or folder", Location(str(p), 1, 1))])
    return [(load_yaml(p, limits=limits), p.resolve().parent)]


_YAML11_BOOLEANS = {True: "on, yes, y", False: "off, no, n"}


def boolean_keys(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    """(message, expected) for each true/false *key* in an in-memory pack: the trace of a YAML
    1.1 loader (``yaml.safe_load``), which reads unquoted ``on:`` as ``True:``."""
    out: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = (*path, key)
            if isinstance(key, bool):
                where = ".".join(str(p) for p in path) or "(top level)"
                guess = " — here most likely `on:`" if key is True and len(path) == 2 else ""
                out.append(
                    (
                        f"{where}: key {key} is a boolean, not a name: a YAML 1.1 loader such as "
                        f"yaml.safe_load reads the unquoted keys {_YAML11_BOOLEANS[key]} "
                        f"as {key}{guess}",
                        "string keys: quote the key ('on':) or load the file with "
                        "truenorth.load_yaml(path).value (truenorth.parse_yaml(text).value), or pass the path "
                        "to Engine.load",
                    )
                )
            else:
                out.extend(boolean_keys(item, here))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(boolean_keys(item, (*path, i)))
    return out


def read_sources(
    sources: Iterable[Any], *, limits: PackLimits | None = None, dict_base: Path | None = None
) -> list[PackSource]:
    """Read pack files/folders/dicts and group them by pack name (in first-seen order).

    ``limits`` bounds each file's size and alias expansion; relative paths in dict packs are
    resolved against ``dict_base`` (default: the working folder).
    """
    problems: list[Problem] = []
    groups: dict[str, PackSource] = {}
    seen: set[Path] = set()  # a file named twice (`run rules rules/kpi.yaml`) is read once
    for source in sources:
        try:
            located = _expand(source, limits, dict_base)
        except PackError as exc:
            problems.extend(exc.problems)
            continue
        for doc, base in located:
            if not isinstance(source, Mapping):
                key = Path(doc.file).resolve()
                if key in seen:
                    continue
                seen.add(key)
            if isinstance(source, Mapping):
                found = boolean_keys(doc.value)
                if found:
                    problems.extend(Problem(msg, doc.loc(()), expected=exp) for msg, exp in found)
                    continue
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
