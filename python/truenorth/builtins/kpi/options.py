"""Options of the ``kpi`` rule kind: one pydantic model per metric, chosen by ``metric:``.

``KpiOptions`` is the model the rule kind registers. Validating through it
(``KpiOptions.model_validate({...})``) dispatches on ``metric`` to the metric's own model, so
each metric has its own validated options and its own JSON schema
(``KpiOptions.model_json_schema()`` is the discriminated union). Validation errors are
re-raised without the union's tag in their location, so ``("ci",)`` rather than
``("nps", "ci")`` points at the offending key of the rule's ``with:`` mapping.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from truenorth import Options

PERIOD_RE = re.compile(r"^[1-9][0-9]*(d|w|mo|q|y)$")

CI = Literal["wald", "adjusted_wald", "none"]


class Baseline(BaseModel):
    """A baseline period: each row's benchmark is the value of the same segment then."""

    model_config = {"extra": "forbid", "frozen": True}

    period: dt.date = Field(
        description="Start date of the baseline period (as produced by `period`), e.g. 2026-01-01."
    )


class KpiOptions(Options):
    """Options shared by every metric. ``metric`` selects the metric's own model."""

    metric: str = Field(description="Which KPI to compute.")
    by: str | None = Field(
        default=None, description="Also compute the KPI per value of this column (a segment)."
    )
    period: str | None = Field(
        default=None,
        description="Also compute the KPI per calendar period of `time`: 1d, 2w, 1mo, 1q, 1y.",
    )
    time: str = Field(default="time", description="Time column used by `period`.")
    benchmark: float | Baseline | None = Field(
        default=None,
        description="A fixed value, or {period: DATE} for a baseline period; rows get "
        '`benchmark` and `delta = value - benchmark` (use e.g. `warn: "delta < -5"`).',
    )
    target: float | None = Field(
        default=None,
        description="Target value; rows that miss it become findings when the rule has no "
        "warn/fail conditions of its own. Defaults follow the seeds where they give one.",
    )

    table: str = Field(
        default="kpis",
        min_length=1,
        description="Name of the KPI table this rule writes (one table per creating rule).",
    )

    higher_is_better: ClassVar[bool] = True
    default_source: ClassVar[str] = "survey"

    @field_validator("period")
    @classmethod
    def _period_ok(cls, v: str | None) -> str | None:
        if v is not None and not PERIOD_RE.match(v):
            raise ValueError(
                f"period {v!r} is not a calendar interval; expected e.g. 1d, 1w, 1mo, 1q, 1y"
            )
        return v

    # metrics whose rows have no time (a `period:` would be silently ignored)
    supports_period: ClassVar[bool] = True

    @model_validator(mode="after")
    def _combinations(self) -> KpiOptions:
        if self.period is not None and not type(self).supports_period:
            raise ValueError(f"`period` is not supported by metric {self.metric!r}; remove it")
        if isinstance(self.benchmark, Baseline) and self.period is None:
            raise ValueError("a baseline-period `benchmark` needs `period` (e.g. period: 1mo)")
        return self

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if cls is not KpiOptions:
            return super().model_validate(obj, *args, **kwargs)
        if isinstance(obj, KpiOptions):
            return obj
        try:
            return _adapter().validate_python(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _untagged(exc) from None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        if cls is not KpiOptions:
            return super().model_json_schema(*args, **kwargs)
        return _adapter().json_schema(*args, **kwargs)


def _untagged(exc: ValidationError) -> ValidationError:
    """Drop the discriminator tag (the metric name) from the front of each error location."""
    errors: list[InitErrorDetails] = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        if loc and isinstance(loc[0], str) and loc[0] in METRICS:
            loc = loc[1:]
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ("metric",)
        detail: dict[str, Any] = {"type": e["type"], "loc": loc, "input": e.get("input")}
        if "ctx" in e:
            detail["ctx"] = e["ctx"]
        errors.append(detail)  # type: ignore[arg-type]
    try:
        return ValidationError.from_exception_data("KpiOptions", errors)
    except Exception:  # pragma: no cover - unknown custom error types: keep the original
        return exc


class _Survey(KpiOptions):
    source: str = Field(default="survey", description="Dataset role or table with the answers.")
    column: str = Field(default="score", description="Column holding each answer.")
    ci: CI = Field(default="wald", description="Confidence interval method.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")


class NpsOptions(_Survey):
    """Net Promoter Score on 0-10 answers: %promoters (9-10) - %detractors (0-6), in points."""

    metric: Literal["nps"] = "nps"


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


class _Lifecycle(KpiOptions):
    default_source: ClassVar[str] = "subscriptions"
    source: str = Field(
        default="subscriptions",
        description="Table with one row per customer: `start` and `end` (null while active).",
    )
    period: str | None = Field(default="1mo", description="Period length (required).")
    since: dt.date | None = Field(default=None, description="First period (default: first start).")
    until: dt.date | None = Field(
        default=None, description="Last period (default: the last start or end)."
    )


class ChurnOptions(_Lifecycle):
    """Churn rate per period: customers lost / customers at the period's start."""

    metric: Literal["churn"] = "churn"
    higher_is_better: ClassVar[bool] = False


class RetentionOptions(_Lifecycle):
    """Customer retention rate per period: (customers at end - new customers) / at start."""

    metric: Literal["retention"] = "retention"


class CohortRetentionOptions(KpiOptions):
    """Cohort retention curves: the share of each acquisition cohort still active k periods on."""

    metric: Literal["cohort_retention"] = "cohort_retention"
    basis: Literal["activity", "subscription"] = Field(
        default="activity",
        description="activity: retained at age k = any event (row of `source`) in period k; "
        "subscription: retained = still active (no `end`) at the start of period k.",
    )
    source: str = Field(
        default="transactions",
        description="activity: events with `customer`, `time`; subscription: `customer`, "
        "`start`, `end`.",
    )
    period: str | None = Field(default="1mo", description="Cohort and age period length.")
    age: int = Field(
        default=1, ge=0, description="Age (in periods) whose retention goes into `kpis`."
    )


class CacOptions(KpiOptions):
    """Customer acquisition cost: sales and marketing cost / new customers."""

    metric: Literal["cac"] = "cac"
    default_source: ClassVar[str] = "acquisition"
    higher_is_better: ClassVar[bool] = False
    source: str = Field(
        default="acquisition",
        description="Table with `cost` (sales and marketing spend) and `new_customers`.",
    )


class ClvCacOptions(KpiOptions):
    """CLV:CAC ratio; >= 3 is the usual benchmark (the default target)."""

    supports_period: ClassVar[bool] = False

    metric: Literal["clv_cac"] = "clv_cac"
    default_source: ClassVar[str] = "customers"
    source: str = Field(default="customers", description="Table with a `clv` column per customer.")
    clv: float | None = Field(
        default=None, gt=0, description="Fixed CLV instead of the mean of `source`'s `clv`."
    )
    cac: float | None = Field(
        default=None, gt=0, description="Fixed CAC instead of computing it from `acquisition`."
    )
    acquisition: str = Field(
        default="acquisition", description="Table with `cost` and `new_customers` (for CAC)."
    )
    target: float | None = Field(default=3.0, description="Target ratio (usual benchmark: 3).")


class CacPaybackOptions(KpiOptions):
    """CAC payback in months: CAC / (monthly revenue per account x gross margin)."""

    supports_period: ClassVar[bool] = False

    metric: Literal["cac_payback"] = "cac_payback"
    default_source: ClassVar[str] = "transactions"
    higher_is_better: ClassVar[bool] = False
    gross_margin: float = Field(gt=0, le=1, description="Gross margin as a share (0-1].")
    cac: float | None = Field(
        default=None, gt=0, description="Fixed CAC instead of computing it from `acquisition`."
    )
    acquisition: str = Field(
        default="acquisition", description="Table with `cost` and `new_customers` (for CAC)."
    )
    arpa: float | None = Field(
        default=None,
        gt=0,
        description="Fixed monthly revenue per account instead of computing it from `source`.",
    )
    source: str = Field(
        default="transactions",
        description="Transactions (`customer`, `time`, `amount`) for monthly revenue per "
        "account = revenue / active customer-months.",
    )


class FirstResponseTimeOptions(KpiOptions):
    """First response time of support tickets, in hours (seeds' target: under 2 hours)."""

    metric: Literal["first_response_time"] = "first_response_time"
    default_source: ClassVar[str] = "tickets"
    higher_is_better: ClassVar[bool] = False
    source: str = Field(
        default="tickets",
        description="Tickets with `created` and `first_response` times (unanswered: null).",
    )
    time: str = Field(default="created", description="Time column used by `period`.")
    statistic: Literal["median", "mean", "p90"] = Field(
        default="median", description="Statistic over answered tickets."
    )
    target: float | None = Field(default=2.0, description="Target in hours (seeds: < 2).")


class FirstContactResolutionOptions(KpiOptions):
    """First contact resolution: share of resolved tickets solved in one contact."""

    metric: Literal["first_contact_resolution"] = "first_contact_resolution"
    default_source: ClassVar[str] = "tickets"
    source: str = Field(
        default="tickets", description="Tickets with `contacts` and optional `resolved`."
    )
    time: str = Field(default="created", description="Time column used by `period`.")
    denominator: Literal["resolved", "all"] = Field(
        default="resolved", description="Share of resolved tickets (default) or of all tickets."
    )
    ci: CI = Field(default="wald", description="Confidence interval method.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")


class EngagementRateOptions(KpiOptions):
    """Engagement rate per period: customers of the base with >= `min_events` events in the
    period / customers of the base active (subscribed) during the period."""

    metric: Literal["engagement_rate"] = "engagement_rate"
    default_source: ClassVar[str] = "events"
    source: str = Field(
        default="events", description="Engagement events: `customer`, `time` (one row each)."
    )
    base: str = Field(
        default="subscriptions",
        description="The customer base: `customer`, `start`, `end` (null while active); "
        "`by` names a column of this table.",
    )
    period: str | None = Field(default="1mo", description="Period length (required).")
    min_events: int = Field(default=1, ge=1, description="Events in a period to count as engaged.")
    ci: CI = Field(default="wald", description="Confidence interval method (per period).")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")


class ReferralRateOptions(KpiOptions):
    """Referral rate: share of new customers acquired through a referral."""

    metric: Literal["referral_rate"] = "referral_rate"
    default_source: ClassVar[str] = "customers"
    source: str = Field(
        default="customers", description="One row per customer with a boolean `referred`."
    )
    time: str = Field(default="start", description="Time column used by `period`.")
    ci: CI = Field(default="wald", description="Confidence interval method.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")


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
    default_source: ClassVar[str] = "customers"
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


MetricOptions = Annotated[
    NpsOptions
    | CsatOptions
    | CesOptions
    | ChurnOptions
    | RetentionOptions
    | CohortRetentionOptions
    | CacOptions
    | ClvCacOptions
    | CacPaybackOptions
    | FirstResponseTimeOptions
    | FirstContactResolutionOptions
    | ReferralRateOptions
    | EngagementRateOptions
    | HealthScoreOptions,
    Field(discriminator="metric"),
]

METRICS: tuple[str, ...] = (
    "nps",
    "csat",
    "ces",
    "churn",
    "retention",
    "cohort_retention",
    "cac",
    "clv_cac",
    "cac_payback",
    "first_response_time",
    "first_contact_resolution",
    "referral_rate",
    "engagement_rate",
    "health_score",
)

_ADAPTER: TypeAdapter[Any] | None = None


def _adapter() -> TypeAdapter[Any]:
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(MetricOptions)
    return _ADAPTER
