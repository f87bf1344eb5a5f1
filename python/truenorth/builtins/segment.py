"""The ``segment`` rule kind: RFM segments or CLV tiers on the customer table, plus aggregates.

Example::

    - id: segments
      kind: segment
      with: {method: rfm, bins: 5}               # or: {method: clv_tiers, column: clv}

Reads and extends ``customers`` (option ``source``) — so it runs after the rule that creates
it — adding ``r_score``, ``f_score``, ``m_score``, ``rfm_score`` and ``segment`` (RFM) or
``segment`` (CLV tiers); writes per-segment aggregates to ``segments`` (option ``into``).
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field

import truenorth


class SegmentOptions(truenorth.Options):
    """Options of ``segment``."""

    method: Literal["rfm", "clv_tiers"] = "rfm"
    source: str = Field("customers", description="customer table to segment (extended in place)")
    into: str = Field("segments", description="table of per-segment aggregates")
    bins: int = Field(5, ge=2, le=10, description="RFM: quantile bins per score")
    column: str = Field("clv", description="clv_tiers: value column")
    tiers: dict[str, float] | None = Field(
        None,
        description="clv_tiers: tier name -> lower quantile (e.g. {top: 0.9, mid: 0.5, low: 0})",
    )


RFM_COLUMNS = {
    "r_score": None,
    "f_score": None,
    "m_score": None,
    "rfm_score": None,
    "segment": pl.String(),
}


def source_of(options: SegmentOptions, rule: truenorth.Rule) -> str:
    """``on:`` names the customer table when given; else the ``source`` option."""
    return rule.on or options.source


def _reads(options: SegmentOptions, rule: truenorth.Rule) -> list[str]:
    return [source_of(options, rule)]


def _writes(options: SegmentOptions, rule: truenorth.Rule) -> dict[str, Any]:
    added = dict(RFM_COLUMNS) if options.method == "rfm" else {"segment": pl.String()}
    return {source_of(options, rule): added, options.into: None}


def _validate(options: SegmentOptions, rule: truenorth.Rule, ctx: Any) -> None:
    if rule.when:
        ctx.error(
            "segment rules segment every customer; `when:` is not supported",
            at=("when",),
            expected="a condition rule on the segmented table instead",
        )
    schema = ctx.schema(source_of(options, rule))
    if schema is None:
        return
    need = (
        ["recency", "frequency", "monetary_value"] if options.method == "rfm" else [options.column]
    )
    missing = [c for c in need if c not in schema]
    if missing:
        ctx.error(
            f"table {source_of(options, rule)!r} has no column(s) {', '.join(missing)} for {options.method}",
            at=("with",),
            expected=f"columns of {source_of(options, rule)!r}: {', '.join(schema)}",
        )


def evaluate(ctx: truenorth.RuleContext) -> truenorth.RuleOutput:
    from truenorth import segment

    opts: SegmentOptions = ctx.rule.options  # type: ignore[assignment]
    source = source_of(opts, ctx.rule)
    customers = ctx.table(source).collect()
    if opts.method == "rfm":
        scored = segment.rfm(customers, bins=opts.bins)
    else:
        kwargs: dict[str, Any] = {"column": opts.column}
        if opts.tiers is not None:
            kwargs["tiers"] = opts.tiers
        scored = segment.clv_tiers(customers, **kwargs)
    if "segment" not in scored.columns:
        tier_cols = [c for c in scored.columns if c not in customers.columns]
        if len(tier_cols) == 1:
            scored = scored.rename({tier_cols[0]: "segment"})
    aggregates = segment.aggregate(scored, by="segment").sort("segment")
    if hasattr(ctx, "note"):
        ctx.note("customers", scored.height)
        ctx.note("segments", aggregates.height)
    return truenorth.RuleOutput(tables={source: scored, opts.into: aggregates})


KIND = truenorth.RuleKind(
    name="segment",
    options=SegmentOptions,
    evaluate=evaluate,
    reads=_reads,
    writes=_writes,
    summary="RFM segments or CLV tiers on the customer table, with per-segment aggregates.",
    doc=__doc__ or "",
    validate=_validate,
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
