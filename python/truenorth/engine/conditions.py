"""Conditions: SQL-like boolean expressions compiled to Polars expressions, checked at load time.

Conditions go through Polars' SQL expression parser (:func:`polars.sql_expr`) — never Python
``eval``. Because that parser accepts some things that are almost always mistakes, the compiler
also checks, before any data is read:

* unknown columns, against the declared schema of the table the condition reads;
* results that are not boolean (``clv + 1``);
* aggregates where a row predicate is expected (``AVG(clv) > 500`` broadcasts one value);
* ``"double quoted"`` words, which SQL reads as *column names*, not strings.

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

from ..errors import PackError, Problem
from .records import Location

# A declared schema for checks: column -> dtype, or None when the dtype is not known.
CheckSchema = Mapping[str, Any]

_DQ = re.compile(r"'(?:[^']|'')*'|\"((?:[^\"]|\"\")*)\"")


def double_quoted_words(text: str) -> list[tuple[str, int]]:
    """Double-quoted identifiers in ``text`` (outside single-quoted strings), with offsets."""
    out = []
    for m in _DQ.finditer(text):
        if m.group(1) is not None:
            out.append((m.group(1), m.start()))
    return out


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
        if word not in known:
            problems.append(
                problem(
                    f'"{word}" (at character {offset + 1}) is double-quoted, which SQL reads as a '
                    f"column name",
                    f"'{word}' in single quotes for a string",
                )
            )
    if problems:
        return None, problems
    try:
        expr = pl.sql_expr(text)
    except Exception as exc:  # polars raises SQLInterfaceError/SQLSyntaxError/ComputeError
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, [problem(f"cannot parse {text!r}: {msg}", "a SQL boolean expression")]
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


def type_check_on_frame(expr: pl.Expr, text: str, frame_schema: Mapping[str, Any]) -> str | None:
    """Run-time check against a real schema; a message, or ``None`` when fine."""
    roots = list(dict.fromkeys(expr.meta.root_names()))
    missing = [c for c in roots if c not in frame_schema]
    if missing:
        return (
            f"condition {text!r} uses unknown column(s) {', '.join(map(repr, missing))}; "
            f"the table has: {describe_schema(frame_schema)}"
        )
    try:
        empty = pl.DataFrame(schema=dict(frame_schema))
        dt = empty.lazy().select(expr).collect_schema().dtypes()[0]
        # some type errors (a String column compared with a number) only show on execution
        empty.select(expr)
    except Exception as exc:
        types = ", ".join(f"{c}: {frame_schema[c]}" for c in roots)
        return (
            f"condition {text!r} cannot be evaluated on this data: {str(exc).splitlines()[0]} "
            f"(column types: {types})"
        )
    if dt not in (pl.Boolean, pl.Null):
        return f"condition {text!r} gives {dt}, not true/false"
    return None
