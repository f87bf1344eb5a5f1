"""truenorth-loyalty: the ``loyalty_tiers`` rule kind (an example third-party plugin).

Example pack rule::

    - id: tiers
      kind: loyalty_tiers
      on: members
      with:
        tiers: {bronze: 0, silver: 1000, gold: 5000, platinum: 20000}
        nudge_within: 0.1        # members within 10% of the next tier get an info finding
        expiring_within_days: 30 # points expiring within 30 days of `as_of` → warn finding
        as_of: 2026-11-23

Writes ``loyalty``: member, points, tier, next_tier, points_to_next (and expiry columns).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from pydantic import Field, field_validator

import truenorth

__version__ = "0.1.0"


class LoyaltyOptions(truenorth.Options):
    """Options of ``loyalty_tiers``."""

    tiers: dict[str, int] = Field(
        default_factory=lambda: {"bronze": 0, "silver": 1000, "gold": 5000},
        description="tier name -> minimum points (the lowest must be 0)",
    )
    member: str = Field("member", description="member id column")
    points: str = Field("points", description="points balance column")
    nudge_within: float = Field(0.1, gt=0, lt=1, description="fraction of the next threshold")
    expiring_within_days: int | None = Field(30, ge=1, description="expiry warning window")
    as_of: date | None = Field(None, description="reference date (default: today)")
    into: str = Field("loyalty", description="table to write")

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: dict[str, int]) -> dict[str, int]:
        if not tiers:
            raise ValueError("at least one tier is needed")
        if min(tiers.values()) != 0:
            raise ValueError("the lowest tier must start at 0 points")
        if len(set(tiers.values())) != len(tiers):
            raise ValueError("tier thresholds must be distinct")
        return dict(sorted(tiers.items(), key=lambda kv: kv[1]))


def _reads(options: LoyaltyOptions, rule: truenorth.Rule[LoyaltyOptions]) -> list[str]:
    return [rule.on or "members"]


def _writes(options: LoyaltyOptions, rule: truenorth.Rule[LoyaltyOptions]) -> dict[str, Any]:
    return {
        options.into: {
            options.member: None,
            options.points: None,
            "tier": pl.String(),
            "next_tier": pl.String(),
            "points_to_next": pl.Int64(),
        }
    }


def evaluate(ctx: truenorth.RuleContext[LoyaltyOptions]) -> truenorth.RuleOutput:
    opts = ctx.rule.options
    members = ctx.table(ctx.rule.on or "members").collect()
    for col in (opts.member, opts.points):
        if col not in members.columns:
            raise ValueError(
                f"members table has no column {col!r} (columns: {', '.join(members.columns)})"
            )
    names = list(opts.tiers)
    bounds = list(opts.tiers.values())
    pts = pl.col(opts.points).cast(pl.Int64)
    tier: Any = pl.lit(names[0])
    next_tier: Any = pl.lit(names[1] if len(names) > 1 else None, dtype=pl.String)
    to_next: Any = (
        pl.lit(bounds[1], dtype=pl.Int64) - pts if len(names) > 1 else pl.lit(None, pl.Int64)
    )
    for i in range(1, len(names)):
        reached = pts >= bounds[i]
        tier = pl.when(reached).then(pl.lit(names[i])).otherwise(tier)
        nxt = names[i + 1] if i + 1 < len(names) else None
        next_tier = pl.when(reached).then(pl.lit(nxt, dtype=pl.String)).otherwise(next_tier)
        gap = (pl.lit(bounds[i + 1], dtype=pl.Int64) - pts) if nxt else pl.lit(None, pl.Int64)
        to_next = pl.when(reached).then(gap).otherwise(to_next)
    out = members.with_columns(
        tier.alias("tier"), next_tier.alias("next_tier"), to_next.alias("points_to_next")
    ).sort(opts.member)

    findings: list[truenorth.Finding] = []
    threshold_of = dict(opts.tiers)
    for row in out.filter(pl.col("next_tier").is_not_null()).iter_rows(named=True):
        goal = threshold_of[row["next_tier"]]
        if row["points_to_next"] <= opts.nudge_within * goal:
            findings.append(
                ctx.finding(
                    row[opts.member],
                    f"{row['points_to_next']} points from {row['next_tier']}",
                    severity="info",
                    value=float(row["points_to_next"]),
                    threshold=f"within {opts.nudge_within:.0%} of {goal}",
                    evidence={"points": row[opts.points], "tier": row["tier"]},
                )
            )
    if opts.expiring_within_days and {"points_expiring", "expires_on"} <= set(out.columns):
        as_of = opts.as_of or date.today()
        horizon = as_of + timedelta(days=opts.expiring_within_days)
        soon = out.filter(
            (pl.col("points_expiring") > 0) & pl.col("expires_on").is_between(as_of, horizon)
        )
        for row in soon.iter_rows(named=True):
            findings.append(
                ctx.finding(
                    row[opts.member],
                    f"{row['points_expiring']} points expire on {row['expires_on']}",
                    severity="warn",
                    value=float(row["points_expiring"]),
                    threshold=f"expires within {opts.expiring_within_days} days",
                    evidence={"expires_on": row["expires_on"], "tier": row["tier"]},
                )
            )
    return truenorth.RuleOutput(tables={opts.into: out}, findings=findings)


KIND = truenorth.RuleKind(
    name="loyalty_tiers",
    options_model=LoyaltyOptions,
    evaluate=evaluate,
    reads=_reads,
    writes=_writes,
    summary="Loyalty tiers from points, with next-tier nudges and expiring-points warnings.",
    doc=__doc__ or "",
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
