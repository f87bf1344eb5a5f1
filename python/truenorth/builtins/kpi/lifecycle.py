"""Lifecycle metrics: churn, retention, cohort retention and engagement, per period of the
customers' subscriptions (``start``, ``end``) or activity (events)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field

from truenorth.errors import DataError

from .core import (
    PER,
    SEG,
    Grouping,
    Schema,
    check_rows,
    grouping_sets,
    proportion_ci,
    require_columns,
    temporal,
    z_value,
)
from .options import CI, Computed, KpiInputs, KpiOptions

COHORT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "rule_id": pl.String,
    "segment": pl.String,
    "cohort": pl.Date,
    "age": pl.Int64,
    "customers": pl.Int64,
    "retained": pl.Int64,
    "retention": pl.Float64,
}


class _Lifecycle(KpiOptions):
    source: str = Field(
        default="subscriptions",
        description="Table with one row per customer: `start` and `end` (null while active).",
    )
    period: str | None = Field(default="1mo", description="Period length (required).")
    since: dt.date | None = Field(default=None, description="First period (default: first start).")
    until: dt.date | None = Field(
        default=None, description="Last period (default: the last start or end)."
    )

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            churn_retention(
                inputs.table(self.source),
                metric=self.metric,
                period=self.period or "1mo",
                by=self.by,
                since=self.since,
                until=self.until,
                source=self.source,
            )
        )


class ChurnOptions(_Lifecycle):
    """Churn rate per period: customers lost / customers at the period's start."""

    metric: Literal["churn"] = "churn"
    higher_is_better: ClassVar[bool] = False
    label: ClassVar[str] = "churn rate"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "subscriptions",
        "customer, start, end (null = active)",
        "lost in period / at its start (new excluded)",
    )

    def unit(self) -> str:
        return f"share lost per {self.period}"


class RetentionOptions(_Lifecycle):
    """Customer retention rate per period: (customers at end - new customers) / at start."""

    metric: Literal["retention"] = "retention"
    label: ClassVar[str] = "retention rate"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "subscriptions",
        "start, end",
        "(at end - new) / at start",
    )

    def unit(self) -> str:
        return f"share retained per {self.period}"


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

    label: ClassVar[str] = "cohort retention"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "transactions",
        "customer, time (`basis: activity`) or start, end",
        "retention at `age`; table `cohort_retention` (*)",
    )

    def unit(self) -> str:
        return f"share retained after {self.age} x {self.period}"

    def extra_tables(self) -> dict[str, Schema]:
        return {self.extra_table("cohort_retention"): COHORT_SCHEMA}

    def compute(self, inputs: KpiInputs) -> Computed:
        curves = cohort_table(
            inputs.table(self.source),
            basis=self.basis,
            period=self.period or "1mo",
            by=self.by,
            source=self.source,
        )
        table = curves.select(
            pl.lit(inputs.rule_id, pl.String).alias("rule_id"), *curves.columns
        ).cast(COHORT_SCHEMA)  # type: ignore[arg-type]
        return Computed(
            cohort_kpis(curves, age=self.age, by=self.by is not None),
            {self.extra_table("cohort_retention"): table},
        )


class EngagementRateOptions(KpiOptions):
    """Engagement rate per period: customers of the base with >= `min_events` events in the
    period / customers of the base active (subscribed) during the period."""

    metric: Literal["engagement_rate"] = "engagement_rate"
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

    label: ClassVar[str] = "engagement rate"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "events + subscriptions (`base`)",
        "customer, time; customer, start, end",
        "active customers with >= `min_events` events in the period / active customers",
    )

    def unit(self) -> str:
        return f"share of active customers engaged per {self.period}"

    def inputs(self) -> list[str]:
        return [self.source, self.base]

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            engagement_rate(
                inputs.table(self.source),
                inputs.table(self.base),
                period=self.period or "1mo",
                by=self.by,
                min_events=self.min_events,
                ci=self.ci,
                confidence=self.confidence,
                source=self.source,
                base_source=self.base,
            )
        )


def _as_date(value: object) -> dt.date:
    """A Date column's min or max (Polars types it as any Python value)."""
    if not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {value!r}")
    return value


def _period_grid(first: dt.date, last: dt.date, period: str) -> pl.DataFrame:
    grid = pl.date_range(first, last, period, eager=True).alias("period")
    return pl.DataFrame(grid).with_row_index("idx").with_columns(pl.col("idx").cast(pl.Int64))


def _subscriptions(
    lf: pl.LazyFrame, source: str, by: str | None, period: str, *, customer: bool = False
) -> pl.LazyFrame:
    lf = temporal(lf, source, "start", "the date the customer started")
    if "end" in lf.collect_schema():
        lf = temporal(lf, source, "end", "the date the customer left (null while active)")
    else:
        lf = lf.with_columns(pl.lit(None, pl.Datetime("us")).alias("end"))
    check_rows(lf, source, "start", pl.col("start").is_null(), "a start date")
    check_rows(lf, source, "end", pl.col("end") < pl.col("start"), "an end at or after `start`")
    if by:
        require_columns(lf, source, {by: "the segment column named by `by`"})
    seg = pl.col(by).cast(pl.String) if by else pl.lit("", pl.String)
    if customer:
        require_columns(lf, source, {"customer": "customer id"})
    return lf.select(
        *([pl.col("customer").cast(pl.String)] if customer else []),
        seg.alias(SEG),
        pl.col("start").dt.truncate(period).cast(pl.Date).alias("sp"),
        pl.col("end").dt.truncate(period).cast(pl.Date).alias("ep"),
    )


def lifecycle_counts(
    lf: pl.LazyFrame,
    *,
    period: str = "1mo",
    by: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str = "subscriptions",
) -> pl.DataFrame:
    """Per segment and period: customers at start, new, lost (new excluded), at end.

    Input: one row per customer with ``start`` and ``end`` (null while active). A customer is a
    customer from ``start`` until ``end``; lost in the period holding ``end``; counted at a
    period's start when started in an earlier period and not ended in an earlier period.
    Customers who start and leave in the same period count as new and not as lost.
    """
    subs = _subscriptions(lf, source, by, period).collect()
    if subs.height == 0:
        raise DataError(f"{source}: no rows; expected one row per customer")
    first = subs["sp"].min()
    last = max(d for d in (subs["sp"].max(), subs["ep"].max()) if d is not None)
    if until is not None:
        last = max(last, until)
    grid = _period_grid(_as_date(first), _as_date(last), period).select("period")
    segs = subs.select(SEG).unique()
    frame = segs.join(grid, how="cross")
    starts = subs.group_by(SEG, "sp").agg(pl.len().alias("new")).rename({"sp": "period"})
    ended = subs.filter(pl.col("ep").is_not_null())
    ends = (
        ended.group_by(SEG, "ep")
        .agg(pl.len().alias("ended"), (pl.col("ep") == pl.col("sp")).sum().alias("same"))
        .rename({"ep": "period"})
    )
    out = (
        frame.join(starts, on=[SEG, "period"], how="left")
        .join(ends, on=[SEG, "period"], how="left")
        .with_columns(pl.col("new", "ended", "same").fill_null(0).cast(pl.Int64))
        .sort(SEG, "period")
        .with_columns(
            (
                (pl.col("new") - pl.col("ended")).cum_sum().over(SEG)
                - (pl.col("new") - pl.col("ended"))
            ).alias("at_start")
        )
        .with_columns(
            (pl.col("ended") - pl.col("same")).alias("lost"),
            (pl.col("new") - pl.col("same")).alias("new_remaining"),
            (pl.col("at_start") + pl.col("new") - pl.col("ended")).alias("at_end"),
        )
    )
    if since is not None:
        out = out.filter(pl.col("period") >= since)
    if until is not None:
        out = out.filter(pl.col("period") <= until)
    return out.select(SEG, "period", "at_start", "new", "lost", "new_remaining", "at_end")


def churn_retention(
    lf: pl.LazyFrame,
    *,
    metric: str,
    period: str = "1mo",
    by: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str = "subscriptions",
) -> pl.DataFrame:
    """Churn (lost / at start) or retention ((at end - new) / at start) per period.

    "new" in the retention formula counts the customers acquired in the period *and still
    customers at its end*: the textbook formula (E - N) / S silently assumes new customers do
    not leave within the period; excluding them consistently from both E and N keeps
    retention = 1 - churn, which the textbook formula breaks when they do.

    Rows per period (and segment x period with ``by``); the ``overall`` and per-segment rows pool
    the periods: sum of the numerators / sum of customers at the periods' starts (the average
    per-period rate, weighted by exposure). ``n`` is the number of customers at start.
    """
    counts = lifecycle_counts(lf, period=period, by=by, since=since, until=until, source=source)
    num = pl.col("lost") if metric == "churn" else pl.col("at_end") - pl.col("new_remaining")
    counts = counts.with_columns(num.alias("x"))
    aggs = [pl.col("x").sum().alias("x"), pl.col("at_start").sum().alias("n")]
    grouping = Grouping(by=SEG if by else None, period="1d", time="period")
    lazy = counts.lazy().with_columns(pl.col("period").alias(PER))
    if by:
        lazy = lazy.with_columns(pl.col(SEG).alias(SEG))

    def fin(d: pl.DataFrame) -> pl.DataFrame:
        return d.with_columns(
            pl.when(pl.col("n") > 0).then(pl.col("x") / pl.col("n")).alias("value")
        )

    return grouping_sets(lazy, grouping, aggs, fin)


def engagement_rate(
    events: pl.LazyFrame,
    base: pl.LazyFrame,
    *,
    period: str = "1mo",
    by: str | None = None,
    min_events: int = 1,
    ci: str = "wald",
    confidence: float = 0.95,
    source: str = "events",
    base_source: str = "subscriptions",
) -> pl.DataFrame:
    """Share of the customer base engaged in each period.

    Active in period k: ``start`` in or before k and no ``end`` before k (as for churn). Engaged:
    active and with at least ``min_events`` events (rows of ``events``) in k; events of customers
    outside the base, or outside their active periods, are ignored. Rows per period (and segment
    x period with ``by``, a column of the base); ``overall`` and per-segment rows pool the
    periods (engaged customer-periods / active customer-periods). ``n`` is the active count.
    """
    subs_df = _subscriptions(base, base_source, by, period, customer=True).collect()
    dup = subs_df.filter(pl.col("customer").is_duplicated())
    if dup.height:
        raise DataError(
            f"{base_source}: customer {dup['customer'][0]!r} appears more than once; expected "
            "one row per customer in the base"
        )
    counts = lifecycle_counts(base, period=period, by=by, source=base_source)
    ev = temporal(events, source, "time", "the event time")
    require_columns(ev, source, {"customer": "customer id"})
    engaged = (
        ev.filter(pl.col("time").is_not_null())
        .select(
            pl.col("customer").cast(pl.String),
            pl.col("time").dt.truncate(period).cast(pl.Date).alias("period"),
        )
        .group_by("customer", "period")
        .agg(pl.len().alias("events"))
        .filter(pl.col("events") >= min_events)
        .collect()
        .join(subs_df, on="customer", how="inner")
        .filter(
            (pl.col("sp") <= pl.col("period"))
            & (pl.col("ep").is_null() | (pl.col("ep") >= pl.col("period")))
        )
        .group_by(SEG, "period")
        .agg(pl.len().alias("x"))
    )
    # active during period k = at its start + new in k
    active = counts.with_columns((pl.col("at_start") + pl.col("new")).alias("n"))
    table = (
        active.join(engaged, on=[SEG, "period"], how="left")
        .with_columns(pl.col("x").fill_null(0))
        .with_columns(pl.col("period").alias(PER))
    )
    grouping = Grouping(by=SEG if by else None, period="1d", time="period")
    aggs = [pl.col("x").sum().alias("x"), pl.col("n").sum().alias("n")]
    z = z_value(confidence)
    return grouping_sets(table.lazy(), grouping, aggs, lambda d: proportion_ci(d, "x", "n", ci, z))


def cohort_table(
    lf: pl.LazyFrame,
    *,
    basis: str = "activity",
    period: str = "1mo",
    by: str | None = None,
    source: str = "transactions",
) -> pl.DataFrame:
    """Cohort retention curves: segment, cohort, age, customers, retained, retention.

    activity: a customer's cohort is the period of their first event; retained at age k when
    they have an event k periods after it. subscription: cohort = period of ``start``; retained
    at age k when not ended before the start of period cohort + k. Ages run up to the last
    period observed in the data; retention at age 0 is 1 by construction.
    """
    if basis == "activity":
        lf = temporal(lf, source, "time", "the event time")
        require_columns(lf, source, {"customer": "customer id"})
        if by:
            require_columns(lf, source, {by: "the segment column named by `by`"})
        events = lf.filter(pl.col("time").is_not_null()).select(
            "customer",
            (pl.col(by).cast(pl.String) if by else pl.lit("", pl.String)).alias("__seg_raw"),
            pl.col("time").dt.truncate(period).cast(pl.Date).alias("p"),
        )
        first = (
            events.group_by("customer")
            .agg(
                pl.col("p").min().alias("cohort"),
                pl.col("__seg_raw").sort_by("p").first().alias(SEG),
            )
            .collect()
        )
        ev = events.select("customer", "p").unique().collect()
        if ev.height == 0:
            raise DataError(f"{source}: no events; expected rows with `customer` and `time`")
        grid = _period_grid(_as_date(ev["p"].min()), _as_date(ev["p"].max()), period)
        idx = grid.rename({"period": "p"})
        joined = (
            ev.join(first, on="customer")
            .join(idx, on="p")
            .join(idx.rename({"p": "cohort", "idx": "cidx"}), on="cohort")
        )
        retained = (
            joined.with_columns((pl.col("idx") - pl.col("cidx")).alias("age"))
            .group_by(SEG, "cohort", "age")
            .agg(pl.col("customer").n_unique().alias("retained"))
        )
    else:
        subs = _subscriptions(lf, source, by, period).collect()
        if subs.height == 0:
            raise DataError(f"{source}: no rows; expected one row per customer")
        last = max(d for d in (subs["sp"].max(), subs["ep"].max()) if d is not None)
        grid = _period_grid(_as_date(subs["sp"].min()), _as_date(last), period)
        idx = grid.rename({"period": "p"})
        s = (
            subs.join(idx.rename({"p": "sp", "idx": "cidx"}), on="sp")
            .join(idx.rename({"p": "ep", "idx": "eidx"}), on="ep", how="left")
            .rename({"sp": "cohort"})
        )
        first = s.group_by(SEG, "cohort").agg(pl.len().alias("customers"))
        max_idx = grid.height - 1
        ages = pl.DataFrame({"age": pl.int_range(0, max_idx + 1, eager=True).cast(pl.Int64)})
        retained = (
            s.join(ages, how="cross")
            .filter(
                (pl.col("cidx") + pl.col("age") <= max_idx)
                & (pl.col("eidx").is_null() | (pl.col("eidx") >= pl.col("cidx") + pl.col("age")))
            )
            .group_by(SEG, "cohort", "age")
            .agg(pl.len().alias("retained"))
        )
    cohorts = (
        first.group_by(SEG, "cohort").agg(pl.len().alias("customers"))
        if basis == "activity"
        else first
    )
    max_idx = grid.height - 1
    ages = pl.DataFrame({"age": pl.int_range(0, max_idx + 1, eager=True).cast(pl.Int64)})
    cidx = grid.rename({"period": "cohort", "idx": "cidx"})
    table = (
        cohorts.join(cidx, on="cohort")
        .join(ages, how="cross")
        .filter(pl.col("cidx") + pl.col("age") <= max_idx)
        .join(retained, on=[SEG, "cohort", "age"], how="left")
        .with_columns(
            pl.col("retained").fill_null(0).cast(pl.Int64), pl.col("customers").cast(pl.Int64)
        )
        .with_columns((pl.col("retained") / pl.col("customers")).alias("retention"))
        .sort(SEG, "cohort", "age")
    )
    return table.select(
        pl.col(SEG).alias("segment") if by else pl.lit(None, pl.String).alias("segment"),
        "cohort",
        "age",
        "customers",
        "retained",
        "retention",
    )


def cohort_kpis(table: pl.DataFrame, *, age: int, by: bool) -> pl.DataFrame:
    """KPI rows from a cohort table: retention at ``age`` per cohort; pooled overall/segment."""
    at = table.filter(pl.col("age") == age).with_columns(
        pl.col("segment").fill_null("").alias(SEG), pl.col("cohort").alias(PER)
    )
    grouping = Grouping(by=SEG if by else None, period="1d", time="cohort")
    aggs = [pl.col("retained").sum().alias("x"), pl.col("customers").sum().alias("n")]

    def fin(d: pl.DataFrame) -> pl.DataFrame:
        return d.with_columns(
            pl.when(pl.col("n") > 0).then(pl.col("x") / pl.col("n")).alias("value")
        )

    return grouping_sets(at.lazy(), grouping, aggs, fin)
