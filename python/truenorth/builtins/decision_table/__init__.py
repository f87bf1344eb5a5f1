"""The ``decision_table`` rule kind: ordered rows of conditions → output columns per row.

Example (assign a tier and an action to each customer)::

    - id: tiers
      kind: decision_table
      on: customers
      with:
        hit_policy: first          # or: collect (every matching row; outputs become lists)
        into: customers            # default: the `on` table (augmented in place)
        rows:
          - {when: "clv >= 1000", tier: gold, action: concierge}
          - {when: "clv >= 200", tier: silver, action: upsell}
          - {when: "p_alive < 0.2", tier: lapsed, action: win-back}
        default: {tier: bronze}    # optional; unmatched rows get these outputs
        report_unmatched: true     # a finding per row no table row matched (and no default)
        check_rows: true           # static checks of the rows (see below)

Outputs are written as new columns (plus ``<rule id>_row``: the 1-based index of the first
matching row, or a list of indexes with ``collect``). Output values must be scalars of one type
per column.

The rows are checked statically, from the conditions alone (``truenorth validate`` prints
warnings at the row's file:line:column; a run adds findings for the first and last): a row
that can never fire under ``first`` because earlier rows match everything it matches (warn),
rows that overlap under ``collect`` (a validate warning only: tags often overlap on purpose),
and inputs no row covers when there is no ``default`` (info, with an example region). Decidable conditions are comparisons of a column with a literal, ``IN``,
``NOT IN``, ``BETWEEN``, ``AND``/``OR`` and ``TRUE``; numbers range over all reals, so a gap
such as ``p_alive < 0`` is reported where a column's real domain is narrower. A table with
other conditions is not checked.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

import truenorth

from .._plans import PlanCache, schema_key
from .coverage import Issue, check

RESERVED = {"when", "description"}
_PLANS = PlanCache()


class DecisionTableOptions(truenorth.Options):
    """Options of ``decision_table``."""

    rows: list[dict[str, Any]] = Field(min_length=1, description="ordered {when, outputs...} rows")
    hit_policy: Literal["first", "collect"] = "first"
    into: str | None = Field(None, description="table to write (default: the `on` table)")
    default: dict[str, Any] = Field(default_factory=dict, description="outputs for unmatched rows")
    report_unmatched: bool = True
    subject: str | None = Field(None, description="subject column of findings (default: first)")
    check_rows: bool = Field(
        True,
        description="check the rows statically (validate warnings and findings): rows that "
        "never fire under `first`, overlapping rows under `collect`, inputs no row covers "
        "without a `default`; decidable for comparisons, IN and BETWEEN with literals",
    )

    @field_validator("rows")
    @classmethod
    def _rows(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, row in enumerate(rows):
            if "when" not in row:
                raise ValueError(f"row {i + 1} has no 'when' condition")
            if not isinstance(row["when"], str):
                raise ValueError(f"row {i + 1}: 'when' must be a condition string")
            outputs = [k for k in row if k not in RESERVED]
            if not outputs:
                raise ValueError(f"row {i + 1} assigns no output (add e.g. tier: gold)")
            for k in outputs:
                if isinstance(row[k], (dict, list)):
                    raise ValueError(f"row {i + 1}: output {k!r} must be a scalar")
        return rows


def output_columns(options: DecisionTableOptions) -> list[str]:
    cols: list[str] = []
    for row in options.rows:
        cols += [k for k in row if k not in RESERVED]
    cols += list(options.default)
    return list(dict.fromkeys(cols))


def _dtype(values: list[Any]) -> Any:
    vals = [v for v in values if v is not None]
    if not vals:
        return pl.String()
    if all(isinstance(v, bool) for v in vals):
        return pl.Boolean()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pl.Int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pl.Float64()
    return pl.String()


def _column_dtypes(options: DecisionTableOptions) -> dict[str, Any]:
    out = {}
    for col in output_columns(options):
        vals = [r.get(col) for r in options.rows] + [options.default.get(col)]
        out[col] = _dtype(vals)
    return out


def _reads(options: DecisionTableOptions, rule: truenorth.Rule) -> list[str]:
    return [rule.on] if rule.on else []


def _target(options: DecisionTableOptions, rule: truenorth.Rule) -> str:
    return options.into or rule.on or "decisions"


def _writes(options: DecisionTableOptions, rule: truenorth.Rule) -> dict[str, Any]:
    dtypes = _column_dtypes(options)
    schema: dict[str, pl.DataType]
    if options.hit_policy == "collect":
        schema = {c: pl.List(d) for c, d in dtypes.items()}
        schema[f"{rule.id}_row"] = pl.List(pl.Int64())
    else:
        schema = dict(dtypes)
        schema[f"{rule.id}_row"] = pl.Int64()
    if _target(options, rule) != rule.on:
        # a new table: the `on` table's columns plus these, but the `on` schema is not known
        # here, so the new table's schema is left to run time
        return {_target(options, rule): None}
    return {_target(options, rule): schema}


def static_issues(options: DecisionTableOptions) -> list[Issue]:
    """The table's static issues (see :mod:`.coverage`); none when ``check_rows`` is off."""
    if not options.check_rows:
        return []
    return check(
        [row["when"] for row in options.rows],
        hit_policy=options.hit_policy,
        has_default=bool(options.default),
    )


def _validate(options: DecisionTableOptions, rule: truenorth.Rule, ctx: Any) -> None:
    for issue in static_issues(options):
        at: tuple[Any, ...] = ("with", "rows")
        if issue.rows:
            at = ("with", "rows", issue.rows[0] - 1, "when")
        if hasattr(ctx, "warn"):
            ctx.warn(issue.message, at=at)
    if not rule.on:
        ctx.error(
            "decision_table rules need `on:` (the table to decide over)", expected="on: <table>"
        )
        return
    for i, row in enumerate(options.rows):
        ctx.condition(row["when"], at=("with", "rows", i, "when"), table=rule.on)
    dtypes = _column_dtypes(options)
    for col, dt in dtypes.items():
        kinds = {type(r[col]).__name__ for r in options.rows if col in r and r[col] is not None}
        if dt == pl.String() and len(kinds) > 1 and kinds != {"str"}:
            ctx.error(
                f"output {col!r} mixes value types ({', '.join(sorted(kinds))})",
                at=("with", "rows"),
                expected="one type per output column",
            )


def _columns(
    ctx: truenorth.RuleContext[DecisionTableOptions], schema: pl.Schema
) -> tuple[str, list[str], list[pl.Expr]]:
    """The subject column, the input columns the outputs replace, and the output expressions
    (built once per rule and input schema, see ``_plans``)."""
    rule = ctx.rule
    opts = rule.options
    columns = schema.names()
    subject = opts.subject or columns[0]
    if subject not in columns:
        raise truenorth.DataError(
            f"subject column {subject!r} not in table {rule.on!r} (columns: {', '.join(columns)})"
        )
    conds = []
    for row in opts.rows:
        # a condition the data does not fit raises a located error naming the row (exit 2)
        conds.append(ctx.condition(row["when"], schema).fill_null(False))
    dtypes = _column_dtypes(opts)
    row_col = f"{rule.id}_row"
    exprs: list[pl.Expr] = []
    if opts.hit_policy == "first":
        for col, dt in dtypes.items():
            e: Any = None
            for cond, row in zip(conds, opts.rows, strict=True):
                if col not in row:
                    value = pl.lit(None, dtype=dt)
                else:
                    value = pl.lit(row[col], dtype=dt)
                e = pl.when(cond).then(value) if e is None else e.when(cond).then(value)
            default = opts.default.get(col)
            exprs.append(e.otherwise(pl.lit(default, dtype=dt)).alias(col))
        idx: Any = None
        for i, cond in enumerate(conds):
            idx = (
                pl.when(cond).then(pl.lit(i + 1, pl.Int64))
                if idx is None
                else idx.when(cond).then(pl.lit(i + 1, pl.Int64))
            )
        exprs.append(idx.otherwise(pl.lit(None, pl.Int64)).alias(row_col))
    else:
        for col, dt in dtypes.items():
            parts = [
                pl.when(cond).then(pl.lit(row[col], dtype=dt))
                for cond, row in zip(conds, opts.rows, strict=True)
                if col in row
            ]
            lst = pl.concat_list(parts).list.drop_nulls() if parts else pl.lit([], pl.List(dt))
            if col in opts.default:
                lst = (
                    pl.when(lst.list.len() == 0)
                    .then(pl.concat_list(pl.lit(opts.default[col], dtype=dt)))
                    .otherwise(lst)
                )
            exprs.append(lst.alias(col))
        idx_parts = [pl.when(c).then(pl.lit(i + 1, pl.Int64)) for i, c in enumerate(conds)]
        exprs.append(pl.concat_list(idx_parts).list.drop_nulls().alias(row_col))
    existing = [c for c in [*dtypes, row_col] if c in columns]
    return subject, existing, exprs


def evaluate(ctx: truenorth.RuleContext[DecisionTableOptions]) -> truenorth.RuleOutput:
    rule = ctx.rule
    opts = rule.options
    if rule.on is None:  # _validate rejects such rules; this keeps the type narrow
        raise ValueError("decision_table rules need `on:`")
    lf = ctx.table(rule.on)
    schema = lf.collect_schema()
    columns = schema.names()
    subject, existing, exprs = _PLANS.get(rule, schema_key(schema), lambda: _columns(ctx, schema))
    row_col = f"{rule.id}_row"
    out = lf.drop(existing).with_columns(exprs).collect()
    row_ids = out.get_column(row_col)
    if opts.hit_policy == "first":  # the null count is known without a pass over the rows
        n_matched = out.height - row_ids.null_count()
    else:
        n_matched = int((row_ids.list.len() > 0).sum())
    findings: list[truenorth.Finding] = [
        ctx.finding(
            f"row {issue.rows[0]}" if issue.rows else "table",
            issue.message,
            severity="warn" if issue.kind == "shadowed" else "info",
            threshold={"shadowed": "a row that can fire", "overlap": "disjoint rows"}.get(
                issue.kind, "a row for every input"
            ),
            evidence={"check": issue.kind, "rows": list(issue.rows), "example": issue.example},
        )
        for issue in static_issues(opts)
        # overlaps under `collect` are often the point (tags): validate warns, a run stays quiet
        if issue.kind != "overlap"
    ]
    if opts.report_unmatched and not opts.default and n_matched < out.height:
        hits = row_ids.is_not_null() if opts.hit_policy == "first" else row_ids.list.len() > 0
        unmatched = out.filter(~hits)
        for row in unmatched.iter_rows(named=True):  # few rows, usually: a table with gaps
            msg = (
                ctx.render(rule.message, row)
                if rule.message
                else f"{row[subject]}: no decision-table row matched"
            )
            findings.append(
                ctx.finding(
                    row[subject],
                    msg,
                    severity=rule.severity,
                    threshold="no row matched",
                    evidence={
                        c: row[c]
                        for c in columns
                        if c != subject and c in row and not isinstance(row[c], (list, dict))
                    },
                )
            )
    if hasattr(ctx, "note"):
        ctx.note("rows in", out.height)
        if opts.hit_policy == "first":
            counts = dict(row_ids.value_counts().iter_rows())
            for r in range(1, len(opts.rows) + 1):
                ctx.note(f"row {r}: {opts.rows[r - 1]['when']}", counts.get(r, 0))
            ctx.note("unmatched", out.height - n_matched)
        else:
            ctx.note("matched", n_matched)
            ctx.note("unmatched", out.height - n_matched)
    return truenorth.RuleOutput(tables={_target(opts, rule): out}, findings=findings)


KIND = truenorth.RuleKind(
    name="decision_table",
    options_model=DecisionTableOptions,
    evaluate=evaluate,
    reads=_reads,
    writes=_writes,
    summary="Ordered rows of conditions → outputs per row (hit policies first/collect).",
    doc=__doc__ or "",
    validate=_validate,
    message_columns=True,  # one finding per matched row of the `on` table
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
