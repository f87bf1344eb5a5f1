"""The ``maturity`` rule kind: staged customer-value maturity from ratings and run evidence.

The catalogue and ratings load in :mod:`.catalogue`, the run's evidence is rated in
:mod:`.evidence`, the staged levels are computed in :mod:`.assess` (all pure); the default
criteria ship in ``catalogue.yaml``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
from pydantic import Field

from truenorth import Options, Rule, RuleContext, RuleKind, RuleOutput, hookimpl

from .assess import EVIDENCE_SCHEMA, MATURITY_SCHEMA, assess
from .catalogue import (
    PROBES,
    RATINGS,
    Catalogue,
    Rating,
    load_catalogue,
    load_catalogue_text,
    load_ratings,
    load_ratings_text,
)
from .evidence import DEFAULT_TABLES, Run, derive_evidence

__all__ = [
    "DOC",
    "KIND",
    "PROBES",
    "RATINGS",
    "Catalogue",
    "MaturityOptions",
    "Rating",
    "Run",
    "assess",
    "derive_evidence",
    "load_catalogue",
    "load_catalogue_text",
    "load_ratings",
    "load_ratings_text",
]


class MaturityOptions(Options):
    ratings: str | None = Field(
        default=None,
        description="Assessor ratings, YAML (criterion: rating | {rating, evidence}) or CSV "
        "(criterion, rating, evidence), relative to the pack.",
    )
    catalogue: str | None = Field(
        default=None, description="Criteria catalogue YAML (default: truenorth's own)."
    )
    as_of: dt.date | None = Field(
        default=None, description="Assessment date for recency checks (default: today, UTC)."
    )
    recent_days: int = Field(
        default=90, gt=0, description="Feedback at most this old counts as recent."
    )
    tables: dict[str, list[str]] = Field(
        default={},
        description="Evidence group -> table names to look for (merged over the defaults: "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in DEFAULT_TABLES.items())
        + ").",
    )
    wait_for: list[str] = Field(
        default=[],
        description="Tables this rule must run after (declared reads), so evidence from other "
        "rules (kpis, segments, canvas_coverage, ...) exists when it runs.",
    )


def evaluate(ctx: RuleContext[MaturityOptions]) -> RuleOutput:
    o = ctx.rule.options
    cat = load_catalogue(ctx.resolve_path(o.catalogue) if o.catalogue else None)
    ratings = load_ratings(ctx.resolve_path(o.ratings), cat) if o.ratings else {}
    run = Run(ctx.has_table, ctx.table, {**DEFAULT_TABLES, **o.tables}, extra=o.wait_for)
    as_of = o.as_of or dt.datetime.now(dt.timezone.utc).date()
    derived = derive_evidence(run, as_of=as_of, recent_days=o.recent_days)
    table, evidence = assess(cat, ratings, derived)
    findings = gap_findings(ctx, cat, table, evidence)
    if ctx.rule.warn or ctx.rule.fail:
        findings += ctx.check_thresholds(
            table.with_columns(pl.col("level").cast(pl.Float64)),
            value="level",
            subject="dimension",
        )
    return RuleOutput(tables={"maturity": table, "maturity_evidence": evidence}, findings=findings)


def gap_findings(ctx: RuleContext, cat: Catalogue, table: pl.DataFrame, evidence: pl.DataFrame):
    """The overall level with its floor dimension(s), then each next-level gap (info)."""
    names = {int(k): v for k, v in cat.levels.items()}
    overall = int(table["level"].min())  # type: ignore[arg-type]
    floors = table.filter(pl.col("floor"))
    floor_txt = ", ".join(f"{r['name']} ({r['dimension']})" for r in floors.iter_rows(named=True))
    out = [
        ctx.finding(
            "overall",
            f"customer-value maturity is level {overall} ({names.get(overall, '?')}); floor "
            f"dimension{'s' if floors.height > 1 else ''}: {floor_txt}",
            severity="info",
            value=float(overall),
            evidence={
                "levels": dict(table.select("dimension", "level").iter_rows()),
                "floor": floors["dimension"].to_list(),
            },
        )
    ]
    gaps = evidence.join(
        table.select("dimension", pl.col("name").alias("dimension_name"), "next_level"),
        on="dimension",
    ).filter(
        (pl.col("level") == pl.col("next_level")) & (pl.col("rating").is_in(["not", "partially"]))
    )
    order = {d: i for i, d in enumerate(cat.dimensions)}
    rows = sorted(gaps.iter_rows(named=True), key=lambda r: (order[r["dimension"]], r["criterion"]))
    for r in rows:
        lvl = r["next_level"]
        out.append(
            ctx.finding(
                f"{r['dimension']}/{r['criterion']}",
                f"{r['dimension_name']}: to reach level {lvl} ({names.get(lvl, '?')}), "
                f'"{r["text"]}" must be at least largely; it is {r["rating"]} '
                f"({r['source']}: {r['evidence']})",
                severity="info",
                value=float(lvl),
                evidence={
                    k: r[k] for k in ("dimension", "criterion", "rating", "source", "evidence")
                },
            )
        )
    return out


def reads(o: MaturityOptions, rule: Rule) -> Sequence[str]:
    return list(o.wait_for)


def writes(
    o: MaturityOptions, rule: Rule[MaturityOptions]
) -> Mapping[str, Mapping[str, pl.DataType | type[pl.DataType]]]:
    return {"maturity": MATURITY_SCHEMA, "maturity_evidence": EVIDENCE_SCHEMA}


def validate(o: Any, rule: Rule, vctx: Any) -> None:
    """Load-time check: the rule's warn/fail conditions name columns of the table they test."""
    for field in ("warn", "fail"):
        text = getattr(rule, field)
        if text is not None:
            vctx.condition(text, at=(field,), table="maturity")


DOC = f"""\
Customer-value maturity (DOMAIN.md §6): five levels (1 ad-hoc, 2 initiating, 3 enabling,
4 optimizing, 5 leading) on six dimensions (customer research and feedback, product/service
design, customer experience management, value proposition, engagement and relationships,
continuous improvement), assessed *staged* as in CMMI. Each criterion of the catalogue belongs to
one dimension and one level (2-5) and is rated not / partially / largely / fully; a dimension is
at level L when every criterion at levels 2..L is at least "largely". The overall level is the
lowest dimension level; the dimensions at it are the floor.

Ratings come from an assessor file (`ratings:`) and from evidence derived from the run itself;
an assessor rating wins (the derived evidence is kept next to it). Unrated criteria without a
probe count as "not". Probes (a criterion's `derive:`): {", ".join(PROBES)}. They look for
tables by group (`tables:` overrides): feedback datasets (survey, feedback, ...; recent when the
latest date is within `recent_days` of `as_of`), kano, funnel, touchpoints, segments,
customers.clv, kpis (metrics, targets, benchmarks, the kpi rules' warn/fail), canvas_coverage,
health_scores, cohort_retention.

Evidence from other rules' tables exists only if those rules ran first: list them in
`wait_for:` (declared reads), e.g. `wait_for: [kpis, segments, canvas_coverage]`. Any
`wait_for` table with the columns of a KPI table (metric, subject, value) counts as a KPI table,
so kpi rules writing `kpi_nps`, `kpi_csat`, ... are all seen.

Tables: `maturity` (dimension, name, level, level_name, floor, next_level, gaps, gap_criteria)
and `maturity_evidence` (dimension, level, criterion, text, rating, source, evidence).
Findings (info): the overall level and floor dimension(s); one per next-level gap (a criterion of
the next level rated below "largely"). `warn:`/`fail:` apply to each dimension row, e.g.
`warn: "level < 3"`.

The default catalogue ships as `truenorth/builtins/maturity/catalogue.yaml`; your own has the
same shape:

```yaml
maturity: 1
levels: {{1: ad-hoc, 2: initiating, 3: enabling, 4: optimizing, 5: leading}}
dimensions:
  research:
    name: Customer research and feedback
    criteria:
      - {{id: research.feedback_collected, level: 2, derive: feedback_collected,
         text: "Customer feedback is collected"}}
      - {{id: research.owner, level: 2, text: "Someone owns customer research"}}
```

Ratings file (YAML; or CSV with columns criterion, rating, evidence):

```yaml
research.owner: {{rating: largely, evidence: "CX lead since 2024"}}
design.customer_input: fully
```

Rule:

```yaml
- id: maturity
  kind: maturity
  with: {{ratings: maturity-ratings.yaml, wait_for: [kpis, segments, canvas_coverage]}}
  warn: "level < 3"
```
"""


def _catalogue_reference() -> str:
    """The default criteria, generated from the shipped catalogue (shown by `truenorth kinds`)."""
    cat = load_catalogue()
    lines = ["Default criteria (level, id, text, evidence probe):", ""]
    for dim in cat.dimensions.values():
        lines.append(f"{dim.name}:")
        for c in sorted(dim.criteria, key=lambda c: (c.level, c.id)):
            probe = f"  [derive: {c.derive}]" if c.derive else ""
            lines.append(f"  L{c.level} {c.id}: {c.text}{probe}")
    return "\n".join(lines)


DOC = DOC + "\n" + _catalogue_reference() + "\n"


KIND = RuleKind(
    name="maturity",
    options_model=MaturityOptions,
    evaluate=evaluate,
    reads=reads,
    writes=writes,
    summary="Staged customer-value maturity (5 levels x 6 dimensions) from ratings and run evidence",
    doc=DOC,
    validate=validate,
    examples=(DOC.split("```yaml\n")[-1].split("```")[0].strip(),),
)


@hookimpl
def register_rule_kinds(register: Callable[[RuleKind], None]) -> None:
    register(KIND)
