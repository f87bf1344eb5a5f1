"""Survey metrics: NPS, CSAT and CES (answers on a fixed scale, one row per answer)."""

from __future__ import annotations

from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, model_validator

from truenorth.errors import DataError

from .core import Grouping, grouping_sets, mean_ci, nps_ci, proportion_ci, scale_answers, z_value
from .options import CI, Computed, KpiInputs, KpiOptions


class _Survey(KpiOptions):
    source: str = Field(default="survey", description="Dataset role or table with the answers.")
    column: str = Field(default="score", description="Column holding each answer.")
    ci: CI = Field(default="wald", description="Confidence interval method.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")


class NpsOptions(_Survey):
    """Net Promoter Score on 0-10 answers: %promoters (9-10) - %detractors (0-6), in points."""

    metric: Literal["nps"] = "nps"
    label: ClassVar[str] = "NPS"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "survey",
        "score 0-10",
        "%promoters(9-10) - %detractors(0-6), points; CI `ci: wald / adjusted_wald / none`",
    )

    def unit(self) -> str:
        return "NPS points (-100..100) on 0-10 answers"

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            nps(
                inputs.table(self.source),
                column=self.column,
                grouping=self.grouping(),
                ci=self.ci,
                confidence=self.confidence,
                source=self.source,
            )
        )


class CsatOptions(_Survey):
    """Customer satisfaction: share of top-two-box answers (default) or the mean answer."""

    metric: Literal["csat"] = "csat"
    method: Literal["top_box", "mean"] = Field(
        default="top_box", description="top_box: share of answers >= `satisfied_at`; mean."
    )
    scale: tuple[int, int] = Field(default=(1, 5), description="Lowest and highest answer.")
    satisfied_at: int = Field(default=4, description="Answers at or above this are satisfied.")
    target: float | None = Field(
        default=0.9, description="Target (seeds: 9 of 10 satisfied). Set null to disable."
    )

    @model_validator(mode="after")
    def _cut_in_scale(self) -> CsatOptions:
        lo, hi = self.scale
        if not lo < hi:
            raise ValueError(
                f"scale {list(self.scale)}: the lowest answer must be below the highest"
            )
        if not lo <= self.satisfied_at <= hi:
            raise ValueError(
                f"satisfied_at {self.satisfied_at} is outside the scale {list(self.scale)}"
            )
        return self

    label: ClassVar[str] = "CSAT"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "survey",
        "score 1-5",
        "share >= `satisfied_at` (4) or `method: mean`",
    )

    def unit(self) -> str:
        return _scale_unit(self.method, self.scale, self.satisfied_at)

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            csat(
                inputs.table(self.source),
                column=self.column,
                grouping=self.grouping(),
                method=self.method,
                scale=self.scale,
                satisfied_at=self.satisfied_at,
                ci=self.ci,
                confidence=self.confidence,
                source=self.source,
            )
        )


class CesOptions(_Survey):
    """Customer effort score on a 1-7 agreement scale: mean (default) or share >= `agree_at`."""

    metric: Literal["ces"] = "ces"
    method: Literal["mean", "share"] = Field(default="mean", description="mean or share.")
    scale: tuple[int, int] = Field(default=(1, 7), description="Lowest and highest answer.")
    agree_at: int = Field(default=5, description="Answers at or above this count as agreeing.")

    @model_validator(mode="after")
    def _cut_in_scale(self) -> CesOptions:
        lo, hi = self.scale
        if not lo < hi:
            raise ValueError(
                f"scale {list(self.scale)}: the lowest answer must be below the highest"
            )
        if not lo <= self.agree_at <= hi:
            raise ValueError(f"agree_at {self.agree_at} is outside the scale {list(self.scale)}")
        return self

    label: ClassVar[str] = "CES"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "survey",
        "score 1-7",
        "mean, or `method: share` (>= `agree_at` 5)",
    )

    def unit(self) -> str:
        return _scale_unit(self.method, self.scale, self.agree_at)

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            ces(
                inputs.table(self.source),
                column=self.column,
                grouping=self.grouping(),
                method=self.method,
                scale=self.scale,
                agree_at=self.agree_at,
                ci=self.ci,
                confidence=self.confidence,
                source=self.source,
            )
        )


def _scale_unit(method: str, scale: tuple[int, int], cut: int) -> str:
    lo, hi = scale
    if method == "mean":
        return f"mean answer on {lo}-{hi}"
    return f"share of answers {cut}-{hi} on {lo}-{hi}"


def nps(
    lf: pl.LazyFrame,
    *,
    column: str = "score",
    grouping: Grouping = Grouping(),
    ci: str = "wald",
    confidence: float = 0.95,
    source: str = "survey",
) -> pl.DataFrame:
    """Net Promoter Score (points, -100..100) of 0-10 answers in ``column``."""
    lf = scale_answers(grouping.prepare(lf, source), source, column, 0, 10, "NPS")
    s = pl.col(column)
    aggs = [
        (s >= 9).sum().alias("promoters"),
        (s <= 6).sum().alias("detractors"),
        pl.len().alias("n"),
    ]
    return grouping_sets(lf, grouping, aggs, lambda df: nps_ci(df, ci, z_value(confidence)))


def csat(
    lf: pl.LazyFrame,
    *,
    column: str = "score",
    grouping: Grouping = Grouping(),
    method: str = "top_box",
    scale: tuple[int, int] = (1, 5),
    satisfied_at: int = 4,
    ci: str = "wald",
    confidence: float = 0.95,
    source: str = "survey",
) -> pl.DataFrame:
    """CSAT: share of answers >= ``satisfied_at`` (top box, 0-1) or the mean answer."""
    return _scale_metric(
        lf, column, grouping, method, scale, satisfied_at, ci, confidence, source, "CSAT"
    )


def ces(
    lf: pl.LazyFrame,
    *,
    column: str = "score",
    grouping: Grouping = Grouping(),
    method: str = "mean",
    scale: tuple[int, int] = (1, 7),
    agree_at: int = 5,
    ci: str = "wald",
    confidence: float = 0.95,
    source: str = "survey",
) -> pl.DataFrame:
    """CES: mean answer on a 1-7 agreement scale, or the share of answers >= ``agree_at``."""
    method = "top_box" if method == "share" else method
    return _scale_metric(
        lf, column, grouping, method, scale, agree_at, ci, confidence, source, "CES"
    )


def _scale_metric(
    lf: pl.LazyFrame,
    column: str,
    grouping: Grouping,
    method: str,
    scale: tuple[int, int],
    cut: int,
    ci: str,
    confidence: float,
    source: str,
    label: str,
) -> pl.DataFrame:
    lo, hi = scale
    if not lo < hi:
        raise DataError(f"{label} scale {scale!r}: the lowest answer must be below the highest")
    lf = scale_answers(grouping.prepare(lf, source), source, column, lo, hi, label)
    s = pl.col(column)
    z = z_value(confidence)
    if method == "mean":
        aggs = [s.mean().alias("mean"), s.std().alias("sd"), pl.len().alias("n")]
        return grouping_sets(lf, grouping, aggs, lambda df: mean_ci(df, "mean", "sd", "n", ci, z))
    aggs = [(s >= cut).sum().alias("x"), pl.len().alias("n")]
    return grouping_sets(lf, grouping, aggs, lambda df: proportion_ci(df, "x", "n", ci, z))
