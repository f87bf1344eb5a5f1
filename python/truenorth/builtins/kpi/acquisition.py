"""Acquisition metrics: CAC, CLV:CAC, CAC payback and referral rate."""

from __future__ import annotations

from typing import ClassVar, Literal

import polars as pl
from pydantic import Field

from truenorth.errors import DataError

from .core import (
    KPI_CORE,
    OVERALL,
    Grouping,
    _boolean,
    _tidy,
    check_rows,
    grouping_sets,
    numeric,
    proportion_ci,
    require_columns,
    temporal,
    z_value,
)
from .options import CI, Computed, KpiInputs, KpiOptions


class CacOptions(KpiOptions):
    """Customer acquisition cost: sales and marketing cost / new customers."""

    metric: Literal["cac"] = "cac"
    higher_is_better: ClassVar[bool] = False
    source: str = Field(
        default="acquisition",
        description="Table with `cost` (sales and marketing spend) and `new_customers`.",
    )

    label: ClassVar[str] = "CAC"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "acquisition",
        "cost, new_customers",
        "sum(cost) / sum(new_customers)",
    )

    def unit(self) -> str:
        return "cost per new customer"

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            cac(inputs.table(self.source), grouping=self.grouping(), source=self.source)
        )


class ClvCacOptions(KpiOptions):
    """CLV:CAC ratio; >= 3 is the usual benchmark (the default target)."""

    supports_period: ClassVar[bool] = False

    metric: Literal["clv_cac"] = "clv_cac"
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

    label: ClassVar[str] = "CLV:CAC"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "customers + acquisition",
        "clv; cost, new_customers",
        "mean CLV / CAC (`clv:`/`cac:` fix either)",
    )

    def unit(self) -> str:
        return "ratio"

    def inputs(self) -> list[str]:
        return [
            *([self.source] if self.clv is None else []),
            *([self.acquisition] if self.cac is None else []),
        ]

    def compute(self, inputs: KpiInputs) -> Computed:
        table, has = inputs.table, inputs.has_table
        return Computed(
            clv_cac(
                table(self.source) if self.clv is None and has(self.source) else None,
                table(self.acquisition) if self.cac is None and has(self.acquisition) else None,
                by=self.by,
                clv=self.clv,
                cac_value=self.cac,
                source=self.source,
                acquisition_source=self.acquisition,
            )
        )


class CacPaybackOptions(KpiOptions):
    """CAC payback in months: CAC / (monthly revenue per account x gross margin)."""

    supports_period: ClassVar[bool] = False

    metric: Literal["cac_payback"] = "cac_payback"
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

    label: ClassVar[str] = "CAC payback (months)"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "transactions + acquisition",
        "customer, time, amount",
        "CAC / (monthly revenue per account x `gross_margin`)",
    )

    def unit(self) -> str:
        return "months"

    def inputs(self) -> list[str]:
        return [
            *([self.source] if self.arpa is None else []),
            *([self.acquisition] if self.cac is None else []),
        ]

    def compute(self, inputs: KpiInputs) -> Computed:
        table, has = inputs.table, inputs.has_table
        return Computed(
            cac_payback(
                table(self.source) if self.arpa is None and has(self.source) else None,
                table(self.acquisition) if self.cac is None and has(self.acquisition) else None,
                gross_margin=self.gross_margin,
                by=self.by,
                cac_value=self.cac,
                arpa=self.arpa,
                source=self.source,
                acquisition_source=self.acquisition,
            )
        )


class ReferralRateOptions(KpiOptions):
    """Referral rate: share of new customers acquired through a referral."""

    metric: Literal["referral_rate"] = "referral_rate"
    source: str = Field(
        default="customers", description="One row per customer with a boolean `referred`."
    )
    time: str = Field(default="start", description="Time column used by `period`.")
    ci: CI = Field(default="wald", description="Confidence interval method.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Confidence level.")

    label: ClassVar[str] = "referral rate"
    doc_row: ClassVar[tuple[str, str, str]] = (
        "customers",
        "referred (bool), start for `period`",
        "share of customers referred",
    )

    def unit(self) -> str:
        return "share"

    def compute(self, inputs: KpiInputs) -> Computed:
        return Computed(
            referral_rate(
                inputs.table(self.source),
                grouping=self.grouping(),
                ci=self.ci,
                confidence=self.confidence,
                source=self.source,
            )
        )


def referral_rate(
    lf: pl.LazyFrame,
    *,
    grouping: Grouping = Grouping(time="start"),
    ci: str = "wald",
    confidence: float = 0.95,
    source: str = "customers",
) -> pl.DataFrame:
    """Share of (new) customers acquired through a referral: boolean column ``referred``."""
    lf = _boolean(
        grouping.prepare(lf, source), source, "referred", "whether the customer was referred"
    )
    lf = lf.filter(pl.col("referred").is_not_null())
    aggs = [pl.col("referred").sum().alias("x"), pl.len().alias("n")]
    z = z_value(confidence)
    return grouping_sets(lf, grouping, aggs, lambda d: proportion_ci(d, "x", "n", ci, z))


def _acquisition(lf: pl.LazyFrame, source: str) -> pl.LazyFrame:
    require_columns(
        lf,
        source,
        {"cost": "sales and marketing cost", "new_customers": "the number of new customers"},
    )
    lf = numeric(lf, source, "cost")
    lf = numeric(lf, source, "new_customers")
    check_rows(lf, source, "cost", pl.col("cost") < 0, "a cost >= 0")
    nc = pl.col("new_customers")
    check_rows(lf, source, "new_customers", (nc < 0) | (nc != nc.round()), "a count >= 0")
    return lf


def cac(
    lf: pl.LazyFrame, *, grouping: Grouping = Grouping(), source: str = "acquisition"
) -> pl.DataFrame:
    """CAC = total sales and marketing ``cost`` / total ``new_customers`` (n = new customers)."""
    lf = _acquisition(grouping.prepare(lf, source), source)
    aggs = [pl.col("cost").sum().alias("cost"), pl.col("new_customers").sum().alias("n")]

    def fin(d: pl.DataFrame) -> pl.DataFrame:
        return d.with_columns(
            pl.when(pl.col("n") > 0).then(pl.col("cost") / pl.col("n")).alias("value")
        )

    return grouping_sets(lf, grouping, aggs, fin)


def _by_or_overall(
    frame: pl.DataFrame, by: str | None, name: str
) -> tuple[float | None, pl.DataFrame | None]:
    overall = frame.filter(pl.col("subject") == OVERALL)["value"]
    per = None
    if by is not None and frame["segment"].is_not_null().any():
        per = frame.filter(pl.col("segment").is_not_null()).select(
            "segment", pl.col("value").alias(name)
        )
    return (overall[0] if len(overall) else None), per


def clv_cac(
    customers: pl.LazyFrame | None,
    acquisition: pl.LazyFrame | None,
    *,
    by: str | None = None,
    clv: float | None = None,
    cac_value: float | None = None,
    source: str = "customers",
    acquisition_source: str = "acquisition",
) -> pl.DataFrame:
    """CLV:CAC = mean ``clv`` of ``customers`` (or a fixed CLV) / CAC (or a fixed CAC).

    With ``by``, CLV is averaged per segment; CAC is per segment when the acquisition table
    has the same column, else the overall CAC is used for every segment.
    """
    grouping = Grouping(by=by)
    if clv is None:
        if customers is None:
            raise DataError(f"clv_cac: no table {source!r} with a `clv` column and no fixed `clv`")
        lf = grouping.prepare(customers, source)
        require_columns(lf, source, {"clv": "customer lifetime value"})
        lf = numeric(lf, source, "clv").filter(pl.col("clv").is_not_null())
        clvs = grouping_sets(
            lf, grouping, [pl.col("clv").mean().alias("value"), pl.len().alias("n")], lambda d: d
        )
    else:
        clvs = _tidy(
            pl.DataFrame(
                {"value": [clv], "n": [None]}, schema={"value": pl.Float64, "n": pl.Int64}
            ).with_columns(
                pl.lit(None, pl.String).alias("segment"),
                pl.lit(None, pl.Date).alias("period"),
                pl.lit(False).alias("_has_seg"),
                pl.lit(False).alias("_has_per"),
            )
        )
    if cac_value is None:
        if acquisition is None:
            raise DataError(
                f"clv_cac: no table {acquisition_source!r} (cost, new_customers) and no fixed `cac`"
            )
        acq_by = by if by and by in acquisition.collect_schema() else None
        cacs = cac(acquisition, grouping=Grouping(by=acq_by), source=acquisition_source)
        cac_all, cac_per = _by_or_overall(cacs, acq_by, "cac")
    else:
        cac_all, cac_per = cac_value, None
    out = clvs.with_columns(pl.lit(cac_all, pl.Float64).alias("cac"))
    if cac_per is not None:
        out = (
            out.join(cac_per, on="segment", how="left", suffix="_seg", maintain_order="left")
            .with_columns(pl.coalesce("cac_seg", "cac").alias("cac"))
            .drop("cac_seg")
        )
    return out.with_columns(
        pl.when(pl.col("cac") > 0).then(pl.col("value") / pl.col("cac")).alias("value"),
    ).select(KPI_CORE)


def monthly_revenue_per_account(
    lf: pl.LazyFrame, *, by: str | None = None, source: str = "transactions"
) -> pl.DataFrame:
    """Revenue / active customer-months: the mean monthly revenue of an account while active."""
    grouping = Grouping(by=by)
    lf = grouping.prepare(lf, source)
    require_columns(lf, source, {"customer": "customer id", "amount": "the amount"})
    lf = numeric(lf, source, "amount")
    lf = temporal(lf, source, "time", "the transaction time")
    lf = lf.with_columns(pl.col("time").dt.truncate("1mo").alias("__month"))
    aggs = [
        pl.col("amount").sum().alias("revenue"),
        pl.struct("customer", "__month").n_unique().alias("n"),
    ]

    def fin(d: pl.DataFrame) -> pl.DataFrame:
        return d.with_columns((pl.col("revenue") / pl.col("n")).alias("value"))

    return grouping_sets(lf, grouping, aggs, fin)


def cac_payback(
    transactions: pl.LazyFrame | None,
    acquisition: pl.LazyFrame | None,
    *,
    gross_margin: float,
    by: str | None = None,
    cac_value: float | None = None,
    arpa: float | None = None,
    source: str = "transactions",
    acquisition_source: str = "acquisition",
) -> pl.DataFrame:
    """CAC payback (months) = CAC / (monthly revenue per account x gross margin)."""
    if arpa is None:
        if transactions is None:
            raise DataError(f"cac_payback: no table {source!r} and no fixed `arpa`")
        rev = monthly_revenue_per_account(transactions, by=by, source=source)
    else:
        rev = pl.DataFrame(
            {
                "subject": [OVERALL],
                "segment": [None],
                "period": [None],
                "value": [arpa],
                "n": [None],
                "ci_low": [None],
                "ci_high": [None],
            },
            schema={
                "subject": pl.String,
                "segment": pl.String,
                "period": pl.Date,
                "value": pl.Float64,
                "n": pl.Int64,
                "ci_low": pl.Float64,
                "ci_high": pl.Float64,
            },
        )
    if cac_value is None:
        if acquisition is None:
            raise DataError(f"cac_payback: no table {acquisition_source!r} and no fixed `cac`")
        acq_by = by if by and by in acquisition.collect_schema() else None
        cac_all, cac_per = _by_or_overall(
            cac(acquisition, grouping=Grouping(by=acq_by), source=acquisition_source), acq_by, "cac"
        )
    else:
        cac_all, cac_per = cac_value, None
    out = rev.with_columns(pl.lit(cac_all, pl.Float64).alias("cac"))
    if cac_per is not None:
        out = (
            out.join(cac_per, on="segment", how="left", suffix="_seg", maintain_order="left")
            .with_columns(pl.coalesce("cac_seg", "cac").alias("cac"))
            .drop("cac_seg")
        )
    denom = pl.col("value") * gross_margin
    return out.with_columns(pl.when(denom > 0).then(pl.col("cac") / denom).alias("value")).select(
        KPI_CORE
    )
