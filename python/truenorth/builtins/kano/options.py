"""Options of the ``kano`` rule kind (its ``with:`` mapping), validated at load time."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from truenorth import Options

from . import compute

Category = Literal["A", "O", "M", "I", "R", "Q"]
Answer = Literal[
    "like", "expect", "must be", "neutral", "live with", "tolerate", "dislike", 1, 2, 3, 4, 5
]
DEFAULT_PRIORITY: tuple[Category, ...] = ("M", "O", "A", "I")


class BootstrapOptions(BaseModel):
    """Bootstrap intervals of a ``kano`` rule (its ``bootstrap:`` mapping)."""

    model_config = {"extra": "forbid", "frozen": True}

    resamples: int = Field(1000, ge=50, le=100_000, description="Number of resamples.")
    seed: int = Field(1, ge=0, description="Seed of the resampling (results are reproducible).")
    confidence: float = Field(0.9, gt=0, lt=1, description="Level of the percentile intervals.")
    stability: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A feature whose point category is given by fewer resamples than this "
        "share gets an info finding (its category is not stable).",
    )


class KanoOptions(Options):
    """Options of a ``kano`` rule (its ``with:`` mapping)."""

    source: str = Field("survey", description="Dataset role (or table) holding the answers.")
    table: Literal["standard", "pouliot"] = Field(
        "standard",
        description="Evaluation table: 'standard', or 'pouliot' (the same non-neutral answer "
        "on both sides is questionable).",
    )
    by: Literal["segment"] | None = Field(
        None, description="'segment': also write a per-segment table (<output>_segments)."
    )
    strength_threshold: float = Field(
        0.06,
        ge=0,
        le=1,
        description="Categories whose share is less than this below the top share are near-top;"
        " when several are, the category is the first of them in `priority`.",
    )
    priority: list[Category] = Field(
        default_factory=lambda: list(DEFAULT_PRIORITY),
        description="Tie-break order among near-top categories; unlisted ones follow in the "
        "order M O A I R Q.",
    )
    fong_z: float = Field(1.65, gt=0, description="z value of Fong's significance test.")
    weight_by_importance: bool = Field(
        False, description="Weight the continuous (DuMouchel) scores by each answer's importance."
    )
    importance_scale: tuple[float, float] = Field(
        (1.0, 9.0), description="Valid range of self-stated importance."
    )
    answers: dict[str, Answer] = Field(
        default_factory=dict,
        description="The survey's own answer labels -> answer (like, expect, neutral, live with, "
        "dislike, or a code 1-5), matched before the built-in wordings (case, punctuation and "
        "whitespace ignored).",
    )
    missing: Literal["drop", "error"] = Field(
        "drop", description="Rows with a missing functional or dysfunctional answer."
    )
    waves: Literal["latest", "pooled"] = Field(
        "latest",
        description="With a `wave` column: base the main table on the latest wave (in sort "
        "order), or pool all waves.",
    )
    satisfaction_min: float | None = Field(
        3.0,
        description="A feature whose mean `satisfaction` is below this is unmet (default for a "
        "1-5 scale; null disables).",
    )
    delivered_min: float | None = Field(
        0.9,
        ge=0,
        le=1,
        description="A feature delivered to a smaller share of respondents than this is unmet.",
    )
    unmet: list[str] = Field(
        default_factory=list,
        description="Features known to be unmet (e.g. from the canvas), besides the data.",
    )
    investing: list[str] = Field(
        default_factory=list,
        description="Features currently invested in (roadmap); attractive ones while must-be "
        "features are unmet are flagged as a pitfall.",
    )
    unmet_from: str | None = Field(
        None,
        description="A table (dataset role or another rule's output) listing unmet features: "
        "column `feature`, and optionally a boolean `unmet` (rows where it is true count).",
    )
    bootstrap: BootstrapOptions | None = Field(
        None,
        description="Resample respondents for intervals of better/worse and the category "
        "shares, and the category's stability (columns *_ci_low/_ci_high, category_stability, "
        "and a table <output>_shares); null: no bootstrap.",
    )
    output: str = Field("kano", min_length=1, description="Name of the table written.")
    value: str = Field(
        "total_strength", description="Column reported as the value of warn/fail findings."
    )

    @field_validator("priority")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"priority lists a category twice: {value}")
        return value

    @field_validator("answers")
    @classmethod
    def _answers(cls, value: dict[str, Answer]) -> dict[str, Answer]:
        compute.label_map(value)  # raises on a label mapped to two answers
        return value

    @field_validator("importance_scale")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] >= value[1]:
            raise ValueError(f"importance_scale must be (low, high) with low < high, not {value}")
        return value
