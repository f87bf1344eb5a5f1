"""The ``kpi`` rule kind: customer-value KPIs with thresholds, targets and benchmarks.

Each metric is one options class (see :mod:`.options`) that carries its label, unit, inputs
and compute function; its math lives with it in the module of its concept. This module is the
thin rule-kind wrapper, the same for every metric. See ``DOC`` for the options and the
canonical input columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from truenorth import Finding, Rule, RuleContext, RuleKind, RuleOutput, hookimpl

# The metric modules register their options classes when imported, in this order (the order
# of the metrics in the docs and the options schema).
from . import survey  # noqa: F401

# isort: split
from . import lifecycle  # noqa: F401

# isort: split
from . import acquisition  # noqa: F401

# isort: split
from . import support  # noqa: F401

# isort: split
from . import health  # noqa: F401

# isort: split
from .core import KPI_SCHEMA, Schema, finish
from .options import Baseline, KpiInputs, KpiOptions, metric_models

__all__ = ["DOC", "KIND", "KpiOptions", "compute_tables", "register_rule_kinds"]


def compute_tables(
    o: KpiOptions,
    table: Callable[[str], pl.LazyFrame],
    has_table: Callable[[str], bool],
    *,
    rule_id: str = "kpi",
    warn: str | None = None,
    fail: str | None = None,
) -> dict[str, pl.DataFrame]:
    """Compute the rule's tables (``kpis`` and, per metric, ``cohort_retention`` or
    ``health_scores``) from the input tables. Pure apart from reading through ``table``."""
    computed = o.compute(KpiInputs(table, has_table, rule_id))
    b = o.benchmark
    bench = (b.period if b.period != "previous" else None) if isinstance(b, Baseline) else b
    kpis = finish(
        computed.rows,
        rule_id=rule_id,
        metric=o.metric,
        benchmark=bench,
        target=o.effective_target(),
        higher_is_better=type(o).higher_is_better,
        unit=o.unit(),
        warn=warn,
        fail=fail,
        baseline_segment=b.segment if isinstance(b, Baseline) else None,
        previous=isinstance(b, Baseline) and b.period == "previous",
        confidence=b.confidence if isinstance(b, Baseline) else 0.95,
    )
    return {o.table: kpis, **computed.tables}


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def target_findings(
    ctx: RuleContext[KpiOptions], o: KpiOptions, kpis: pl.DataFrame
) -> list[Finding]:
    """One finding per row that misses the target (used when the rule has no warn/fail)."""
    label = type(o).label
    side = "at least" if type(o).higher_is_better else "below"
    out = []
    for row in kpis.filter(pl.col("meets_target").not_()).iter_rows(named=True):
        out.append(
            ctx.finding(
                row["subject"],
                f"{label} {_fmt(row['value'])} for {row['subject']} misses the target "
                f"({side} {_fmt(row['target'])}; n={row['n']})",
                value=row["value"],
                threshold=f"target {side} {row['target']:g}",
                evidence={
                    k: row[k]
                    for k in ("metric", "n", "ci_low", "ci_high", "benchmark", "delta", "target")
                    if row[k] is not None
                },
            )
        )
    return out


def evaluate(ctx: RuleContext[KpiOptions]) -> RuleOutput:
    o = ctx.rule.options
    tables = compute_tables(
        o, ctx.table, ctx.has_table, rule_id=ctx.rule.id, warn=ctx.rule.warn, fail=ctx.rule.fail
    )
    kpis = tables[o.table]
    if ctx.rule.warn or ctx.rule.fail:
        findings = ctx.check_thresholds(kpis.filter(pl.col("value").is_not_null()))
    else:
        findings = target_findings(ctx, o, kpis)
    findings = [*findings, *_no_data_findings(ctx, kpis)]
    return RuleOutput(tables=dict(tables), findings=findings)


def _no_data_findings(ctx: RuleContext[KpiOptions], kpis: pl.DataFrame) -> list[Finding]:
    """A warn finding when the overall KPI could not be computed (e.g. no survey answers).

    Without it an empty or all-blank input passes every threshold silently: the thresholds
    are only checked on computed values.
    """
    if "subject" not in kpis.columns or "value" not in kpis.columns:
        return []
    empty = kpis.filter((pl.col("subject") == "overall") & pl.col("value").is_null())
    out = []
    for row in empty.iter_rows(named=True):
        metric = row.get("metric") or ctx.rule.id
        n = row.get("n")
        out.append(
            ctx.finding(
                "overall",
                f"{metric}: no value could be computed (n={n if n is not None else 0}); "
                "its thresholds were not checked — is the input empty?",
                severity="warn",
                evidence={"metric": metric, "n": n},
            )
        )
    return out


def reads(o: KpiOptions, rule: Rule[KpiOptions]) -> Sequence[str]:
    return o.inputs()


def writes(o: KpiOptions, rule: Rule[KpiOptions]) -> Mapping[str, Schema]:
    return {o.table: KPI_SCHEMA, **o.extra_tables()}


def validate(o: KpiOptions, rule: Rule[KpiOptions], vctx: Any) -> None:
    """Load-time check: the rule's warn/fail conditions name columns of the table they test."""
    for field in ("warn", "fail"):
        text = getattr(rule, field)
        if text is not None:
            vctx.condition(text, at=(field,), table=o.table)


DOC = """\
Customer-value KPIs (DOMAIN.md §5), overall and, when asked, per segment (`by: COLUMN`) and per
calendar period (`period: 1mo` on the `time` column; also 1d, 1w, 1q, 1y; weeks start on
Monday, months, quarters and years on the 1st; rows without a time count overall and per segment
but in no period). Writes the table
`kpis`, one row per subject:

    rule_id, metric, subject ("overall" | segment | period date | "segment @ date"), segment,
    period, value, n, ci_low, ci_high, benchmark, delta (= value - benchmark), delta_ci_low,
    delta_ci_high, p_value, significant (against a baseline), target,
    meets_target, unit (what the value means, e.g. "share of answers 4-5 on 1-5"), warn, fail
    (the rule's conditions, for reports)

Findings: the rule's `warn:`/`fail:` conditions are checked on every row (columns value, n,
delta, ci_low, ...; e.g. `warn: "value < 30"`, `fail: "delta < -5"`). A rule with neither
gets one finding per row that misses the metric's `target` (defaults follow the seeds: CSAT
0.9, first response time < 2 hours, health score 7/10, CLV:CAC 3; set `target: null` to
silence). `benchmark:` is a number, or a baseline each row is compared with: `{period:
2026-01-01}` (the same segment in that period), `{period: previous}` (the same segment in the
period before) or `{segment: north}` (that segment in the same period). Against a baseline,
rows that are samples disjoint from it also get a test of the difference: `delta_ci_low`,
`delta_ci_high`, `p_value` and `significant` (p < 1 - `confidence`, default 0.95) — the
two-proportion z test for shares (CSAT/CES top box, churn, FCR), the difference of two NPS
(variance: the sum of both), Welch's t test for means (CES, CSAT mean, health score). Gate
findings on both size and significance, e.g. `warn: "significant AND delta < -5"`.

Metrics (`metric:`) and canonical input columns (the engine renames dataset columns to these;
`column`, `time`, `by`, `customer` options name others):

{metric_table}

(*) With `table: NAME` other than `kpis`, these tables are named `NAME_cohort_retention` and
`NAME_health_scores`.

Bad values are errors naming the source, column, 1-based data row and value (an NPS of 11, a
CSAT of 0, a response before its ticket). Survey answers that are null count as no answer.

Each rule writes one KPI table (`table:`, default `kpis`); a table has one creating rule, so
several kpi rules in a pack need distinct names (e.g. `kpi_nps`, `kpi_csat`).

Examples:

```yaml
- id: nps
  kind: kpi
  with: {metric: nps, source: survey, by: region, period: 1mo, ci: adjusted_wald,
         benchmark: {period: previous}, table: kpi_nps}
  warn: "value < 30 OR (significant AND delta < -5)"
  fail: "value < 0"
- id: csat
  kind: kpi
  with: {metric: csat, source: survey, column: csat, table: kpi_csat}   # target 0.9
- id: response
  kind: kpi
  with: {metric: first_response_time, source: tickets, period: 1w, table: kpi_response}
  warn: "value >= 2"
- id: churn
  kind: kpi
  with: {metric: churn, source: subscriptions, period: 1mo, by: plan, table: kpi_churn}
  warn: "value > 0.05"
- id: health
  kind: kpi
  with:
    metric: health_score
    source: accounts
    table: kpi_health         # also writes kpi_health_health_scores
    components:
      nps: {weight: 2, min: 0, max: 10}
      logins_per_week: {weight: 1, min: 0, max: 5}
      open_tickets: {weight: 1, min: 0, max: 10, higher_is_better: false}
    missing: skip             # or zero / error
    bands: {red: 0, amber: 4, green: 7}
  warn: "value < 7"
```
"""


def _options_reference() -> str:
    """Per-metric option list, generated from the pydantic models (shown by `truenorth kinds`)."""
    from typing import get_args

    def show(name: str, info: object) -> str:
        default = getattr(info, "default", None)
        required = getattr(info, "is_required", lambda: False)()
        ann = getattr(info, "annotation", None)
        choices = [a for a in get_args(ann) if isinstance(a, str)]
        text = name + (
            " (required)" if required else f"={default!r}" if default is not None else ""
        )
        return text + (f" [{' | '.join(choices)}]" if choices and len(choices) > 1 else "")

    common = set(KpiOptions.model_fields) - {"metric"}
    lines = [
        "Options of every metric: "
        + ", ".join(
            show(n, KpiOptions.model_fields[n]) for n in KpiOptions.model_fields if n in common
        )
        + ".",
        "",
        "Options per metric (besides those):",
        "",
    ]
    for model in metric_models():
        fields = model.model_fields
        own = [n for n in fields if n not in common and n != "metric"]
        changed = [n for n in common if fields[n].default != KpiOptions.model_fields[n].default]
        metric = fields["metric"].default
        parts = [show(n, fields[n]) for n in own] + [
            f"{n}={fields[n].default!r} (default here)" for n in sorted(changed)
        ]
        lines.append(f"- {metric}: " + (", ".join(parts) if parts else "(none)"))
    return "\n".join(lines)


def _metric_table() -> str:
    """The metrics table of the docs, one row per metric class (its ``doc_row``)."""
    rows = ["| metric | source (default) | columns | value |", "|---|---|---|---|"]
    for model in metric_models():
        metric = model.model_fields["metric"].default
        rows.append("| " + " | ".join((metric, *model.doc_row)) + " |")
    return "\n".join(rows)


DOC = DOC.replace("{metric_table}", _metric_table()) + "\n" + _options_reference() + "\n"


KIND = RuleKind(
    name="kpi",
    options_model=KpiOptions,
    evaluate=evaluate,
    reads=reads,
    writes=writes,
    summary="Customer-value KPIs (NPS, CSAT, CES, churn, CAC, health score, ...) vs thresholds",
    doc=DOC,
    validate=validate,
    examples=tuple(
        "- " + part.strip().removeprefix("- ")
        for part in DOC.split("```yaml\n")[1].split("```")[0].split("\n- ")
        if part.strip()
    ),
)


@hookimpl
def register_rule_kinds(register: Callable[[RuleKind[Any]], None]) -> None:
    register(KIND)
