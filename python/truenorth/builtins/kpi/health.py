"""The client health score: a weighted composite of min-max normalised metrics per customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import polars as pl
from pydantic import BaseModel, Field, model_validator

from truenorth.errors import DataError

from .core import (
    SEG,
    Grouping,
    Schema,
    check_rows,
    grouping_sets,
    mean_ci,
    numeric,
    require_columns,
    z_value,
)
from .options import Computed, KpiInputs, KpiOptions

HEALTH_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "rule_id": pl.String,
    "customer": pl.String,
    "segment": pl.String,
    "score": pl.Float64,
    "band": pl.String,
    "components_used": pl.Int64,
}


class Component(BaseModel):
    """One metric of a health score and how it is normalised to [0, 1]."""

    model_config = {"extra": "forbid", "frozen": True}

    weight: float = Field(default=1.0, gt=0, description="Relative weight.")
    min: float = Field(default=0.0, description="Value that normalises to 0 (clipped below).")
    max: float = Field(default=10.0, description="Value that normalises to 1 (clipped above).")
    higher_is_better: bool = Field(default=True, description="False: min is best.")

    @model_validator(mode="after")
    def _range(self) -> Component:
        if not self.max > self.min:
            raise ValueError(f"max ({self.max:g}) must be above min ({self.min:g})")
        return self


class HealthScoreOptions(KpiOptions):
    """Client health score: a weighted composite of min-max normalised metrics."""

    supports_period: ClassVar[bool] = False

    metric: Literal["health_score"] = "health_score"
    source: str = Field(default="customers", description="One row per customer.")
    customer: str = Field(default="customer", description="Customer id column.")
    components: dict[str, Component] = Field(
        min_length=1, description="Column -> {weight, min, max, higher_is_better}."
    )
    scale: Literal[10, 100] = Field(default=10, description="Score scale: 0-10 or 0-100.")
    bands: dict[str, float] = Field(
        min_length=1,
        default={"red": 0.0, "amber": 4.0, "green": 7.0},
        description="Colour band -> lowest score in the band (on `scale`).",
    )
    missing: Literal["skip", "zero", "error"] = Field(
        default="skip",
        description="A missing component: skip it and renormalise the weights, count it as "
        "the worst value (0), or raise an error.",
    )
    target: float | None = Field(
        default=None, description="Target mean score (default: 7 on 0-10, 70 on 0-100)."
    )

    label: ClassVar[str] = "health score"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "customers",
        "customer + component columns",
        "weighted mean of min-max normalised components; table `health_scores` (*)",
    )

    def unit(self) -> str:
        return f"mean score on 0-{self.scale}"

    def effective_target(self) -> float | None:
        return 0.7 * self.scale if self.target is None else self.target

    def extra_tables(self) -> dict[str, Schema]:
        return {self.extra_table("health_scores"): HEALTH_SCHEMA}

    def compute(self, inputs: KpiInputs) -> Computed:
        comps = [
            HealthComponent(col, x.weight, x.min, x.max, x.higher_is_better)
            for col, x in self.components.items()
        ]
        scores = health_scores(
            inputs.table(self.source),
            comps,
            customer=self.customer,
            by=self.by,
            scale=self.scale,
            bands=dict(self.bands),
            missing=self.missing,
            source=self.source,
        )
        table = scores.select(
            pl.lit(inputs.rule_id, pl.String).alias("rule_id"), *scores.columns
        ).cast(HEALTH_SCHEMA)  # type: ignore[arg-type]
        return Computed(
            health_kpis(scores, by=self.by is not None),
            {self.extra_table("health_scores"): table},
        )


@dataclass(frozen=True)
class HealthComponent:
    column: str
    weight: float = 1.0
    min: float = 0.0
    max: float = 10.0
    higher_is_better: bool = True


def health_scores(
    lf: pl.LazyFrame,
    components: Sequence[HealthComponent],
    *,
    customer: str = "customer",
    by: str | None = None,
    scale: int = 10,
    bands: dict[str, float] | None = None,
    missing: str = "skip",
    source: str = "customers",
) -> pl.DataFrame:
    """Per-customer score = scale x sum(w_i x norm_i) / sum(w_i) over the components.

    ``norm_i = clip((x - min) / (max - min), 0, 1)`` (``1 - norm_i`` when lower is better).
    Missing components (null): ``skip`` drops them and renormalises the weights over the ones
    present (no component present: null score); ``zero`` counts them as 0; ``error`` raises.
    ``band`` is the band with the highest lower bound <= score.
    """
    if not components:
        raise DataError("health_score: no components")
    bands = bands if bands is not None else {"red": 0.0, "amber": 4.0, "green": 7.0}
    cols = {c.column: "a health-score component" for c in components}
    require_columns(lf, source, {customer: "customer id", **cols})
    for comp in components:
        if comp.max == comp.min:
            raise DataError(f"health_score: component {comp.column!r} has min == max")
        lf = numeric(lf, source, comp.column)
        if missing == "error":
            check_rows(
                lf,
                source,
                comp.column,
                pl.col(comp.column).is_null(),
                "a value (missing: error)",
            )
    nums, dens = [], []
    for comp in components:
        x = pl.col(comp.column)
        norm = ((x - comp.min) / (comp.max - comp.min)).clip(0.0, 1.0)
        if not comp.higher_is_better:
            norm = 1.0 - norm
        if missing == "zero":
            norm = norm.fill_null(0.0)
        nums.append((norm * comp.weight).fill_null(0.0))
        dens.append(pl.when(norm.is_not_null()).then(comp.weight).otherwise(0.0))
    used = pl.sum_horizontal([pl.col(c.column).is_not_null().cast(pl.Int64) for c in components])
    den = pl.sum_horizontal(dens)
    score = pl.when(den > 0).then(scale * pl.sum_horizontal(nums) / den).otherwise(None)
    ordered = sorted(bands.items(), key=lambda kv: kv[1])
    band: pl.Expr = pl.lit(None, pl.String)
    for name, lower in ordered:
        band = pl.when(pl.col("score") >= lower).then(pl.lit(name)).otherwise(band)
    seg = pl.col(by).cast(pl.String) if by else pl.lit(None, pl.String)
    if by:
        require_columns(lf, source, {by: "the segment column named by `by`"})
    out = lf.select(
        pl.col(customer).cast(pl.String).alias("customer"),
        seg.alias("segment"),
        score.alias("score"),
        used.alias("components_used"),
    ).with_columns(band.alias("band"))
    return out.select("customer", "segment", "score", "band", "components_used").collect()


def health_kpis(
    scores: pl.DataFrame, *, by: bool, ci: str = "wald", confidence: float = 0.95
) -> pl.DataFrame:
    """Mean health score overall (and per segment), with a normal interval for the mean."""
    lf = (
        scores.lazy()
        .filter(pl.col("score").is_not_null())
        .with_columns(pl.col("segment").alias(SEG))
    )
    s = pl.col("score")
    aggs = [s.mean().alias("mean"), s.std().alias("sd"), pl.len().alias("n")]
    z = z_value(confidence)
    return grouping_sets(
        lf, Grouping(by=SEG if by else None), aggs, lambda d: mean_ci(d, "mean", "sd", "n", ci, z)
    )
