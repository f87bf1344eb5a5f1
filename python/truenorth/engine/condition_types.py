"""Type rules of conditions: comparisons must compare like with like.

Polars compares some values of different kinds without complaint and with a meaningless
result: a ``Date`` column against the number ``1997`` (the number is read as days since
1970, so every row matches), a ``Duration`` against a number. Others it refuses with an
engine message (a string against a number, a date against a string). This module finds every
comparison (``= <> < <= > >=``, ``IS [NOT] DISTINCT FROM``, ``BETWEEN``, ``IN (...)``) in a
compiled condition and checks the kinds of both sides against the schema, so both cases get
one clear message naming the columns, their types and the way to write it.

Example::

    >>> import polars as pl
    >>> comparison_problem(pl.sql_expr("time > 1997"), {"time": pl.Date})
    "compares column 'time' (Date) with the number 1997: a date is not a number; compare it with DATE 'YYYY-MM-DD' or TIMESTAMP 'YYYY-MM-DD hh:mm:ss', or compare YEAR(time)"
    >>> comparison_problem(pl.sql_expr("time > DATE '1997-02-01'"), {"time": pl.Date}) is None
    True
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

_COMPARISONS = {"Eq", "NotEq", "Lt", "LtEq", "Gt", "GtEq", "EqValidity", "NotEqValidity"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def family(dtype: Any) -> str | None:
    """The comparison family of a dtype: number, date, duration, time, text, boolean, null."""
    if dtype is None:
        return None
    if dtype == pl.Null:
        return "null"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "number"
    if dtype in (pl.Date, pl.Datetime):
        return "date"
    if dtype == pl.Duration:
        return "duration"
    if dtype == pl.Time:
        return "time"
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        return "text"
    return None  # lists, structs, binary: left to Polars


def _compatible(a: str, b: str) -> bool:
    # booleans compare with 0/1 meaningfully (true = 1); everything else only with its own kind
    return a == b or "null" in (a, b) or {a, b} == {"boolean", "number"}


def _node_pairs(node: Any) -> Iterator[tuple[Any, Any]]:
    """(left, right) serialized sides of every comparison in a serialized expression tree."""
    if isinstance(node, dict):
        binary = node.get("BinaryExpr")
        if isinstance(binary, dict) and binary.get("op") in _COMPARISONS:
            yield binary.get("left"), binary.get("right")
        function = node.get("Function")
        if isinstance(function, dict) and "IsIn" in json.dumps(function.get("function")):
            inputs = function.get("input") or []
            if len(inputs) == 2:
                yield inputs[0], ("__list__", inputs[1])
        for value in node.values():
            yield from _node_pairs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _node_pairs(value)


def _expr(serialized: Any) -> pl.Expr:
    return pl.Expr.deserialize(io.StringIO(json.dumps(serialized)), format="json")


def _side(serialized: Any, schema: Mapping[str, Any]) -> tuple[Any, str] | None:
    """(dtype, description) of one side, or None when not knowable (an undeclared column)."""
    in_list = isinstance(serialized, tuple) and serialized[0] == "__list__"
    expr = _expr(serialized[1] if in_list else serialized)
    roots = expr.meta.root_names()
    if any(schema.get(c) is None for c in roots):
        return None
    frame = pl.LazyFrame(schema={c: schema[c] for c in roots})
    dtype = frame.select(expr).collect_schema().dtypes()[0]
    if in_list:
        dtype = getattr(dtype, "inner", dtype)
        return dtype, f"the list {_literal_text(expr)}"
    if expr.meta.is_column():
        return dtype, f"column {roots[0]!r}"
    if not roots:
        value = pl.select(expr).to_series()
        shown = _literal_text(expr)
        what = {"number": "the number", "text": "the string", "date": "the date"}.get(
            family(dtype) or "", "the value"
        )
        return dtype, f"{what} {shown}" if value.len() == 1 else f"the value {shown}"
    return dtype, f"{_expression_text(expr)}"


def _literal_text(expr: pl.Expr) -> str:
    value = pl.select(expr).to_series()
    if value.dtype == pl.List:
        value = value.explode()
    items = value.to_list()
    shown = ["NULL" if v is None else repr(v) if isinstance(v, str) else str(v) for v in items]
    return shown[0] if len(shown) == 1 and value.dtype != pl.List else "(" + ", ".join(shown) + ")"


def _expression_text(expr: pl.Expr) -> str:
    roots = ", ".join(expr.meta.root_names())
    return f"an expression of column(s) {roots}" if roots else "an expression"


def comparison_problem(expr: pl.Expr, schema: Mapping[str, Any]) -> str | None:
    """A message for the first comparison between values of different kinds, or ``None``.

    Sides using a column whose dtype is not known (``None`` in ``schema``) are not judged.
    """
    try:
        tree = json.loads(expr.meta.serialize(format="json"))
    except Exception:  # an expression Polars cannot serialize: leave it to evaluation
        return None
    for left, right in _node_pairs(tree):
        try:
            a = _side(left, schema)
            b = _side(right, schema)
        except Exception:  # a side that does not resolve: evaluation reports it
            continue
        if a is None or b is None:
            continue
        fa, fb = family(a[0]), family(b[0])
        if fa is None or fb is None or _compatible(fa, fb):
            continue
        return f"compares {_shown(a)} with {_shown(b)}: " + _hint((fa, a[1]), (fb, b[1]))
    return None


def _shown(side: tuple[Any, str]) -> str:
    dtype, text = side
    return text if text.startswith("the ") else f"{text} ({_name(dtype)})"


def _name(dtype: Any) -> str:
    text = str(dtype)
    return text.split("(")[0] if text.startswith(("Datetime", "Duration")) else text


def _hint(a: tuple[str, str], b: tuple[str, str]) -> str:
    kinds = {a[0], b[0]}
    other = b if a[0] == "date" else a
    if kinds == {"date", "text"}:
        literal = other[1].removeprefix("the string ").strip("'")
        if _ISO_DATE.match(literal):
            return f"write the date as DATE '{literal}' (a string is not a date)"
        if _ISO_TIMESTAMP.match(literal):
            return f"write the time as TIMESTAMP '{literal.replace('T', ' ')}' (a string is not a date)"
        return "write dates as DATE 'YYYY-MM-DD' or TIMESTAMP 'YYYY-MM-DD hh:mm:ss'"
    if kinds == {"date", "number"}:
        col = a[1] if a[0] == "date" else b[1]
        name = col.removeprefix("column ").strip("'") if col.startswith("column ") else "time"
        return (
            "a date is not a number; compare it with DATE 'YYYY-MM-DD' or "
            f"TIMESTAMP 'YYYY-MM-DD hh:mm:ss', or compare YEAR({name})"
        )
    if kinds == {"duration", "number"}:
        return "a duration is not a number; compare it with INTERVAL '3 days'"
    if kinds == {"text", "number"}:
        text, number = (a, b) if a[0] == "text" else (b, a)
        if text[1].startswith("column ") and number[1].startswith("the number "):
            col = text[1].removeprefix("column ").strip("'")
            value = number[1].removeprefix("the number ")
            return (
                f"{col} holds text: compare it with a quoted string ('{value}'), or convert it "
                f"with CAST({col} AS DOUBLE)"
            )
        if number[1].startswith("column ") and text[1].startswith("the string "):
            col = number[1].removeprefix("column ").strip("'")
            return f"{col} holds numbers: compare it with a number (without quotes)"
        return "text and numbers do not compare"
    return f"a {a[0]} and a {b[0]} do not compare"


__all__ = ["comparison_problem", "family"]
