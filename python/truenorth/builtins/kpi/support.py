"""Support metrics: first response time and first contact resolution (one row per ticket)."""

from __future__ import annotations

from typing import ClassVar, Literal

import polars as pl
from pydantic import Field

from .core import (
    Grouping,
    _boolean,
    check_rows,
    grouping_sets,
    numeric,
    proportion_ci,
    require_columns,
    temporal,
    z_value,
)
from .options import CI, Computed, KpiInputs, KpiOptions


class FirstResponseTimeOptions(KpiOptions):
    """First response time of support tickets, in hours (seeds' target: under 2 hours)."""

    metric: Literal["first_response_time"] = "first_response_time"
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

    label: ClassVar[str] = "first response time (hours)"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "tickets",
        "created, first_response (or response_hours)",
        "median hours (`statistic: mean / p90`)",
    )

    def unit(self) -> str:
        return f"hours ({self.statistic})"

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            first_response_time(
                inputs.table(self.source),
                grouping=self.grouping(),
                statistic=self.statistic,
                source=self.source,
            )
        )


class FirstContactResolutionOptions(KpiOptions):
    """First contact resolution: share of resolved tickets solved in one contact."""

    metric: Literal["first_contact_resolution"] = "first_contact_resolution"
    source: str = Field(
        default="tickets", description="Tickets with `contacts` and optional `resolved`."
    )
    time: str = Field(default="created", description="Time column used by `period`.")
    denominator: Literal["resolved", "all"] = Field(
        default="resolved", description="Share of resolved tickets (default) or of all tickets."
    )
    ci: CI = Field(default="wald", description="Confidence interval method.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")

    label: ClassVar[str] = "first contact resolution"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "tickets",
        "contacts, resolved (optional)",
        "share resolved in one contact",
    )

    def unit(self) -> str:
        return "share"

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            first_contact_resolution(
                inputs.table(self.source),
                grouping=self.grouping(),
                denominator=self.denominator,
                ci=self.ci,
                confidence=self.confidence,
                source=self.source,
            )
        )


def first_response_time(
    lf: pl.LazyFrame,
    *,
    grouping: Grouping = Grouping(time="created"),
    statistic: str = "median",
    source: str = "tickets",
) -> pl.DataFrame:
    """First response time in hours over answered tickets (``first_response`` not null).

    Input: ``created`` and ``first_response`` timestamps, or a numeric ``response_hours``.
    """
    lf = grouping.prepare(lf, source)
    schema = lf.collect_schema()
    if "response_hours" in schema and "first_response" not in schema:
        lf = numeric(lf, source, "response_hours")
        hours = pl.col("response_hours")
        check_rows(lf, source, "response_hours", hours < 0, "hours >= 0")
    else:
        require_columns(
            lf,
            source,
            {
                "created": "the ticket creation time",
                "first_response": "the first response time (null if unanswered)",
            },
        )
        lf = temporal(lf, source, "created", "the ticket creation time")
        lf = temporal(lf, source, "first_response", "the first response time")
        check_rows(
            lf,
            source,
            "first_response",
            pl.col("first_response") < pl.col("created"),
            "a first response at or after `created`",
        )
        hours = (pl.col("first_response") - pl.col("created")).dt.total_microseconds() / 3.6e9
    lf = lf.with_columns(hours.alias("__hours")).filter(pl.col("__hours").is_not_null())
    h = pl.col("__hours")
    stat = {"median": h.median(), "mean": h.mean(), "p90": h.quantile(0.9, "linear")}[statistic]
    return grouping_sets(lf, grouping, [stat.alias("value"), pl.len().alias("n")], lambda d: d)


def first_contact_resolution(
    lf: pl.LazyFrame,
    *,
    grouping: Grouping = Grouping(time="created"),
    denominator: str = "resolved",
    ci: str = "wald",
    confidence: float = 0.95,
    source: str = "tickets",
) -> pl.DataFrame:
    """Share of tickets resolved in one contact (``contacts == 1``) among resolved (or all).

    Input: ``contacts`` (number of customer contacts, >= 1) and optional ``resolved``
    (boolean; when absent every ticket counts as resolved).
    """
    lf = grouping.prepare(lf, source)
    require_columns(lf, source, {"contacts": "the number of contacts per ticket (>= 1)"})
    lf = numeric(lf, source, "contacts")
    c = pl.col("contacts")
    check_rows(lf, source, "contacts", (c < 1) | (c != c.round()), "a whole number >= 1")
    if "resolved" in lf.collect_schema():
        lf = _boolean(lf, source, "resolved", "whether the ticket was resolved")
        resolved = pl.col("resolved").fill_null(False)
    else:
        resolved = pl.lit(True)
    one = resolved & (c == 1)
    denom = resolved.sum() if denominator == "resolved" else pl.len()
    aggs = [one.sum().alias("x"), denom.alias("n")]
    z = z_value(confidence)
    return grouping_sets(lf, grouping, aggs, lambda d: proportion_ci(d, "x", "n", ci, z))
