"""Helpers the report's sections share: columns by name with fallbacks, figures, tables."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from .svg import esc, fmt

SEVERITY_ORDER = ("error", "fail", "warn", "info")
MAX_PREVIEW_ROWS = 12


def col(df: pl.DataFrame, *candidates: str) -> str | None:
    """The first of ``candidates`` that is a column of ``df`` (case-sensitive)."""
    for c in candidates:
        if c in df.columns:
            return c
    return None


def numeric_col(df: pl.DataFrame, *candidates: str) -> str | None:
    """The first candidate that exists and is numeric (or boolean)."""
    for c in candidates:
        if c in df.columns and (df.schema[c].is_numeric() or df.schema[c] == pl.Boolean):
            return c
    return None


def floats(series: pl.Series) -> list[float | None]:
    """A numeric series as Python floats, with nulls/NaN/inf as None."""
    out: list[float | None] = []
    for v in series.cast(pl.Float64, strict=False).to_list():
        out.append(v if v is not None and math.isfinite(v) else None)
    return out


def figure(chart: str, caption: str | None = None, *, wide: bool = False) -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    cls = ' class="wide"' if wide else ""
    return f"<figure{cls}>{chart}{cap}</figure>"


def cell(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f'<td class="num">{esc(fmt(value))}</td>'
    if isinstance(value, dt.datetime | dt.date):
        return f"<td>{esc(value.isoformat())}</td>"
    if isinstance(value, list | dict):
        return f"<td><code>{esc(json.dumps(value, default=str)[:200])}</code></td>"
    return f"<td>{esc('' if value is None else value)}</td>"


def html_table(df: pl.DataFrame, max_rows: int = MAX_PREVIEW_ROWS) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        body.append("<tr>" + "".join(cell(v) for v in row) + "</tr>")
    more = ""
    if df.height > max_rows:
        more = f'<p class="note">first {max_rows:,} of {df.height:,} rows</p>'
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def _overall(df: pl.DataFrame) -> pl.DataFrame:
    """Rows that are not a per-segment or per-period breakdown (when those columns exist)."""
    out = df
    for c in ("segment", "period"):
        if c in out.columns and out[c].null_count() > 0:
            out = out.filter(pl.col(c).is_null())
    return out


def _find_table(tables: Mapping[str, pl.DataFrame], *names: str) -> tuple[str, pl.DataFrame] | None:
    for n in names:
        if n in tables:
            return n, tables[n]
    return None


def _finding_subjects(result: Any, kind: str) -> set[str]:
    """Subjects of warn/fail findings of rules of ``kind``."""
    f = getattr(result, "findings", None)
    if not isinstance(f, pl.DataFrame) or not {"kind", "subject", "severity"} <= set(f.columns):
        return set()
    hit = f.filter((pl.col("kind") == kind) & pl.col("severity").is_in(["warn", "fail"]))
    return {str(v) for v in hit["subject"].to_list()}
