"""The ``condition`` rule kind: a row predicate over a table → one finding per matching row.

Example::

    - id: lapsing-high-value
      kind: condition
      on: customers
      when: "p_alive < 0.3 AND clv > 200"
      severity: warn
      action: win-back-offer
      message: "{customer}: P(alive) {p_alive:.2f}, CLV {clv:.0f}"
      with: {subject: customer, value: clv}

With ``warn:``/``fail:`` instead of (or besides) ``when:``, each row gets the severity of the
strongest condition it meets (``fail`` wins); ``when`` then pre-filters rows. Null and NaN
values never meet a condition.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
from pydantic import Field

import truenorth


class ConditionOptions(truenorth.Options):
    """Options of ``condition``."""

    subject: str | None = Field(
        None, description="column naming the subject (default: first column)"
    )
    value: str | None = Field(None, description="column reported as the finding's metric value")
    evidence: list[str] = Field(default_factory=list, description="extra columns kept as evidence")
    limit: int | None = Field(None, ge=1, description="at most this many findings (first rows)")


def _validate(options: ConditionOptions, rule: truenorth.Rule, ctx: Any) -> None:
    if not rule.on:
        ctx.error("condition rules need `on:` (the table to check)", at=(), expected="on: <table>")
        return
    if not (rule.when or rule.warn or rule.fail):
        ctx.error(
            "condition rules need `when:` (or `warn:`/`fail:`)", at=(), expected="when: <condition>"
        )
    schema = ctx.schema(rule.on)
    if schema is None:
        return
    for key in ("subject", "value"):
        col = getattr(options, key)
        if col is not None and col not in schema:
            ctx.error(
                f"{key}: unknown column {col!r}",
                at=("with", key),
                expected=f"a column of {rule.on!r}: {', '.join(schema)}",
            )
    for i, col in enumerate(options.evidence):
        if col not in schema:
            ctx.error(
                f"evidence: unknown column {col!r}",
                at=("with", "evidence", i),
                expected=f"a column of {rule.on!r}",
            )


def evaluate(ctx: truenorth.RuleContext[ConditionOptions]) -> truenorth.RuleOutput:
    rule = ctx.rule
    opts = rule.options
    if rule.on is None:  # _validate rejects such rules; this keeps the type narrow
        raise ValueError("condition rules need `on:`")
    lf = ctx.table(rule.on)
    schema = lf.collect_schema()
    columns = schema.names()
    conds: dict[str, pl.Expr] = {}
    for key in ("when", "warn", "fail"):
        text = getattr(rule, key)
        if text is None:
            continue
        # a condition the data does not fit raises a located error naming `key` (exit 2)
        conds[key] = ctx.condition(text, schema).fill_null(False)
    subject = opts.subject or columns[0]
    for col in [subject, opts.value, *opts.evidence]:
        if col is not None and col not in columns:
            # the pack names a column the data lacks: invalid data (exit 2), not a bug
            raise truenorth.DataError(
                f"column {col!r} not in table {rule.on!r} (columns: {', '.join(columns)})"
            )
    used: list[str] = []
    for e in conds.values():
        used += e.meta.root_names()
    if rule.message:
        used += [n for n in truenorth.template_fields(rule.message) if n in columns]
    used += opts.evidence
    if opts.value:
        used.append(opts.value)
    used = [c for c in dict.fromkeys(used) if c in columns and c != subject]

    flags = []
    # NaN never meets a condition (as SQL's NULL): Polars orders NaN above every number, so
    # `clv > 200` would otherwise flag a NaN clv
    roots = {c for e in conds.values() for c in e.meta.root_names()}
    nan_cols = [c for c in roots if c in columns and schema[c] in (pl.Float32, pl.Float64)]
    selected = lf.with_columns(pl.col(nan_cols).fill_nan(None)) if nan_cols else lf
    if "when" in conds:
        selected = selected.filter(conds["when"])
    levels: list[str] = [k for k in ("fail", "warn") if k in conds]
    if levels:
        selected = selected.with_columns(**{f"__tn_{k}": conds[k] for k in levels}).filter(
            pl.any_horizontal([pl.col(f"__tn_{k}") for k in levels])
        )
        flags = [f"__tn_{k}" for k in levels]
    if opts.limit is not None:
        selected = selected.head(opts.limit)
    query = selected.select([subject, *used, *flags])
    found = _matched_findings(
        query, rule, ctx.render, subject=subject, used=used, value=opts.value, levels=levels
    )
    # one pass: the findings and the row count, collected together
    frame, total_frame = pl.collect_all([found, lf.select(pl.len())])
    ctx.note("rows in", total_frame.item())
    ctx.note("rows matched", frame.height)
    return truenorth.RuleOutput(findings_frame=frame)


def _simple_template(template: str) -> tuple[str, list[str]] | None:
    """``"{a} is {b}"`` → (``"{} is {}"``, [a, b]); None if it uses format specs or braces."""
    parts: list[str] = []
    names: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if "{" in literal or "}" in literal:
            return None
        parts.append(literal)
        if name is not None:
            if spec or conversion or not name.isidentifier():
                return None
            parts.append("{}")
            names.append(name)
    return "".join(parts), names


def _as_text(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).fill_null("None")


def _matched_findings(
    rows: pl.LazyFrame,
    rule: truenorth.Rule[ConditionOptions],
    render: Callable[[str, Mapping[str, Any]], str],
    *,
    subject: str,
    used: list[str],
    value: str | None,
    levels: list[str],
) -> pl.LazyFrame:
    """Findings for the matched rows, built column-wise (no Python object per finding).

    Simple ``{column}`` messages are formatted by Polars; others row by row with ``render``
    (the engine's message renderer, ``ctx.render``).
    """
    names = rows.collect_schema().names()
    if levels:
        is_fail = pl.col("__tn_fail") if "fail" in levels else pl.lit(False)
        severity = pl.when(is_fail).then(pl.lit("fail")).otherwise(pl.lit("warn"))
        threshold = (
            pl.when(pl.col("__tn_fail") if "fail" in levels else pl.lit(False))
            .then(pl.lit(rule.fail))
            .otherwise(pl.lit(rule.warn))
        )
    else:
        severity = pl.lit(rule.severity)
        threshold = pl.lit(rule.when)
    if rule.message:
        simple = _simple_template(rule.message)
        if simple is not None and all(n in names for n in simple[1]):
            fmt, names = simple
            message = pl.format(fmt, *[_as_text(n) for n in names]) if names else pl.lit(fmt)
        else:
            template = rule.message
            message = pl.struct(names).map_elements(
                lambda row: render(template, row), return_dtype=pl.String
            )
    else:
        if levels:
            message = pl.format("{} meets '{}'", _as_text(subject), threshold)
        else:
            message = pl.format("{} meets '{}'", _as_text(subject), pl.lit(rule.when))
    location = str(rule.location) if rule.location else None
    # every column of the findings schema, in order, so the engine need not re-select
    exprs = [
        pl.lit(rule.id, pl.String).alias("rule_id"),
        pl.lit(rule.kind, pl.String).alias("kind"),
        severity.cast(pl.String).alias("severity"),
        pl.col(subject).cast(pl.String).alias("subject"),
        message.cast(pl.String).alias("message"),
        (pl.col(value).cast(pl.Float64) if value else pl.lit(None, pl.Float64)).alias("value"),
        threshold.cast(pl.String).alias("threshold"),
        (pl.struct(used).struct.json_encode() if used else pl.lit("{}")).alias("evidence"),
        pl.lit(rule.action, pl.String).alias("action"),
        pl.lit(location, pl.String).alias("location"),
    ]
    return rows.select(exprs)


KIND = truenorth.RuleKind(
    name="condition",
    options_model=ConditionOptions,
    evaluate=evaluate,
    summary="A row predicate over a table: one finding per matching row, with an action tag.",
    doc=__doc__ or "",
    validate=_validate,
    # warn/fail pick rows of the `on` table and messages name its columns: checked at load time
    row_predicates=("when", "warn", "fail"),
    message_columns=True,
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
