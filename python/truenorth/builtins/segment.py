"""The ``segment`` rule kind: RFM segments or CLV tiers on the customer table, plus aggregates.

Example::

    - id: segments
      kind: segment
      with: {method: rfm, bins: 5}

    - id: tiers
      kind: segment
      with:
        method: clv_tiers
        column: clv
        tiers: {top: 0.1, high: 0.4, rest: 0.5}   # share of customers, best first; sums to 1
        into: tier_summary

Reads and extends ``customers`` (``on:`` or option ``source``) — so it runs after the rule that
creates it — adding ``r_score``, ``f_score``, ``m_score``, ``rfm_score`` and ``segment`` (RFM)
or ``clv_tier`` (CLV tiers); writes per-segment aggregates (customers, share, revenue, CLV
total/mean/share, mean P(alive), …) to ``segments`` (option ``into``), one row per segment.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

import truenorth


class SegmentOptions(truenorth.Options):
    """Options of ``segment``."""

    method: Literal["rfm", "clv_tiers"] = "rfm"
    source: str = Field("customers", description="customer table to segment (extended in place)")
    into: str = Field("segments", description="table of per-segment aggregates")
    bins: int = Field(5, ge=2, le=9, description="RFM: quantile bins per score (2..9)")
    column: str = Field("clv", description="clv_tiers: value column")
    tiers: dict[str, float] | None = Field(
        None,
        description="clv_tiers: tier name -> share of customers, best tier first, summing to 1 "
        "(default: top 0.1, high 0.4, rest 0.5)",
    )

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: dict[str, float] | None) -> dict[str, float] | None:
        if tiers is None:
            return None
        if not tiers or any(not (s > 0) for s in tiers.values()):
            raise ValueError("tier shares must be positive")
        if abs(sum(tiers.values()) - 1.0) > 1e-9:
            raise ValueError(f"tier shares must sum to 1, got {sum(tiers.values()):g}")
        return tiers


RFM_COLUMNS: dict[str, Any] = {
    "r_score": pl.Int8(),
    "f_score": pl.Int8(),
    "m_score": pl.Int8(),
    "rfm_score": pl.String(),
    "segment": pl.String(),
}


def source_of(options: SegmentOptions, rule: truenorth.Rule) -> str:
    """``on:`` names the customer table when given; else the ``source`` option."""
    return rule.on or options.source


def group_column(options: SegmentOptions) -> str:
    return "segment" if options.method == "rfm" else "clv_tier"


def _reads(options: SegmentOptions, rule: truenorth.Rule) -> list[str]:
    return [source_of(options, rule)]


def _writes(options: SegmentOptions, rule: truenorth.Rule) -> dict[str, Any]:
    # clv_tier is an Enum of the tier names (best first), so its dtype is left undeclared
    added = dict(RFM_COLUMNS) if options.method == "rfm" else {"clv_tier": None}
    return {source_of(options, rule): added, options.into: None}


def _validate(options: SegmentOptions, rule: truenorth.Rule, ctx: Any) -> None:
    if rule.when:
        ctx.error(
            "segment rules segment every customer; `when:` is not supported",
            at=("when",),
            expected="a condition rule on the segmented table instead",
        )
    if options.method == "rfm" and "tiers" in options.model_fields_set:
        ctx.error(
            "tiers apply to method clv_tiers", at=("with", "tiers"), expected="method: clv_tiers"
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
            f"table {source_of(options, rule)!r} has no column(s) {', '.join(missing)} "
            f"for {options.method}",
            at=("with",),
            expected=f"columns of {source_of(options, rule)!r}: {', '.join(schema)}",
        )


def evaluate(ctx: truenorth.RuleContext[SegmentOptions]) -> truenorth.RuleOutput:
    from truenorth import segment

    opts = ctx.rule.options
    source = source_of(opts, ctx.rule)
    customers = ctx.table(source).collect()
    by = group_column(opts)
    # options were checked at load time: what the core refuses now is the data (a null, NaN or
    # missing column, an empty table), so it is a data error (exit 2), not a rule bug
    try:
        if opts.method == "rfm":
            scored = segment.rfm(customers.drop(list(RFM_COLUMNS), strict=False), bins=opts.bins)
        else:
            kwargs: dict[str, Any] = {"column": opts.column}
            if opts.tiers is not None:
                kwargs["tiers"] = list(opts.tiers.items())
            scored = segment.clv_tiers(customers.drop("clv_tier", strict=False), **kwargs)
        aggregates = segment.aggregate(scored, by=by).sort(by)
    except ValueError as exc:
        raise truenorth.DataError(f"table {source!r}: {exc}") from exc
    if hasattr(ctx, "note"):
        ctx.note("customers", scored.height)
        for row in aggregates.select(by, "customers").iter_rows():
            ctx.note(f"{by} {row[0]}", row[1])
    return truenorth.RuleOutput(tables={source: scored, opts.into: aggregates})


KIND = truenorth.RuleKind(
    name="segment",
    options_model=SegmentOptions,
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
