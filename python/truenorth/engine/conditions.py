"""Conditions: SQL-like boolean expressions compiled to Polars expressions, checked at load time.

Conditions go through Polars' SQL expression parser (:func:`polars.sql_expr`) — never Python
``eval``. Because that parser accepts some things that are almost always mistakes, the compiler
also checks, before any data is read:

* unknown columns, against the declared schema of the table the condition reads;
* results that are not boolean (``clv + 1``);
* aggregates where a row predicate is expected (``AVG(clv) > 500`` broadcasts one value);
* ``"double quoted"`` words, which SQL reads as *column names*, not strings;
* comparisons between values of different kinds (``time > 1997`` on a date column,
  ``customer > 5`` on a text column), see :mod:`truenorth.engine.condition_types`;
* subqueries (``EXISTS (SELECT ...)``) and other SQL the engine does not evaluate per row.

The language is documented in ``docs/reference/conditions.md``.

Example::

    >>> import polars as pl
    >>> expr = compile_condition("clv > 500 AND segment = 'at_risk'",
    ...                          schema={"clv": pl.Float64, "segment": pl.String})
    >>> pl.DataFrame({"clv": [900.0], "segment": ["at_risk"]}).select(expr).item()
    True
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from ..errors import DataError, PackError, Problem
from .condition_types import comparison_problem
from .records import Location

# A declared schema for checks: column -> dtype, or None when the dtype is not known.
CheckSchema = Mapping[str, Any]

_DQ = re.compile(r"'(?:[^']|'')*'|\"((?:[^\"]|\"\")*)\"")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_SUBQUERY = re.compile(r"\b(SELECT|EXISTS)\b", re.IGNORECASE)
# engine parser messages may carry a dump of its syntax tree: `Dot(Function(Function { name: ...`
_AST_DUMP = re.compile(r"\b([A-Z][A-Za-z]*)(?:\((?:[A-Z][A-Za-z]*[({]|\[)| \{)")


class ConditionError(DataError, ValueError):
    """A condition does not fit the data it runs on (an unknown column, a comparison of a
    date with a number, ...): invalid data, exit code 2. Also a ``ValueError``, which is
    what :meth:`RuleContext.condition <truenorth.RuleContext.condition>` documents."""


def unsupported_construct(text: str) -> str | None:
    """A message for SQL that is not a row condition (subqueries), or ``None``."""
    bare = _QUOTED.sub(lambda m: " " * len(m.group(0)), text)
    m = _SUBQUERY.search(bare)
    if m:
        return (
            f"subqueries are not supported ({m.group(1).upper()} at character {m.start() + 1}); "
            "a condition tests each row's own values"
        )
    return None


def clean_engine_message(message: str) -> str:
    """The first line of a Polars SQL error, without engine internals (syntax-tree dumps)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if "dot-notation" in first:
        return "method or attribute access (`name.attr`, `name.method(...)`) is not supported"
    m = _AST_DUMP.search(first)
    if m:  # name the construct in SQL words: `SimilarTo { ...` -> SIMILAR TO
        construct = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", m.group(1)).upper()
        return f"{construct} is not supported"
    if first.startswith("unsupported function"):
        first += " (the functions are listed in docs/reference/conditions.md)"
    return first or "not a valid expression"


def double_quoted_words(text: str) -> list[tuple[str, int]]:
    """Double-quoted identifiers in ``text`` (outside single-quoted strings), with offsets."""
    out = []
    for m in _DQ.finditer(text):
        if m.group(1) is not None:
            out.append((m.group(1), m.start()))
    return out


def needs_quotes(name: str) -> bool:
    """Can the column ``name`` only be written ``"double quoted"`` (spaces, SQL keywords)?"""
    try:
        expr = pl.sql_expr(name)
    except Exception:
        return True
    return not (expr.meta.is_column() and expr.meta.output_name() == name)


def describe_schema(schema: CheckSchema) -> str:
    names = list(schema)
    if len(names) > 12:
        return ", ".join(names[:12]) + f", … ({len(names)} columns)"
    return ", ".join(names) or "(no columns)"


def check_condition(
    text: Any,
    *,
    schema: CheckSchema | None = None,
    table: str | None = None,
    location: Location | None = None,
    rule_id: str | None = None,
    field: str = "when",
    row_predicate: bool = True,
    dataset: bool = False,
) -> tuple[pl.Expr | None, list[Problem]]:
    """Compile ``text``; return the expression (or ``None``) and every problem found."""

    def problem(msg: str, expected: str | None = None) -> Problem:
        return Problem(f"{field}: {msg}", location, rule_id=rule_id, expected=expected)

    if not isinstance(text, str) or not text.strip():
        return None, [problem(f"not a condition: {text!r}", "a non-empty SQL boolean expression")]
    problems: list[Problem] = []
    known = set(schema) if schema is not None else set()
    for word, offset in double_quoted_words(text):
        if word in known and needs_quotes(word):
            continue
        if word in known:
            problems.append(
                problem(
                    f'"{word}" (at character {offset + 1}) is double-quoted: SQL reads it as the '
                    f"column {word}, and may have meant the string '{word}'",
                    f"{word} unquoted for the column, '{word}' in single quotes for a string",
                )
            )
        else:
            problems.append(
                problem(
                    f'"{word}" (at character {offset + 1}) is double-quoted, which SQL reads as a '
                    f"column name",
                    f"'{word}' in single quotes for a string",
                )
            )
    if problems:
        return None, problems
    unsupported = unsupported_construct(text)
    if unsupported:
        return None, [problem(f"{text!r}: {unsupported}", "a SQL boolean expression on columns")]
    try:
        expr = pl.sql_expr(text)
    except Exception as exc:  # polars raises SQLInterfaceError/SQLSyntaxError/ComputeError
        msg = clean_engine_message(str(exc)) if str(exc) else type(exc).__name__
        return None, [problem(f"cannot parse {text!r}: {msg}", "a SQL boolean expression")]
    if ".subplan(" in str(expr):  # a subquery form the scan above did not spot
        return None, [problem(f"{text!r}: subqueries are not supported", "a row condition")]
    if isinstance(expr, list):  # a comma-separated list of expressions
        return None, [problem(f"{text!r} is several expressions", "one boolean expression")]
    if row_predicate and is_aggregate(expr):
        return None, [
            problem(
                f"{text!r} is an aggregate (one value for the whole table), not a row predicate",
                "a condition on each row's values, e.g. 'clv > 500'",
            )
        ]
    if schema is None:
        return expr, []
    roots = list(dict.fromkeys(expr.meta.root_names()))
    missing = [c for c in roots if c not in known]
    if missing:
        where = f" of table '{table}'" if table else ""
        close = difflib.get_close_matches(missing[0], list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return None, [
            problem(
                f"unknown column{'s' if len(missing) > 1 else ''} "
                + ", ".join(repr(c) for c in missing)
                + hint,
                f"a column{where}: {describe_schema(schema)}"
                + (f"; declare source columns in datasets.{table}.columns" if dataset else ""),
            )
        ]
    mismatch = comparison_problem(expr, schema)
    if mismatch:
        return None, [
            problem(f"{text!r} does not type-check: {mismatch}", "a comparison of like values")
        ]
    dtype, error = _result_dtype(expr, schema, roots)
    if error is not None:
        return None, [problem(f"{text!r} does not type-check: {error}", "compatible types")]
    if dtype is not None and dtype not in (pl.Boolean, pl.Null):
        return None, [problem(f"{text!r} gives {dtype}, not true/false", "a boolean condition")]
    return expr, []


_AGG = re.compile(
    r'col\("[^"]*"\)\.(?:mean|sum|max|min|count|std|var|median|first|last|n_unique|quantile|'
    r"product|mode|arg_max|arg_min)\(|(?:^|[\s(\[])len\(\)"
)


def is_aggregate(expr: pl.Expr) -> bool:
    """Does ``expr`` aggregate over rows (outside a window), instead of testing each row?"""
    try:
        if expr.meta.is_scalar():
            return True
    except Exception:  # polars resolves some expressions against a schema it does not have
        pass
    roots = list(dict.fromkeys(expr.meta.root_names()))
    try:
        if pl.DataFrame(schema={c: pl.Float64 for c in roots}).select(expr).height != 0:
            return True
    except Exception:
        pass
    text = str(expr)
    return ".over(" not in text and _AGG.search(text) is not None


def _result_dtype(expr: pl.Expr, schema: CheckSchema, roots: list[str]) -> tuple[Any, str | None]:
    """(output dtype on an empty frame of the declared schema, type error) — where knowable.

    A type error is only reported when every column the condition uses has a declared dtype;
    with unknown dtypes (stand-in ``Null`` columns) failures prove nothing.
    """
    dtypes = {c: (schema[c] if schema[c] is not None else pl.Null) for c in schema}
    all_known = all(schema.get(c) is not None for c in roots)
    try:
        empty = pl.DataFrame(schema=dtypes)
        if all_known:
            return empty.select(expr).dtypes[0], None
        return empty.lazy().select(expr).collect_schema().dtypes()[0], None
    except Exception as exc:
        if all_known:
            return None, (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, None


def compile_condition(
    text: str,
    *,
    schema: CheckSchema | None = None,
    table: str | None = None,
    location: Location | None = None,
    rule_id: str | None = None,
    field: str = "when",
    row_predicate: bool = True,
) -> pl.Expr:
    """Like :func:`check_condition` but raise :class:`PackError` on any problem."""
    expr, problems = check_condition(
        text,
        schema=schema,
        table=table,
        location=location,
        rule_id=rule_id,
        field=field,
        row_predicate=row_predicate,
    )
    if problems or expr is None:
        raise PackError(problems or [Problem(f"{field}: invalid condition", location, rule_id)])
    return expr


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def type_check_on_frame(expr: pl.Expr, text: str, frame_schema: Mapping[str, Any]) -> str | None:
    """Run-time check against a real schema; a message, or ``None`` when fine."""
    roots = list(dict.fromkeys(expr.meta.root_names()))
    missing = [c for c in roots if c not in frame_schema]
    if missing:
        return (
            f"condition {text!r}: unknown column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}{_did_you_mean(missing[0], list(frame_schema))}; "
            f"the table has: {describe_schema(frame_schema)}"
        )
    types = ", ".join(f"{c}: {frame_schema[c]}" for c in roots)
    mismatch = comparison_problem(expr, frame_schema)
    if mismatch:
        return f"condition {text!r} {mismatch} (column types: {types})"
    try:
        empty = pl.DataFrame(schema=dict(frame_schema))
        dt = empty.lazy().select(expr).collect_schema().dtypes()[0]
        # some type errors (a String column compared with a number) only show on execution
        empty.select(expr)
    except Exception as exc:
        return (
            f"condition {text!r} cannot be evaluated on this data: {clean_engine_message(str(exc))} "
            f"(column types: {types})"
        )
    if dt not in (pl.Boolean, pl.Null):
        return f"condition {text!r} gives {dt}, not true/false"
    return None
