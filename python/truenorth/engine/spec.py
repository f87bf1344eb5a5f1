"""The pack format as pydantic models (structure only; ``with:`` is checked per rule kind).

These models are the single source of truth for validation and for ``truenorth schema``.
"""

from __future__ import annotations

import difflib
import types
import typing
from datetime import date, datetime
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Problem
from .yamlsrc import Located

RULE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
Scalar = Union[bool, int, float, date, datetime, str, None]  # noqa: UP007


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatasetSpec(_Strict):
    """A dataset role: where its data lives and how its columns map to canonical names."""

    path: str | None = Field(None, description="file path, relative to the pack file")
    uri: str | None = Field(
        None,
        description="database URI (postgresql://USER@HOST/DB, duckdb:///FILE, sqlite:///FILE); "
        "no password: see password_env",
    )
    table: str | None = Field(None, description="table (or SCHEMA.TABLE) to read, with uri")
    query: str | None = Field(None, description="SELECT to read, with uri")
    password_env: str | None = Field(
        None, description="environment variable holding the database password"
    )
    reader: str | None = Field(None, description="reader name; default: chosen by extension")
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column name -> column name in the source"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="options for the reader")
    description: str | None = None


class RuleSpec(_Strict):
    """One rule: a kind, its options, and how its results become findings."""

    id: str = Field(pattern=RULE_ID_PATTERN, description="unique rule id")
    kind: str = Field(description="rule kind (see `truenorth kinds`)")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="kind options")
    on: str | None = Field(None, description="table the rule reads (dataset role or rule output)")
    when: str | None = Field(None, description="row condition (SQL expression)")
    warn: str | None = Field(None, description="condition for a warn finding")
    fail: str | None = Field(None, description="condition for a fail finding")
    severity: Literal["info", "warn", "fail"] = "warn"
    action: str | None = Field(None, description="action tag carried by findings")
    message: str | None = Field(None, description="message template with {column} placeholders")
    description: str | None = None


class ExpectedFinding(_Strict):
    rule: str | None = None
    subject: str | None = None
    severity: Literal["info", "warn", "fail", "error"] | None = None
    action: str | None = None


class Expectation(_Strict):
    findings: list[ExpectedFinding] | None = Field(
        None, description="exactly these findings (order-insensitive, fields given must match)"
    )
    contains: list[ExpectedFinding] | None = Field(None, description="at least these findings")
    count: int | None = Field(None, description="number of findings")
    no_errors: bool = Field(True, description="no rule errored")
    tables: dict[str, list[dict[str, Any]]] | None = Field(
        None, description="table -> rows that must be present (subset of columns)"
    )


class TestCase(_Strict):
    """A pack test case: small input tables and what must come out."""

    name: str
    given: dict[str, list[dict[str, Any]] | DatasetSpec] = Field(default_factory=dict)
    params: dict[str, Scalar] = Field(default_factory=dict)
    expect: Expectation = Field(default_factory=Expectation)


class PackFile(_Strict):
    """One YAML file of a pack. Files sharing a ``pack`` name form one pack."""

    truenorth: Literal[1] = Field(description="format version")
    pack: str = Field(pattern=RULE_ID_PATTERN, description="pack name")
    description: str | None = None
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    params: dict[str, Scalar] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    keep: list[str] = Field(
        default_factory=list,
        description="tables of this pack's rules kept in the run history (run --store), "
        "compared by `truenorth diff`",
    )


class PackFileRaw(PackFile):
    """:class:`PackFile` with rules left as mappings: each rule is validated on its own, so
    one broken rule does not hide the problems of the others."""

    rules: list[dict[str, Any]] = Field(default_factory=list)  # type: ignore[assignment]
    tests: list[dict[str, Any]] = Field(default_factory=list)  # type: ignore[assignment]


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        out = []
        for a in typing.get_args(tp):
            out.extend(_unwrap(a))
        return out
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    return [tp]


def _field_by_name(model: type[BaseModel], key: Any) -> Any:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.annotation
    return None


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` inside ``model`` (for 'did you mean')."""
    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for c in candidates:
            for tp in _unwrap(c):
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    ann = _field_by_name(tp, part)
                    if ann is not None:
                        nxt.append(ann)
                    continue
                origin = typing.get_origin(tp)
                args = typing.get_args(tp)
                if origin in (list, tuple, typing.Sequence) and isinstance(part, int) and args:
                    nxt.append(args[0])
                elif origin in (dict, typing.Mapping) and len(args) == 2:
                    nxt.append(args[1])
        candidates = nxt
    for c in candidates:
        for tp in _unwrap(c):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                return [f.alias or n for n, f in tp.model_fields.items()]
    return None


def _describe_type(err: dict[str, Any]) -> str:
    t = err.get("type", "")
    ctx = err.get("ctx") or {}
    if t == "union_type":
        return f"one of: {ctx.get('expected')}"
    if t == "literal_error":
        return f"one of {ctx.get('expected')}"
    if t == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern')}"
    if t.endswith("_type") or t.endswith("_parsing"):
        return t.replace("_type", "").replace("_parsing", "").replace("_", " ")
    return ""


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "date", "datetime", "dict", "list"}


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in _TYPE_TAGS or ("[" in part and "]" in part))


def _merge_union_errors(errors: list[Any]) -> list[Any]:
    """One error per location for union types (pydantic reports one per union member)."""
    out: list[Any] = []
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for err in errors:
        loc = tuple(err["loc"])
        if loc and _is_tag(loc[-1]) and err["type"] != "extra_forbidden":
            key = tuple(p for p in loc if not _is_tag(p))
            if key in merged:
                merged[key]["_tags"].append(str(loc[-1]))
                continue
            new = dict(err)
            new["loc"] = key
            new["_tags"] = [str(loc[-1])]
            merged[key] = new
            out.append(new)
        else:
            out.append(err)
    for err in merged.values():
        tags = err.pop("_tags")
        if len(tags) > 1:
            err["type"] = "union_type"
            err["msg"] = "Input has the wrong type"
            err["ctx"] = {"expected": " | ".join(dict.fromkeys(tags))}
    return out


def pydantic_problems(
    exc: ValidationError,
    doc: Located,
    *,
    model: type[BaseModel],
    prefix: tuple[Any, ...] = (),
    rule_id: str | None = None,
) -> list[Problem]:
    """Map pydantic errors to located :class:`Problem` s (``prefix``: path of the validated value)."""
    problems = []
    errors = _merge_union_errors(exc.errors(include_url=False))
    for err in errors:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p and "]" in p))
        full = (*prefix, *loc)
        if err["type"] == "extra_forbidden":
            key = loc[-1] if loc else "?"
            allowed = allowed_keys(model, loc[:-1]) or []
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(
                    f"unknown key {key!r}{hint}",
                    doc.loc(full, key=True),
                    rule_id=rule_id,
                    expected=("one of: " + ", ".join(allowed)) if allowed else None,
                )
            )
            continue
        where = ".".join(str(p) for p in loc) or "(value)"
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "missing":
            problems.append(
                Problem(f"missing required key {loc[-1]!r}", doc.loc(full[:-1]), rule_id=rule_id)
            )
            continue
        got = err.get("input")
        got_text = "" if isinstance(got, (dict, list)) else f", got {got!r}"
        problems.append(
            Problem(
                f"{where}: {msg}{got_text}",
                doc.loc(full),
                rule_id=rule_id,
                expected=_describe_type(err) or None,
            )
        )
    return problems
