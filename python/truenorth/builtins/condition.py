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
from collections.abc import Callable
from typing import Any

import polars as pl
from pydantic import Field

import truenorth

from ._plans import PlanCache, schema_key


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


_PLANS = PlanCache()


def evaluate(ctx: truenorth.RuleContext[ConditionOptions]) -> truenorth.RuleOutput:
    rule = ctx.rule
    if rule.on is None:  # _validate rejects such rules; this keeps the type narrow
        raise ValueError("condition rules need `on:`")
    lf = ctx.table(rule.on)
    schema = lf.collect_schema()
    plan = _PLANS.get(rule, schema_key(schema), lambda: _Plan.build(ctx, schema))
    found = plan.findings(lf)
    # one pass: the findings and the row count, collected together
    frame, total_frame = pl.collect_all([found, lf.select(pl.len())])
    ctx.note("rows in", total_frame.item())
    ctx.note("rows matched", frame.height)
    return truenorth.RuleOutput(findings_frame=frame)


class _Plan:
    """The expressions of one condition rule for one input schema (built once, see _plans)."""

    def __init__(
        self,
        nan_cols: list[str],
        when: pl.Expr | None,
        levels: dict[str, pl.Expr],
        limit: int | None,
        columns: list[str],
        exprs: list[pl.Expr],
    ):
        self.fill_nan = pl.col(nan_cols).fill_nan(None) if nan_cols else None
        self.when = when
        self.levels = levels
        self.any_level = pl.any_horizontal([pl.col(k) for k in levels]) if levels else None
        self.limit = limit
        self.columns = columns
        self.exprs = exprs

    def findings(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        selected = lf.with_columns(self.fill_nan) if self.fill_nan is not None else lf
        if self.when is not None:
            selected = selected.filter(self.when)
        if self.any_level is not None:
            selected = selected.with_columns(**self.levels).filter(self.any_level)
        if self.limit is not None:
            selected = selected.head(self.limit)
        return selected.select(self.columns).select(self.exprs)

    @classmethod
    def build(cls, ctx: truenorth.RuleContext[ConditionOptions], schema: pl.Schema) -> _Plan:
        rule = ctx.rule
        opts = rule.options
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

        # NaN never meets a condition (as SQL's NULL): Polars orders NaN above every number,
        # so `clv > 200` would otherwise flag a NaN clv
        roots = {c for e in conds.values() for c in e.meta.root_names()}
        nan_cols = [c for c in roots if c in columns and schema[c] in (pl.Float32, pl.Float64)]
        level_names: list[str] = [k for k in ("fail", "warn") if k in conds]
        levels = {f"__tn_{k}": conds[k] for k in level_names}
        selected = [subject, *used, *levels]
        # the selected columns' dtypes, for the message: input dtypes, the flags are Boolean
        rows = pl.Schema(
            {**{c: schema[c] for c in [subject, *used]}, **dict.fromkeys(levels, pl.Boolean())}
        )
        exprs = _matched_findings(
            rows, rule, subject=subject, used=used, value=opts.value, levels=level_names
        )
        return cls(nan_cols, conds.get("when"), levels, opts.limit, selected, exprs)


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


_TEXT_AS_IS = (pl.String, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _rendered(template: str, schema: pl.Schema) -> pl.Expr:
    """The message column, one template field at a time: literals and text/integer columns
    by Polars, every other field by one Python loop over the column's values (rather than a
    dict and a template per row) that renders as the engine's ``ctx.render`` does (see
    :mod:`truenorth.engine.templates`: ``format(value, spec)``, else ``str(value)``;
    ``tests/engine/test_engine.py`` holds the two to the same text)."""
    pieces: list[pl.Expr] = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(pl.lit(literal, pl.String))
        if name is None:
            continue
        if name not in schema:
            pieces.append(pl.lit("{" + name + "}", pl.String))  # as render leaves it
        elif not spec and schema[name] in _TEXT_AS_IS:
            pieces.append(_as_text(name))  # what str() gives, without a Python loop
        else:
            pieces.append(
                pl.col(name).map_batches(
                    _field_renderer(spec or ""),
                    return_dtype=pl.String,
                    is_elementwise=True,
                )
            )
    return pl.concat_str(pieces) if pieces else pl.lit("", pl.String)


def _field_renderer(spec: str) -> Callable[[pl.Series], pl.Series]:
    def column(values: pl.Series) -> pl.Series:
        out: list[str] = []
        for v in values.to_list():
            if spec:
                try:
                    out.append(format(v, spec))
                    continue
                except (ValueError, TypeError, OverflowError):  # a null, a spec for another type
                    pass
            out.append(str(v))
        return pl.Series(out, dtype=pl.String)

    return column


def _matched_findings(
    rows: pl.Schema,
    rule: truenorth.Rule[ConditionOptions],
    *,
    subject: str,
    used: list[str],
    value: str | None,
    levels: list[str],
) -> list[pl.Expr]:
    """The findings columns of the matched rows (``rows``: their schema), built column-wise
    (no Python object per finding).

    Simple ``{column}`` messages are formatted by Polars; fields with a format spec (``.2f``)
    one column at a time (see :func:`_rendered`).
    """
    names = rows.names()
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
    message: pl.Expr | None = None
    if rule.message:
        simple = _simple_template(rule.message)
        if simple is not None and all(n in names for n in simple[1]):
            fmt, fields = simple
            message = pl.format(fmt, *[_as_text(n) for n in fields]) if fields else pl.lit(fmt)
    elif levels:
        message = pl.format("{} meets '{}'", _as_text(subject), threshold)
    else:
        message = pl.format("{} meets '{}'", _as_text(subject), pl.lit(rule.when))
    location = str(rule.location) if rule.location else None
    # every column of the findings schema, in order, so the engine need not re-select
    before = [
        pl.lit(rule.id, pl.String).alias("rule_id"),
        pl.lit(rule.kind, pl.String).alias("kind"),
        severity.cast(pl.String).alias("severity"),
        pl.col(subject).cast(pl.String).alias("subject"),
    ]
    after = [
        (pl.col(value).cast(pl.Float64) if value else pl.lit(None, pl.Float64)).alias("value"),
        threshold.cast(pl.String).alias("threshold"),
        (pl.struct(used).struct.json_encode() if used else pl.lit("{}")).alias("evidence"),
        pl.lit(rule.action, pl.String).alias("action"),
        pl.lit(location, pl.String).alias("location"),
    ]
    if message is None:
        message = _rendered(rule.message or "", rows)
    return [*before, message.cast(pl.String).alias("message"), *after]


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
    filters_input=True,
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
