"""The ``kpi`` rule kind: customer-value KPIs with thresholds, targets and benchmarks.

The math lives in :mod:`.compute` (pure functions over Polars frames); this module is the thin
rule-kind wrapper. See ``DOC`` for the options and the canonical input columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from truenorth import Finding, Rule, RuleContext, RuleKind, RuleOutput, hookimpl

from . import compute as c
from .options import (
    Baseline,
    CacOptions,
    CacPaybackOptions,
    CesOptions,
    ChurnOptions,
    ClvCacOptions,
    CohortRetentionOptions,
    CsatOptions,
    EngagementRateOptions,
    FirstContactResolutionOptions,
    FirstResponseTimeOptions,
    HealthScoreOptions,
    KpiOptions,
    NpsOptions,
    ReferralRateOptions,
    RetentionOptions,
)

__all__ = ["DOC", "KIND", "KpiOptions", "compute_tables", "register_rule_kinds"]

LABELS = {
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "churn": "churn rate",
    "retention": "retention rate",
    "cohort_retention": "cohort retention",
    "cac": "CAC",
    "clv_cac": "CLV:CAC",
    "cac_payback": "CAC payback (months)",
    "first_response_time": "first response time (hours)",
    "first_contact_resolution": "first contact resolution",
    "referral_rate": "referral rate",
    "engagement_rate": "engagement rate",
    "health_score": "health score",
}


def extra_table(o: KpiOptions, base: str) -> str:
    """Name of a metric's second table: ``base`` with the default ``table: kpis``, else
    ``<table>_<base>`` (so two cohort or health rules writing distinct KPI tables don't clash)."""
    return base if o.table == "kpis" else f"{o.table}_{base}"


def unit(o: KpiOptions) -> str:
    """What a value means, stored with the data (e.g. the answer scale of CSAT and CES)."""
    if isinstance(o, NpsOptions):
        return "NPS points (-100..100) on 0-10 answers"
    if isinstance(o, CsatOptions | CesOptions):
        lo, hi = o.scale
        cut = o.satisfied_at if isinstance(o, CsatOptions) else o.agree_at
        if o.method == "mean":
            return f"mean answer on {lo}-{hi}"
        return f"share of answers {cut}-{hi} on {lo}-{hi}"
    if isinstance(o, HealthScoreOptions):
        return f"mean score on 0-{o.scale}"
    return {
        "churn": f"share lost per {o.period}",
        "retention": f"share retained per {o.period}",
        "cohort_retention": f"share retained after {getattr(o, 'age', 1)} x {o.period}",
        "cac": "cost per new customer",
        "clv_cac": "ratio",
        "cac_payback": "months",
        "first_response_time": f"hours ({getattr(o, 'statistic', 'median')})",
        "first_contact_resolution": "share",
        "referral_rate": "share",
        "engagement_rate": f"share of active customers engaged per {o.period}",
    }[o.metric]


def _target(o: KpiOptions) -> float | None:
    if isinstance(o, HealthScoreOptions) and o.target is None:
        return 0.7 * o.scale
    return o.target


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
    extra: dict[str, pl.DataFrame] = {}
    g = c.Grouping(by=o.by, period=o.period, time=o.time)
    if isinstance(o, NpsOptions):
        rows = c.nps(
            table(o.source),
            column=o.column,
            grouping=g,
            ci=o.ci,
            confidence=o.confidence,
            source=o.source,
        )
    elif isinstance(o, CsatOptions):
        rows = c.csat(
            table(o.source),
            column=o.column,
            grouping=g,
            method=o.method,
            scale=o.scale,
            satisfied_at=o.satisfied_at,
            ci=o.ci,
            confidence=o.confidence,
            source=o.source,
        )
    elif isinstance(o, CesOptions):
        rows = c.ces(
            table(o.source),
            column=o.column,
            grouping=g,
            method=o.method,
            scale=o.scale,
            agree_at=o.agree_at,
            ci=o.ci,
            confidence=o.confidence,
            source=o.source,
        )
    elif isinstance(o, ChurnOptions | RetentionOptions):
        rows = c.churn_retention(
            table(o.source),
            metric=o.metric,
            period=o.period or "1mo",
            by=o.by,
            since=o.since,
            until=o.until,
            source=o.source,
        )
    elif isinstance(o, CohortRetentionOptions):
        curves = c.cohort_table(
            table(o.source), basis=o.basis, period=o.period or "1mo", by=o.by, source=o.source
        )
        extra[extra_table(o, "cohort_retention")] = curves.select(
            pl.lit(rule_id, pl.String).alias("rule_id"), *curves.columns
        ).cast(c.COHORT_SCHEMA)  # type: ignore[arg-type]
        rows = c.cohort_kpis(curves, age=o.age, by=o.by is not None)
    elif isinstance(o, CacOptions):
        rows = c.cac(table(o.source), grouping=g, source=o.source)
    elif isinstance(o, ClvCacOptions):
        rows = c.clv_cac(
            table(o.source) if o.clv is None and has_table(o.source) else None,
            table(o.acquisition) if o.cac is None and has_table(o.acquisition) else None,
            by=o.by,
            clv=o.clv,
            cac_value=o.cac,
            source=o.source,
            acquisition_source=o.acquisition,
        )
    elif isinstance(o, CacPaybackOptions):
        rows = c.cac_payback(
            table(o.source) if o.arpa is None and has_table(o.source) else None,
            table(o.acquisition) if o.cac is None and has_table(o.acquisition) else None,
            gross_margin=o.gross_margin,
            by=o.by,
            cac_value=o.cac,
            arpa=o.arpa,
            source=o.source,
            acquisition_source=o.acquisition,
        )
    elif isinstance(o, FirstResponseTimeOptions):
        rows = c.first_response_time(
            table(o.source), grouping=g, statistic=o.statistic, source=o.source
        )
    elif isinstance(o, FirstContactResolutionOptions):
        rows = c.first_contact_resolution(
            table(o.source),
            grouping=g,
            denominator=o.denominator,
            ci=o.ci,
            confidence=o.confidence,
            source=o.source,
        )
    elif isinstance(o, EngagementRateOptions):
        rows = c.engagement_rate(
            table(o.source),
            table(o.base),
            period=o.period or "1mo",
            by=o.by,
            min_events=o.min_events,
            ci=o.ci,
            confidence=o.confidence,
            source=o.source,
            base_source=o.base,
        )
    elif isinstance(o, ReferralRateOptions):
        rows = c.referral_rate(
            table(o.source), grouping=g, ci=o.ci, confidence=o.confidence, source=o.source
        )
    elif isinstance(o, HealthScoreOptions):
        comps = [
            c.HealthComponent(col, x.weight, x.min, x.max, x.higher_is_better)
            for col, x in o.components.items()
        ]
        scores = c.health_scores(
            table(o.source),
            comps,
            customer=o.customer,
            by=o.by,
            scale=o.scale,
            bands=dict(o.bands),
            missing=o.missing,
            source=o.source,
        )
        extra[extra_table(o, "health_scores")] = scores.select(
            pl.lit(rule_id, pl.String).alias("rule_id"), *scores.columns
        ).cast(c.HEALTH_SCHEMA)  # type: ignore[arg-type]
        rows = c.health_kpis(scores, by=o.by is not None)
    else:  # pragma: no cover - the options union is closed
        raise TypeError(f"unknown KPI options {type(o).__name__}")
    bench = o.benchmark.period if isinstance(o.benchmark, Baseline) else o.benchmark
    kpis = c.finish(
        rows,
        rule_id=rule_id,
        metric=o.metric,
        benchmark=bench,
        target=_target(o),
        higher_is_better=type(o).higher_is_better,
        unit=unit(o),
        warn=warn,
        fail=fail,
    )
    return {o.table: kpis, **extra}


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def target_findings(ctx: RuleContext, o: KpiOptions, kpis: pl.DataFrame) -> list[Finding]:
    """One finding per row that misses the target (used when the rule has no warn/fail)."""
    label = LABELS[o.metric]
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


def evaluate(ctx: RuleContext) -> RuleOutput:
    o = ctx.rule.options
    assert isinstance(o, KpiOptions)
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


def _no_data_findings(ctx: RuleContext, kpis: pl.DataFrame) -> list:
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


def reads(o: KpiOptions, rule: Rule) -> Sequence[str]:  # type: ignore[override]
    if isinstance(o, ClvCacOptions):
        return [*([o.source] if o.clv is None else []), *([o.acquisition] if o.cac is None else [])]
    if isinstance(o, CacPaybackOptions):
        return [
            *([o.source] if o.arpa is None else []),
            *([o.acquisition] if o.cac is None else []),
        ]
    if isinstance(o, EngagementRateOptions):
        return [o.source, o.base]
    return [o.source]  # type: ignore[attr-defined]


def writes(o: KpiOptions, rule: Rule) -> Mapping[str, Mapping[str, object]]:  # type: ignore[override]
    out: dict[str, Mapping[str, object]] = {o.table: c.KPI_SCHEMA}
    if isinstance(o, CohortRetentionOptions):
        out[extra_table(o, "cohort_retention")] = c.COHORT_SCHEMA
    if isinstance(o, HealthScoreOptions):
        out[extra_table(o, "health_scores")] = c.HEALTH_SCHEMA
    return out


def validate(o: Any, rule: Rule, vctx: Any) -> None:
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
    period, value, n, ci_low, ci_high, benchmark, delta (= value - benchmark), target,
    meets_target, unit (what the value means, e.g. "share of answers 4-5 on 1-5"), warn, fail
    (the rule's conditions, for reports)

Findings: the rule's `warn:`/`fail:` conditions are checked on every row (columns value, n,
delta, ci_low, ...; e.g. `warn: "value < 30"`, `fail: "delta < -5"`). A rule with neither
gets one finding per row that misses the metric's `target` (defaults follow the seeds: CSAT
0.9, first response time < 2 hours, health score 7/10, CLV:CAC 3; set `target: null` to
silence). `benchmark:` is a number or `{period: 2026-01-01}` (a baseline period: each row is
compared with the same segment in that period).

Metrics (`metric:`) and canonical input columns (the engine renames dataset columns to these;
`column`, `time`, `by`, `customer` options name others):

| metric | source (default) | columns | value |
|---|---|---|---|
| nps | survey | score 0-10 | %promoters(9-10) - %detractors(0-6), points; CI `ci: wald / adjusted_wald / none` |
| csat | survey | score 1-5 | share >= `satisfied_at` (4) or `method: mean` |
| ces | survey | score 1-7 | mean, or `method: share` (>= `agree_at` 5) |
| churn | subscriptions | customer, start, end (null = active) | lost in period / at its start (new excluded) |
| retention | subscriptions | start, end | (at end - new) / at start |
| cohort_retention | transactions | customer, time (`basis: activity`) or start, end | retention at `age`; table `cohort_retention` (*) |
| cac | acquisition | cost, new_customers | sum(cost) / sum(new_customers) |
| clv_cac | customers + acquisition | clv; cost, new_customers | mean CLV / CAC (`clv:`/`cac:` fix either) |
| cac_payback | transactions + acquisition | customer, time, amount | CAC / (monthly revenue per account x `gross_margin`) |
| first_response_time | tickets | created, first_response (or response_hours) | median hours (`statistic: mean / p90`) |
| first_contact_resolution | tickets | contacts, resolved (optional) | share resolved in one contact |
| referral_rate | customers | referred (bool), start for `period` | share of customers referred |
| engagement_rate | events + subscriptions (`base`) | customer, time; customer, start, end | active customers with >= `min_events` events in the period / active customers |
| health_score | customers | customer + component columns | weighted mean of min-max normalised components; table `health_scores` (*) |

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
         benchmark: {period: 2026-01-01}, table: kpi_nps}
  warn: "value < 30 OR delta < -5"
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

    from .options import MetricOptions

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
    union = get_args(get_args(MetricOptions)[0])
    for model in union:
        fields = model.model_fields
        own = [n for n in fields if n not in common and n != "metric"]
        changed = [n for n in common if fields[n].default != KpiOptions.model_fields[n].default]
        metric = fields["metric"].default
        parts = [show(n, fields[n]) for n in own] + [
            f"{n}={fields[n].default!r} (default here)" for n in sorted(changed)
        ]
        lines.append(f"- {metric}: " + (", ".join(parts) if parts else "(none)"))
    return "\n".join(lines)


DOC = DOC + "\n" + _options_reference() + "\n"


KIND = RuleKind(
    name="kpi",
    options_model=KpiOptions,
    evaluate=evaluate,
    reads=reads,  # type: ignore[arg-type]
    writes=writes,  # type: ignore[arg-type]
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
def register_rule_kinds(register: Callable[[RuleKind], None]) -> None:
    register(KIND)
