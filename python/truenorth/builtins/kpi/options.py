"""Options of the ``kpi`` rule kind, and the interface every metric implements.

A metric is one subclass of :class:`KpiOptions` with ``metric: Literal["name"] = "name"``: its
own options (pydantic fields) plus what the rule kind needs to run it — ``label``, ``unit()``,
``inputs()``, ``compute()``, ``higher_is_better`` and, when it writes a second table,
``extra_tables()``. Defining the subclass registers it, so adding a metric is adding one class
(in the module of its concept: survey, support, acquisition, lifecycle, health).

``KpiOptions`` is the model the rule kind registers. Validating through it
(``KpiOptions.model_validate({...})``) dispatches on ``metric`` to the metric's own model, so
each metric has its own validated options and its own JSON schema
(``KpiOptions.model_json_schema()`` is the discriminated union). Validation errors are
re-raised without the union's tag in their location, so ``("ci",)`` rather than
``("nps", "ci")`` points at the offending key of the rule's ``with:`` mapping.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import polars as pl
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

from .core import Grouping, Schema

PERIOD_RE = re.compile(r"^[1-9][0-9]*(d|w|mo|q|y)$")

CI = Literal["wald", "adjusted_wald", "none"]


@dataclass(frozen=True)
class KpiInputs:
    """What a metric's ``compute`` reads: tables by name, and the id of the rule it runs for."""

    table: Callable[[str], pl.LazyFrame]
    has_table: Callable[[str], bool]
    rule_id: str = "kpi"


@dataclass
class Computed:
    """A metric's result: KPI rows (before benchmark/target) and extra tables by name."""

    rows: pl.DataFrame
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


class Baseline(BaseModel):
    """A baseline each row is compared with (with a test of the difference, see
    :mod:`.compare`): a period (the same segment then), the previous period, or a segment (in
    the same period)."""

    model_config = {"extra": "forbid", "frozen": True}

    period: dt.date | Literal["previous"] | None = Field(
        default=None,
        description="Start date of the baseline period (as produced by `period`), e.g. "
        "2026-01-01; or `previous`: each period against the one before it.",
    )
    segment: str | None = Field(
        default=None,
        description="A value of the `by` column: every other segment is compared with it.",
    )
    confidence: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Confidence level of the difference's interval; `significant` is "
        "p_value < 1 - confidence.",
    )

    @model_validator(mode="after")
    def _one_baseline(self) -> Baseline:
        if (self.period is None) == (self.segment is None):
            raise ValueError("a baseline `benchmark` names either `period` or `segment`")
        return self


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
        description="A fixed value, or a baseline: {period: DATE}, {period: previous} or "
        "{segment: NAME}; rows get `benchmark` and `delta = value - benchmark`, and against a "
        "baseline also a test of the difference (delta_ci_low/high, p_value, significant; "
        'use e.g. `warn: "significant AND delta < -5"`).',
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

    if TYPE_CHECKING:  # every metric declares its own (a field here would reorder theirs)
        source: str

    #: True when a higher value is better (targets are minimums, not maximums)
    higher_is_better: ClassVar[bool] = True
    #: the metric's name in findings ("NPS", "CLV:CAC")
    label: ClassVar[str] = ""
    #: its row in the kind's docs: default source table(s), input columns, what the value is
    doc_row: ClassVar[tuple[str, str, str]] = ("", "", "")

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

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Defining a subclass with ``metric: Literal["name"] = "name"`` registers the metric."""
        super().__pydantic_init_subclass__(**kwargs)
        metric = cls.model_fields["metric"].default
        if not isinstance(metric, str):
            return  # a shared base of several metrics (e.g. the survey metrics)
        if metric in _METRICS:
            raise TypeError(f"kpi metric {metric!r} is defined twice")
        _METRICS[metric] = cls
        global _ADAPTER
        _ADAPTER = None

    # ------------------------------------------------------------------ the metric interface
    def unit(self) -> str:
        """What a value means, stored with the data (e.g. the answer scale of CSAT)."""
        raise NotImplementedError

    def inputs(self) -> list[str]:
        """The tables the metric reads (declared, so the engine orders rules by them)."""
        return [self.source]

    def extra_tables(self) -> dict[str, Schema]:
        """Tables written besides the KPI table, with their schemas (e.g. cohort curves)."""
        return {}

    def compute(self, inputs: KpiInputs) -> Computed:
        """The KPI rows (see :data:`.core.KPI_CORE`) and any extra tables."""
        raise NotImplementedError

    def effective_target(self) -> float | None:
        """The target rows are compared with (a metric may derive a default)."""
        return self.target

    def grouping(self) -> Grouping:
        return Grouping(by=self.by, period=self.period, time=self.time)

    def extra_table(self, base: str) -> str:
        """Name of a metric's second table: ``base`` with the default ``table: kpis``, else
        ``<table>_<base>`` (so two cohort or health rules writing distinct KPI tables don't
        clash)."""
        return base if self.table == "kpis" else f"{self.table}_{base}"

    @model_validator(mode="after")
    def _combinations(self) -> KpiOptions:
        if self.period is not None and not type(self).supports_period:
            raise ValueError(f"`period` is not supported by metric {self.metric!r}; remove it")
        b = self.benchmark
        if isinstance(b, Baseline) and b.period is not None and self.period is None:
            raise ValueError("a baseline-period `benchmark` needs `period` (e.g. period: 1mo)")
        if isinstance(b, Baseline) and b.segment is not None and self.by is None:
            raise ValueError("a baseline-segment `benchmark` needs `by` (the segment column)")
        return self

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if cls is not KpiOptions:
            return super().model_validate(obj, *args, **kwargs)
        if isinstance(obj, KpiOptions):
            return obj
        try:
            return _adapter().validate_python(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _untagged(exc) from None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if cls is not KpiOptions:
            return super().model_json_schema(*args, **kwargs)
        return _adapter().json_schema(*args, **kwargs)


def _untagged(exc: ValidationError) -> ValidationError:
    """Drop the discriminator tag (the metric name) from the front of each error location."""
    errors: list[InitErrorDetails] = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        if loc and isinstance(loc[0], str) and loc[0] in _METRICS:
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


_METRICS: dict[str, type[KpiOptions]] = {}
_ADAPTER: TypeAdapter[Any] | None = None


def metric_models() -> tuple[type[KpiOptions], ...]:
    """Every registered metric's options class, in registration order."""
    return tuple(_METRICS.values())


def _adapter() -> TypeAdapter[Any]:
    global _ADAPTER
    if _ADAPTER is None:
        union: Any = functools.reduce(operator.or_, _METRICS.values())
        _ADAPTER = TypeAdapter(Annotated[union, Field(discriminator="metric")])
    return _ADAPTER
