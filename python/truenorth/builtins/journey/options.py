"""The options model of the ``journey`` rule kind (its ``with:`` mapping)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from truenorth import Options

from . import events as events_mod


class Exclusion(BaseModel):
    """An exclusion step: an attempt with ``event`` between steps ``after`` and ``before`` is
    discarded (a unit without an attempt left drops out of the funnel)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = Field(description="Event (or stage) name that excludes.")
    after: str | None = Field(None, description="Funnel step it must follow (default: the first).")
    before: str | None = Field(None, description="Funnel step it must precede (default: the last).")


class Compare(BaseModel):
    """Two groups (or periods) to compare step by step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(description="Event-log column holding the group or period of a unit.")
    baseline: str = Field(description="Value of the baseline group (or earlier period).")
    current: str = Field(description="Value of the group (or period) compared with it.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Test level; intervals are at 1 − alpha.")

    @model_validator(mode="after")
    def _distinct(self) -> Compare:
        if self.baseline == self.current:
            raise ValueError("compare: baseline and current must be different values")
        return self


class PathData(BaseModel):
    """Pre-aggregated paths (ChannelAttribution's format) to attribute instead of the event
    log's paths: one row per path with its conversions, nulls and conversion value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="Dataset role (or table) holding the paths.")
    path: str = Field("path", description="Column of paths, e.g. 'a > b > c'.")
    conversions: str = Field("total_conversions", description="Column of conversions per path.")
    nulls: str | None = Field(
        "total_null", description="Column of journeys without conversion (null: none)."
    )
    value: str | None = Field(None, description="Column of total conversion value per path.")
    separator: str = Field(">", min_length=1, description="Separator between channels.")


class JourneyOptions(Options):
    """Options of a ``journey`` rule (its ``with:`` mapping)."""

    source: str = Field("events", description="Dataset role (or table) holding the event log.")
    steps: list[str] = Field(
        default_factory=list,
        description="Ordered funnel steps (event or stage names); required unless the rule "
        "only attributes `path_data`.",
    )
    mode: Literal["sequential", "strict", "any", "unordered"] = Field(
        "sequential",
        description="sequential: later step after earlier, anything in between; strict: the "
        "very next event; any: steps 2..k in any order after entering step 1; unordered: "
        "PostHog's unordered funnel (any k of the steps, in any order, from any of them).",
    )
    attempt: Literal["auto", "first", "best"] = Field(
        "auto",
        description="Re-entry: first: a unit's first entry only; best: every entry is an "
        "attempt and the one reaching furthest counts; auto: best for unordered, else first.",
    )
    exclusions: list[Exclusion] = Field(
        default_factory=list,
        description="Exclusion steps: attempts with the event between two steps are discarded.",
    )
    window: str | None = Field(
        None, description="Conversion window from entering step 1, e.g. '14d', '36h', '30m'."
    )
    by: Literal["customer", "session"] = Field(
        "customer", description="Journey unit: the `customer` or the `session` column."
    )
    step_column: Literal["auto", "event", "stage"] = Field(
        "auto", description="Column holding step names; auto: `stage` if present, else `event`."
    )
    breakdown: str | None = Field(
        None,
        description="Event-log column: a `funnel_breakdown` table per value (a unit's first "
        "non-null value).",
    )
    breakdown_limit: int = Field(
        25, ge=1, description="Breakdown values kept (most units first); the rest: (other)."
    )
    compare: Compare | None = Field(
        None, description="Compare two groups or periods step by step (`funnel_comparison`)."
    )
    convert_from: str | None = Field(
        None, description="Time-to-convert histogram from this step (default: the first)."
    )
    convert_to: str | None = Field(
        None, description="Time-to-convert histogram to this step (default: the last)."
    )
    from_step: int | str | None = Field(
        None,
        description="Funnel step range (PostHog's funnel_from_step): a `funnel_range` table of "
        "the conversion from this step (name or 1-based index; default: the first) ...",
    )
    to_step: int | str | None = Field(
        None, description="... to this step (name or 1-based index; default: the last)."
    )
    time_bins: int = Field(10, ge=1, le=1000, description="Bins of the time-to-convert histogram.")
    conversion: str | None = Field(
        None, description="Conversion step for attribution (default: the last step)."
    )
    attribute: Literal["auto", "touchpoint", "channel"] = Field(
        "auto",
        description="Column attributed; auto: `touchpoint` if present, else `channel`.",
    )
    path_data: PathData | None = Field(
        None, description="Attribute pre-aggregated paths instead of the event log's."
    )
    weight: str | None = Field(
        None,
        description="Event-log column: the number of journeys a unit stands for (a whole "
        "number, the same on all its rows); weights funnel counts, rates, breakdowns, "
        "comparisons, times and attribution as if the unit's rows were replicated.",
    )
    value_column: str | None = Field(
        None,
        description="Event-log column: conversion value on the conversion event; adds "
        "value-weighted Markov attribution (`markov_value`).",
    )
    order: int | Literal["auto"] = Field(
        1,
        description="Markov order k (states: k consecutive touches), or auto: "
        "ChannelAttribution's penalised-AUC choice (table `attribution_orders`).",
    )
    max_order: int = Field(5, ge=1, le=20, description="Largest order tried by order: auto.")
    bootstrap: int = Field(
        0, ge=0, le=10_000, description="Bootstrap resamples for Markov share intervals (0: none)."
    )
    confidence: float = Field(0.95, gt=0, lt=1, description="Level of the bootstrap intervals.")
    seed: int = Field(0, description="Seed of the bootstrap resamples.")
    transitions: Literal["all", "steps"] = Field(
        "all", description="Transition matrix over all step names, or only the funnel steps."
    )
    satisfaction_min: float = Field(
        3.0, description="Touchpoints whose mean satisfaction is below this are flagged."
    )
    value: Literal[
        "conversion_from_previous", "conversion_from_start", "drop_off_rate", "reached"
    ] = Field("conversion_from_previous", description="Funnel column reported as warn/fail value.")
    top_paths: int = Field(20, ge=1, description="Rows of the `paths` table (most common first).")
    step_matrix: int = Field(
        10, ge=1, le=200, description="Event positions (columns) of the `step_matrix` table."
    )
    prefix: str = Field("", description="Prefix of the table names written.")

    @field_validator("order")
    @classmethod
    def _order(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 20:
            raise ValueError(f"order must be between 1 and 20 (or auto), not {value}")
        return value

    @field_validator("steps")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        dup = sorted({s for s in value if value.count(s) > 1})
        if dup:
            raise ValueError(f"steps must be distinct; repeated: {', '.join(dup)}")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            events_mod.parse_window(value)
        return value

    @field_validator("convert_from", "convert_to")
    @classmethod
    def _a_step(cls, value: str | None, info: ValidationInfo) -> str | None:
        steps = info.data.get("steps")
        if value is not None and steps is not None and value not in steps:
            raise ValueError(f"{value!r} is not one of the steps ({', '.join(steps)})")
        return value

    @field_validator("from_step", "to_step")
    @classmethod
    def _range_step(cls, value: int | str | None, info: ValidationInfo) -> int | str | None:
        steps, mode = info.data.get("steps"), info.data.get("mode")
        if value is None or steps is None:
            return value
        step_position(value, steps, mode or "sequential")
        if info.field_name == "to_step":
            start = info.data.get("from_step")
            i = 0 if start is None else step_position(start, steps, mode or "sequential")
            if not i < step_position(value, steps, mode or "sequential"):
                raise ValueError(
                    f"to_step {value!r} must come after from_step {start or 1!r} in the steps"
                )
        return value

    @field_validator("exclusions")
    @classmethod
    def _exclusions(cls, value: list[Exclusion], info: ValidationInfo) -> list[Exclusion]:
        steps, mode = info.data.get("steps"), info.data.get("mode")
        if steps is not None and mode is not None:
            exclusion_ranges(value, steps, mode)
        return value

    @model_validator(mode="after")
    def _references(self) -> JourneyOptions:
        if self.conversion is not None and not self.conversion.strip():
            raise ValueError("conversion must be a step name")
        if not self.steps and self.path_data is None:
            raise ValueError("steps: give at least one funnel step (or only path_data)")
        i, j = self.convert_range
        if len(self.steps) > 1 and not i < j:
            raise ValueError("convert_from must come before convert_to in the steps")
        return self

    @property
    def convert_range(self) -> tuple[int, int]:
        """0-based (from, to) steps of the time-to-convert histogram."""
        i = 0 if self.convert_from is None else self.steps.index(self.convert_from)
        j = len(self.steps) - 1 if self.convert_to is None else self.steps.index(self.convert_to)
        return i, j

    @property
    def step_range(self) -> tuple[int, int] | None:
        """0-based (from, to) steps of the `funnel_range` table; None when not asked for."""
        if self.from_step is None and self.to_step is None:
            return None
        last = len(self.steps) - 1
        i = 0 if self.from_step is None else step_position(self.from_step, self.steps, self.mode)
        j = last if self.to_step is None else step_position(self.to_step, self.steps, self.mode)
        return i, j

    @property
    def exclusion_ranges(self) -> list[tuple[str, int, int]]:
        """Exclusions as ``(event, from, to)`` 0-based step ranges."""
        return exclusion_ranges(self.exclusions, self.steps, self.mode)

    @property
    def attempt_rule(self) -> str:
        if self.attempt == "auto":
            return "best" if self.mode == "unordered" else "first"
        return self.attempt

    @property
    def window_delta(self) -> timedelta | None:
        return None if self.window is None else events_mod.parse_window(self.window)

    def name(self, table: str) -> str:
        return f"{self.prefix}{table}"


def exclusion_ranges(
    exclusions: list[Exclusion], steps: list[str], mode: str
) -> list[tuple[str, int, int]]:
    """Exclusions as ``(event, from, to)`` 0-based step ranges; ValueError when invalid."""
    out = []
    last = len(steps) - 1
    for x in exclusions:
        if x.event in steps:
            raise ValueError(f"{x.event!r} is a funnel step, not an exclusion")
        for step in (x.after, x.before):
            if step is not None and step not in steps:
                raise ValueError(f"{step!r} is not one of the steps ({', '.join(steps)})")
        i = 0 if x.after is None else steps.index(x.after)
        j = last if x.before is None else steps.index(x.before)
        if not i < j:
            raise ValueError(f"{x.event!r} needs 'after' to be an earlier step than 'before'")
        if mode == "unordered" and (i, j) != (0, last):
            raise ValueError(
                f"{x.event!r}: an unordered funnel has no step order, so an exclusion spans "
                "all steps (leave out after/before), as in PostHog"
            )
        out.append((x.event, i, j))
    return out


def step_position(step: int | str, steps: list[str], mode: str) -> int:
    """0-based position of a step given by name or 1-based index; ValueError when none."""
    if isinstance(step, int):
        if not 1 <= step <= len(steps):
            raise ValueError(f"step index {step} is not between 1 and {len(steps)} (the steps)")
        return step - 1
    if mode == "unordered":
        raise ValueError(
            f"step {step!r}: an unordered funnel's rows are '1 step', '2 steps', …, not step "
            "names; give a 1-based index"
        )
    if step not in steps:
        raise ValueError(f"{step!r} is not one of the steps ({', '.join(steps)})")
    return steps.index(step)
