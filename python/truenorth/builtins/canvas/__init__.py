"""The ``canvas`` rule kind: a Business Model Canvas in YAML, checked for consistency.

The format and its loader are in :mod:`.model`, the checks in :mod:`.checks` (pure); this module
is the rule-kind wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import polars as pl
from pydantic import Field

from truenorth import Options, Rule, RuleContext, RuleKind, RuleOutput, hookimpl
from truenorth.errors import PackError

from .checks import (
    COVERAGE_SCHEMA,
    SEGMENT_KPIS_SCHEMA,
    SEGMENTS_SCHEMA,
    Issue,
    check_canvas,
    segment_kpis,
)
from .model import Canvas, LoadedCanvas, load_canvas, load_canvas_text

__all__ = [
    "DOC",
    "KIND",
    "Canvas",
    "CanvasOptions",
    "Issue",
    "LoadedCanvas",
    "check_canvas",
    "load_canvas",
    "load_canvas_text",
    "segment_kpis",
]


class CanvasOptions(Options):
    path: str = Field(description="The canvas YAML file, relative to the pack.")
    segments: str | None = Field(
        default=None,
        description="Table of data segments (columns segment, customers (or n_customers, "
        "size, count), clv_total (or clv_sum), clv_mean (or mean_clv)). "
        "When set the rule waits for it; when unset a table named `segments` is used if it "
        "exists by the time the rule runs.",
    )
    segment_column: str = Field(
        default="segment", description="Column of the segments table holding segment names."
    )
    touchpoints: str | None = Field(
        default=None,
        description="Table with a `touchpoint` column (journey touchpoints). When unset a "
        "table named `touchpoints` is used if it exists by the time the rule runs.",
    )
    kpis: list[str] = Field(
        default=[],
        description="KPI tables (of kpi rules with `by: segment`) to attach to canvas segments "
        "in `canvas_segment_kpis`; the rule waits for them.",
    )
    vpc_priority: Literal["high", "medium", "low"] = Field(
        default="high",
        description="Pains and gains at or above this priority need a reliever / creator.",
    )


def _optional(ctx: RuleContext, name: str | None, default: str) -> tuple[pl.DataFrame | None, str]:
    table = name or default
    if name is not None or ctx.has_table(table):
        return ctx.table(table).collect(), table
    return None, table


def evaluate(ctx: RuleContext[CanvasOptions]) -> RuleOutput:
    o = ctx.rule.options
    loaded = load_canvas(ctx.resolve_path(o.path))
    segments, seg_name = _optional(ctx, o.segments, "segments")
    touch, touch_name = _optional(ctx, o.touchpoints, "touchpoints")
    coverage, seg_table, issues = check_canvas(
        loaded,
        segments=segments,
        touchpoints=touch,
        vpc_priority=o.vpc_priority,
        segment_column=o.segment_column,
        source_segments=seg_name,
        source_touchpoints=touch_name,
    )
    findings = [
        ctx.finding(
            i.subject,
            i.message,
            evidence={"check": i.check, **i.evidence},
        )
        for i in issues
    ]
    if ctx.rule.warn or ctx.rule.fail:
        findings += ctx.check_thresholds(
            coverage.filter(pl.col("coverage").is_not_null()), value="coverage", subject="block"
        )
    kpis = segment_kpis(loaded, {t: ctx.table(t).collect() for t in o.kpis})
    return RuleOutput(
        tables={
            "canvas_coverage": coverage,
            "canvas_segments": seg_table,
            "canvas_segment_kpis": kpis,
        },
        findings=findings,
    )


def reads(o: CanvasOptions, rule: Rule) -> Sequence[str]:
    return [t for t in (o.segments, o.touchpoints, *o.kpis) if t]


def writes(
    o: CanvasOptions, rule: Rule[CanvasOptions]
) -> Mapping[str, Mapping[str, pl.DataType | type[pl.DataType]]]:
    return {
        "canvas_coverage": COVERAGE_SCHEMA,
        "canvas_segments": SEGMENTS_SCHEMA,
        "canvas_segment_kpis": SEGMENT_KPIS_SCHEMA,
    }


def validate(o: Any, rule: Rule, vctx: Any) -> None:
    """Load-time checks: the canvas file itself (it is part of the pack, not data, so
    `truenorth validate` reports its problems at their file:line:column), and the rule's
    warn/fail conditions name columns of the table they test."""
    path = vctx.resolve_path(o.path)
    if not path.is_file():
        vctx.error(
            f"canvas file {o.path!r} not found (looked for {path})",
            at=("with", "path"),
            expected="a canvas YAML file, relative to the pack",
        )
    else:
        try:
            load_canvas(path)
        except PackError as exc:
            vctx.report(exc.problems)
    for field in ("warn", "fail"):
        text = getattr(rule, field)
        if text is not None:
            vctx.condition(text, at=(field,), table="canvas_coverage")


DOC = """\
Checks a Business Model Canvas kept as YAML (DOMAIN.md §4) for consistency, and links it to
the run's data. Option `path:` names the canvas file (relative to the pack).

The canvas format (`canvas: 1`; ids are unique across the whole file; unknown keys, duplicate
ids and links to unknown or wrong-kind ids are errors at file:line:column):

```yaml
canvas: 1
name: Acme Analytics
customer_segments:
  - id: smb
    name: Small businesses
    data_segment: [loyal, champions]   # segment names in the `segments` table (default: id)
    jobs:  [{id: report, name: Report monthly numbers, priority: high}]
    pains: [{id: setup-pain, name: Setup takes weeks, priority: high}]
    gains: [{id: insight, name: Actionable insight, priority: medium}]
value_propositions:
  - id: fast-setup
    name: Live in a day
    serves: [smb]                        # customer segment ids
    pain_relievers: [{id: templates, name: Templates, relieves: [setup-pain]}]
    gain_creators:  [{id: alerts, name: Alerts, creates: [insight]}]
channels:
  - {id: web, name: Website, delivers: [fast-setup], reaches: [smb], touchpoints: [site, app]}
customer_relationships:
  - {id: self-serve, name: Self service, with: [smb], touchpoints: [help-center]}
revenue_streams:
  - {id: subscription, name: Subscriptions, from: [smb]}
key_activities:
  - {id: dev, name: Product development, supports: [fast-setup]}
key_resources:
  - {id: platform, name: Platform, supports: [fast-setup]}
key_partnerships:
  - {id: cloud, name: Cloud provider, provides: [platform]}
cost_structure:
  - {id: salaries, name: Salaries, for: [dev]}
  - {id: hosting, name: Hosting, for: [platform, cloud]}
```

Items have `id`, `name` and optional `description`; jobs/pains/gains have `priority`
(high / medium / low, default medium).

Findings, at the rule's `severity` (default warn), each naming the canvas item and its
file:line:column (data-side ones name the data segment or touchpoint); evidence carries `check`:
segment_links (a segment without a value proposition, channel, relationship or revenue stream),
value_proposition_links (serves no segment / supported by no key activity or resource),
resource_links (a key activity or resource that supports nothing or is in no cost),
cost_links, channel_links, relationship_links, revenue_links, partner_links,
vpc_pain / vpc_gain (a pain or gain at or above `vpc_priority` with no reliever / creator in a
value proposition serving its segment), segment_without_data / data_segment_ignored (canvas vs
the `segments` table), touchpoint_without_data / touchpoint_unmapped (channels and
relationships vs the `touchpoint` column of a `touchpoints` table). `warn:`/`fail:` conditions
are checked on each row of the coverage table (columns coverage, items, linked, unlinked; the
finding's subject is the block), e.g. `warn: "coverage < 1"`.

Tables: `canvas_coverage` (block, items, linked, unlinked, coverage, unlinked_items),
`canvas_segments` (segment, name, data_segments, customers, clv_total, clv_mean,
value_propositions, has_data) and `canvas_segment_kpis` (segment, table, metric, value, n,
data_segments): the per-segment rows of the KPI tables named in `kpis:` (kpi rules with
`by: segment`), mapped to canvas segments and combined as n-weighted means (exact for NPS, CSAT,
CES, shares, means, churn and CAC; approximate for medians).

```yaml
- id: canvas
  kind: canvas
  with: {path: canvas.yaml, segments: segments, touchpoints: touchpoints, kpis: [kpi_nps]}
  warn: "coverage < 1"
```
"""

KIND = RuleKind(
    name="canvas",
    options_model=CanvasOptions,
    evaluate=evaluate,
    reads=reads,
    writes=writes,
    summary="Business Model Canvas consistency, Value Proposition Canvas fit, links to data",
    doc=DOC,
    validate=validate,
    examples=(DOC.split("```yaml\n")[-1].split("```")[0].strip(),),
)


@hookimpl
def register_rule_kinds(register: Callable[[RuleKind], None]) -> None:
    register(KIND)
