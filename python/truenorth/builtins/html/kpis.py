"""The KPI section: bullet charts against each rule's thresholds and targets, and trends."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from . import svg
from .cohorts import cohort_heatmaps
from .common import (
    SEVERITY_ORDER,
    _overall,
    figure,
    numeric_col,
)
from .svg import fmt

_NUMBER = r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_THRESHOLDS = (
    # as written in a pack: "value < 30"
    re.compile(r"^\s*value\s*(<=|<|>=|>)\s*" + _NUMBER + r"\s*$", re.IGNORECASE),
    # as Polars prints the compiled expression: [(col("value")) < (dyn int: 30)]
    re.compile(
        r'^\[?\(col\("value"\)\) (<=|<|>=|>) \((?:dyn )?(?:int|float|i\d+|f\d+):? ?'
        + _NUMBER
        + r"\)\]?$"
    ),
)


def _parse_threshold(text: str | None) -> tuple[str, float] | None:
    """``"value < 30"`` → ``("<", 30.0)``; anything more complex → None (no band drawn)."""
    if not text:
        return None
    for pattern in _THRESHOLDS:
        m = pattern.match(text.strip())
        if m:
            return m.group(1), float(m.group(2))
    return None


def _axis_unit(unit: object) -> str | None:
    """The bullet chart's axis from the KPI table's ``unit`` column: a share ("share of ...")
    may use the whole 0..1 axis; anything else (points, hours, a ratio, a mean) is absolute."""
    if not unit:
        return None
    return None if str(unit).startswith("share") else "abs"


def _rule_thresholds(result: Any, rule_id: str | None) -> dict[str, tuple[str, float]]:
    """The rule's numeric ``warn``/``fail`` thresholds on ``value``, where they are simple."""
    out: dict[str, tuple[str, float]] = {}
    findings = getattr(result, "findings", None)
    if isinstance(findings, pl.DataFrame) and {"rule_id", "severity", "threshold"} <= set(
        findings.columns
    ):
        hits = findings.filter(
            (pl.col("rule_id") == rule_id) & pl.col("severity").is_in(["warn", "fail"])
        )
        for sev, text in hits.select("severity", "threshold").unique().iter_rows():
            parsed = _parse_threshold(text)
            if parsed:
                out.setdefault(sev, parsed)
    for r in getattr(result, "rules", []) or []:
        if getattr(r, "id", None) == rule_id:
            for sev, text in (getattr(r, "conditions", {}) or {}).items():
                parsed = _parse_threshold(text)
                if parsed and sev in ("warn", "fail"):
                    out.setdefault(sev, parsed)
    return out


KPI_COLUMNS = frozenset({"metric", "subject", "value"})


def kpi_tables(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    """Names of the KPI tables: ``kpis`` and any other table with the kpi kind's columns."""
    return [n for n, df in tables.items() if n == "kpis" or KPI_COLUMNS <= set(df.columns)]


def _kpi_section(tables: Mapping[str, pl.DataFrame], result: Any) -> list[str]:
    frames = [tables[n] for n in kpi_tables(tables)]
    if not frames:
        return []
    df = pl.concat(frames, how="diagonal_relaxed")
    value = numeric_col(df, "value")
    if not value:
        return [svg.empty("kpis: no value column")]
    thresholds: dict[str | None, dict[str, tuple[str, float]]] = {}
    findings = getattr(result, "findings", None)
    worst: dict[tuple[str, str], str] = {}
    if (
        isinstance(findings, pl.DataFrame)
        and findings.height
        and {"rule_id", "subject", "severity"} <= set(findings.columns)
    ):
        rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
        for rid, subj, sev in findings.select("rule_id", "subject", "severity").iter_rows():
            key = (str(rid), str(subj))
            if key not in worst or rank.get(sev, 9) < rank.get(worst[key], 9):
                worst[key] = sev
    overall = _overall(df)
    rows = []
    for r in overall.iter_rows(named=True):
        rid = str(r.get("rule_id") or "")
        metric = r.get("metric") or ""
        subject = r.get("subject") or "overall"
        if rid not in thresholds:
            thresholds[rid] = _rule_thresholds(result, rid)
        warn, fail = thresholds[rid].get("warn"), thresholds[rid].get("fail")
        hib = None
        for t in (warn, fail):
            if t:
                hib = t[0].startswith("<")  # "value < x" is bad → higher is better
        if hib is None and r.get("target") is not None and r.get("meets_target") is not None:
            hib = (
                (r[value] >= r["target"]) == bool(r["meets_target"])
                if r[value] is not None
                else None
            )
        status = worst.get((rid, str(subject)))
        if status is None and r.get("meets_target") is not None:
            status = "pass" if r["meets_target"] else "warn"
        if status is None and (warn or fail):
            status = "pass"
        label = rid if not metric or metric == rid else f"{rid} ({metric})"
        if subject not in ("overall", None):
            label += f" · {subject}"
        rows.append(
            {
                "label": label, "value": r[value], "lower": r.get("ci_low"), "upper": r.get("ci_high"),
                "target": r.get("target"), "warn": warn[1] if warn else None, "fail": fail[1] if fail else None,
                "status": status, "higher_is_better": hib if hib is not None else True,
                "unit": _axis_unit(r.get("unit")),
            }
        )  # fmt: skip
    out = [figure(svg.bullet_chart(rows, title="KPIs against thresholds", width=900),
                  "Bar: value (whisker: confidence interval); black tick: target; bands: fail / warn / pass zones from the rule's thresholds.", wide=True)]  # fmt: skip
    # Per-period trends (one line per rule), when the KPIs were computed per period.
    if "period" in df.columns and df["period"].null_count() < df.height:
        per = df.filter(pl.col("period").is_not_null())
        if "segment" in per.columns:
            per = per.filter(pl.col("segment").is_null())
        if per.height:
            for rid in (
                per["rule_id"].unique(maintain_order=True).to_list()
                if "rule_id" in per.columns
                else [None]
            ):
                part = per.filter(pl.col("rule_id") == rid) if rid is not None else per
                part = part.sort("period")
                if part.height < 2:
                    continue
                if rid not in thresholds:
                    thresholds[rid] = _rule_thresholds(result, rid)
                bands = [
                    (t[1], svg.SEVERITY_COLOURS[sev], f"{sev} {t[0]} {fmt(t[1])}")
                    for sev, t in sorted(thresholds[rid].items())
                ]
                target = part["target"].drop_nulls() if "target" in part.columns else None
                if target is not None and target.len() and all(b[0] != target[0] for b in bands):
                    bands.append((target[0], "#111111", f"target {fmt(target[0])}"))
                labels = [
                    p.strftime("%Y-%m") if isinstance(p, dt.date) else str(p)
                    for p in part["period"].to_list()
                ]
                chart = svg.line_chart(
                    labels,
                    part[value].to_list(),
                    title=f"{rid or 'KPI'} per period",
                    y_label=str(part["metric"][0]) if "metric" in part.columns else value,
                    bands=bands,
                )
                out.append(figure(chart))
    return out + cohort_heatmaps(tables)
