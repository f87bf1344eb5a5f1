"""The KPI math: pure functions over Polars frames (no engine, no Python loops over rows).

Every metric is computed at the finest grouping asked for (segment x period) and at the
coarser ones (segment, period, overall); each result row carries ``subject``, ``segment``,
``period``, ``value``, ``n`` and, where a sampling interval makes sense, ``ci_low``/``ci_high``.

Intervals (``z`` is the normal quantile of the confidence level):

* NPS, Wald: ``nps ± z·sqrt((p + d - (p - d)²) / n)`` with promoter share ``p`` and detractor
  share ``d`` (the variance of a difference of two multinomial shares).
* NPS, adjusted Wald: add pseudo-observations 3/4, 3/2, 3/4 to the detractor, passive and
  promoter counts (so ``n + 3``), then the Wald interval around the *adjusted* score with the
  adjusted ``n``: Rocks, B. (2016), "Interval estimation for the net promoter score", *The
  American Statistician* 70(4), 365-372, which found it the best of the simple intervals compared;
  as implemented in Rocks' R package ``NPS`` (``nps_test(test = "adjusted.wald")``,
  ``pseudo_observations = c(0.75, 1.50, 0.75)``) and described by Lewis & Sauro ("Confidence
  intervals for Net Promoter Scores", MeasuringU). The reported point estimate stays the raw NPS;
  unlike the R package we clip the interval to [-100, 100].
* Proportions (CSAT top box, CES share, FCR, referral rate), Wald: ``p ± z·sqrt(p(1-p)/n)``;
  adjusted Wald (Agresti & Coull 1998): ``p~ = (x + z²/2)/(n + z²)``, ``p~ ± z·sqrt(p~(1-p~)/(n + z²))``.
* Means (CSAT/CES mean, health score): ``mean ± z·s/sqrt(n)`` (both methods; none for n < 2).

Intervals are clipped to the metric's range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from truenorth.errors import DataError

SEG = "__segment"
PER = "__period"
OVERALL = "overall"

KPI_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "rule_id": pl.String,
    "metric": pl.String,
    "subject": pl.String,
    "segment": pl.String,
    "period": pl.Date,
    "value": pl.Float64,
    "n": pl.Int64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "benchmark": pl.Float64,
    "delta": pl.Float64,
    "target": pl.Float64,
    "meets_target": pl.Boolean,
    "unit": pl.String,
    "warn": pl.String,
    "fail": pl.String,
}

COHORT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "rule_id": pl.String,
    "segment": pl.String,
    "cohort": pl.Date,
    "age": pl.Int64,
    "customers": pl.Int64,
    "retained": pl.Int64,
    "retention": pl.Float64,
}

HEALTH_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "rule_id": pl.String,
    "customer": pl.String,
    "segment": pl.String,
    "score": pl.Float64,
    "band": pl.String,
    "components_used": pl.Int64,
}


def z_value(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level (0.95 -> 1.959964)."""
    return NormalDist().inv_cdf((1.0 + confidence) / 2.0)


# --------------------------------------------------------------------------------------------
# input checks: every error names the source, the column, the (1-based data) row and the value


def require_columns(lf: pl.LazyFrame, source: str, columns: dict[str, str]) -> pl.Schema:
    """Check ``columns`` (name -> what it should hold) exist in ``lf``; return the schema."""
    schema = lf.collect_schema()
    for col, what in columns.items():
        if col not in schema:
            have = ", ".join(schema.names()) or "(none)"
            raise DataError(
                f"{source}: no column {col!r}; expected {what} (columns present: {have})"
            )
    return schema


def show(value: object) -> str:
    """A value as a user would write it: strings quoted, numbers and dates plain."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_rows(lf: pl.LazyFrame, source: str, column: str, bad: pl.Expr, expected: str) -> None:
    """Raise :class:`DataError` naming the first row (1-based data row) where ``bad`` holds."""
    hit = (
        lf.with_row_index("__row")
        .filter(bad.fill_null(False))
        .select(
            pl.len().alias("count"),
            pl.col("__row").min().alias("row"),
            pl.col(column).sort_by("__row").first().alias("value"),
        )
        .collect()
    )
    count = hit["count"][0]
    if count:
        more = f" ({count - 1} more such rows)" if count > 1 else ""
        raise DataError(
            f"{source}: column {column!r}, row {hit['row'][0] + 1}: value {show(hit['value'][0])} "
            f"is invalid; expected {expected}{more}"
        )


def numeric(lf: pl.LazyFrame, source: str, column: str) -> pl.LazyFrame:
    """Make ``column`` Float64; strings that do not parse as numbers are errors with their row."""
    dtype = lf.collect_schema()[column]
    if dtype.is_numeric():
        return lf.with_columns(pl.col(column).cast(pl.Float64))
    if dtype == pl.Boolean:
        return lf.with_columns(pl.col(column).cast(pl.Float64))
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        s = pl.col(column).cast(pl.String).str.strip_chars()
        check_rows(
            lf,
            source,
            column,
            s.is_not_null() & (s != "") & s.cast(pl.Float64, strict=False).is_null(),
            "a number",
        )
        return lf.with_columns(
            pl.when(s == "").then(None).otherwise(s).cast(pl.Float64, strict=False).alias(column)
        )
    raise DataError(f"{source}: column {column!r} has type {dtype}; expected numbers")


def scale_answers(
    lf: pl.LazyFrame, source: str, column: str, lo: int, hi: int, label: str
) -> pl.LazyFrame:
    """Validate survey answers: whole numbers in [lo, hi]; nulls (no answer) are dropped."""
    require_columns(lf, source, {column: f"{label} answers ({lo}-{hi})"})
    lf = numeric(lf, source, column)
    c = pl.col(column)
    check_rows(
        lf,
        source,
        column,
        c.is_not_null() & ((c < lo) | (c > hi) | (c != c.round()) | c.is_nan()),
        f"a whole number from {lo} to {hi} ({label})",
    )
    return lf.filter(c.is_not_null())


def temporal(lf: pl.LazyFrame, source: str, column: str, what: str) -> pl.LazyFrame:
    """Make ``column`` a Datetime; ISO strings are parsed, unparseable ones are errors."""
    schema = require_columns(lf, source, {column: what})
    dtype = schema[column]
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return lf.with_columns(pl.col(column).cast(pl.Datetime("us")))
    if dtype == pl.String:
        parsed = pl.col(column).str.to_datetime(strict=False, time_unit="us")
        check_rows(
            lf,
            source,
            column,
            pl.col(column).is_not_null() & parsed.is_null(),
            f"{what} (an ISO date or datetime)",
        )
        return lf.with_columns(parsed.alias(column))
    raise DataError(f"{source}: column {column!r} has type {dtype}; expected {what} (dates)")


# --------------------------------------------------------------------------------------------
# grouping sets


@dataclass(frozen=True)
class Grouping:
    """How to split the rows: an optional segment column and an optional period."""

    by: str | None = None
    period: str | None = None
    time: str = "time"

    def keys(self) -> list[list[str]]:
        sets: list[list[str]] = [[]]
        if self.by:
            sets.append([SEG])
        if self.period:
            sets.append([PER])
        if self.by and self.period:
            sets.append([SEG, PER])
        return sets

    def prepare(self, lf: pl.LazyFrame, source: str) -> pl.LazyFrame:
        """Add ``__segment`` (string) and ``__period`` (Date) columns as asked."""
        if self.by:
            require_columns(lf, source, {self.by: "the segment column named by `by`"})
            lf = lf.with_columns(pl.col(self.by).cast(pl.String).alias(SEG))
        if self.period:
            lf = temporal(lf, source, self.time, "the time column used by `period`")
            lf = lf.with_columns(
                pl.col(self.time).dt.truncate(self.period).cast(pl.Date).alias(PER)
            )
        return lf


def subject_expr() -> pl.Expr:
    seg = pl.col("segment").fill_null("(missing)")
    per = pl.col("period").cast(pl.String)
    return (
        pl.when(pl.col("_has_seg") & pl.col("_has_per"))
        .then(pl.concat_str([seg, pl.lit(" @ "), per]))
        .when(pl.col("_has_seg"))
        .then(seg)
        .when(pl.col("_has_per"))
        .then(per)
        .otherwise(pl.lit(OVERALL))
    )


def grouping_sets(
    lf: pl.LazyFrame,
    grouping: Grouping,
    aggs: Sequence[pl.Expr],
    finalize: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """Aggregate ``aggs`` overall and per grouping set; ``finalize`` adds value, n, ci_*."""
    parts = []
    for keys in grouping.keys():
        g = lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)
        if PER in keys:
            g = g.filter(pl.col(PER).is_not_null())  # rows without a time: overall/segment only
        g = g.with_columns(
            (pl.col(SEG) if SEG in keys else pl.lit(None, pl.String)).alias("segment"),
            (pl.col(PER) if PER in keys else pl.lit(None, pl.Date)).alias("period"),
            pl.lit(SEG in keys).alias("_has_seg"),
            pl.lit(PER in keys).alias("_has_per"),
        ).drop([k for k in keys])
        parts.append(g)
    out = pl.concat(parts, how="diagonal_relaxed").collect()
    out = finalize(out)
    return _tidy(out)


def _tidy(out: pl.DataFrame) -> pl.DataFrame:
    for col in ("ci_low", "ci_high"):
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(col))
    out = out.with_columns(subject_expr().alias("subject"))
    out = out.sort(["_has_seg", "_has_per", "segment", "period"], nulls_last=False)
    return out.select(
        "subject",
        "segment",
        "period",
        pl.col("value").cast(pl.Float64),
        pl.col("n").cast(pl.Int64),
        pl.col("ci_low").cast(pl.Float64),
        pl.col("ci_high").cast(pl.Float64),
    )


# --------------------------------------------------------------------------------------------
# interval helpers (on collected frames of aggregates)


def _null_if_empty(n: pl.Expr, e: pl.Expr) -> pl.Expr:
    return pl.when(n > 0).then(e).otherwise(None)


def proportion_ci(
    df: pl.DataFrame, x: str, n: str, method: str, z: float, scale: float = 1.0
) -> pl.DataFrame:
    """value = x/n with a Wald or adjusted-Wald (Agresti-Coull) interval, clipped to [0, 1]."""
    X, N = pl.col(x).cast(pl.Float64), pl.col(n).cast(pl.Float64)
    p = X / N
    df = df.with_columns(_null_if_empty(N, p * scale).alias("value"))
    if method == "none":
        return df
    if method == "wald":
        centre, se = p, (p * (1 - p) / N).sqrt()
    else:
        nt = N + z * z
        pt = (X + z * z / 2) / nt
        centre, se = pt, (pt * (1 - pt) / nt).sqrt()
    return df.with_columns(
        _null_if_empty(N, (centre - z * se).clip(0.0, 1.0) * scale).alias("ci_low"),
        _null_if_empty(N, (centre + z * se).clip(0.0, 1.0) * scale).alias("ci_high"),
    )


def mean_ci(df: pl.DataFrame, mean: str, sd: str, n: str, method: str, z: float) -> pl.DataFrame:
    """value = mean, with mean ± z·sd/sqrt(n) (null for n < 2 or method none)."""
    N = pl.col(n).cast(pl.Float64)
    df = df.with_columns(pl.col(mean).alias("value"))
    if method == "none":
        return df
    half = z * pl.col(sd) / N.sqrt()
    ok = N >= 2
    return df.with_columns(
        pl.when(ok).then(pl.col(mean) - half).otherwise(None).alias("ci_low"),
        pl.when(ok).then(pl.col(mean) + half).otherwise(None).alias("ci_high"),
    )


def nps_ci(df: pl.DataFrame, method: str, z: float) -> pl.DataFrame:
    """NPS in points from columns ``promoters``, ``detractors``, ``n``; Wald/adjusted-Wald CI."""
    P, D, N = (pl.col(c).cast(pl.Float64) for c in ("promoters", "detractors", "n"))
    df = df.with_columns(_null_if_empty(N, 100 * (P - D) / N).alias("value"))
    if method == "none":
        return df
    if method == "wald":
        p, d, nn = P / N, D / N, N
    else:  # Rocks (2016): n + 3, promoters + 3/4, detractors + 3/4
        nn = N + 3
        p, d = (P + 0.75) / nn, (D + 0.75) / nn
    centre = p - d
    se = ((p + d - centre * centre).clip(0.0, None) / nn).sqrt()
    return df.with_columns(
        _null_if_empty(N, 100 * (centre - z * se).clip(-1.0, 1.0)).alias("ci_low"),
        _null_if_empty(N, 100 * (centre + z * se).clip(-1.0, 1.0)).alias("ci_high"),
    )


# --------------------------------------------------------------------------------------------
# survey metrics


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


# --------------------------------------------------------------------------------------------
# support and acquisition metrics


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


def _boolean(lf: pl.LazyFrame, source: str, column: str, what: str) -> pl.LazyFrame:
    """Make ``column`` Boolean: booleans, 0/1, or true/false/yes/no strings."""
    dtype = require_columns(lf, source, {column: what})[column]
    if dtype == pl.Boolean:
        return lf
    if dtype.is_numeric():
        c = pl.col(column)
        check_rows(lf, source, column, ~c.is_in([0, 1]), f"{what} (true/false or 1/0)")
        return lf.with_columns((c == 1).alias(column))
    if dtype == pl.String:
        s = pl.col(column).str.strip_chars().str.to_lowercase()
        truthy, falsy = ["true", "yes", "y", "1", "t"], ["false", "no", "n", "0", "f"]
        check_rows(
            lf, source, column, ~s.is_in(truthy + falsy), f"{what} (true/false, yes/no or 1/0)"
        )
        return lf.with_columns(s.is_in(truthy).alias(column))
    raise DataError(f"{source}: column {column!r} has type {dtype}; expected {what} (booleans)")


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


KPI_CORE = ["subject", "segment", "period", "value", "n", "ci_low", "ci_high"]


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


# --------------------------------------------------------------------------------------------
# churn, retention and cohorts


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
    grid = _period_grid(first, last, period).select("period")
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
        first = events.group_by("customer").agg(
            pl.col("p").min().alias("cohort"),
            pl.col("__seg_raw").sort_by("p").first().alias(SEG),
        )
        ev = events.select("customer", "p").unique().collect()
        first = first.collect()
        if ev.height == 0:
            raise DataError(f"{source}: no events; expected rows with `customer` and `time`")
        grid = _period_grid(ev["p"].min(), ev["p"].max(), period)
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
        grid = _period_grid(subs["sp"].min(), last, period)
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


# --------------------------------------------------------------------------------------------
# client health score


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


# --------------------------------------------------------------------------------------------
# benchmark, target and the final table


def finish(
    rows: pl.DataFrame,
    *,
    rule_id: str,
    metric: str,
    benchmark: float | dt.date | None,
    target: float | None,
    higher_is_better: bool,
    unit: str | None = None,
    warn: str | None = None,
    fail: str | None = None,
) -> pl.DataFrame:
    """Add rule_id, metric, benchmark, delta, target, meets_target, unit and the rule's warn/fail
    conditions (so reports and the maturity rule can see which KPIs have thresholds); cast to
    KPI_SCHEMA.

    A fixed benchmark applies to every row. A baseline period (a date) gives each row the value
    of the same segment (or of all segments) in that period; ``delta = value - benchmark``.
    ``meets_target`` is ``value >= target`` when higher is better, else ``value < target``.
    """
    if isinstance(benchmark, dt.date):
        base = rows.filter(pl.col("period") == benchmark).select(
            "segment", pl.col("value").alias("benchmark")
        )
        if base.height == 0:
            have = rows["period"].drop_nulls().unique().sort().cast(pl.String).to_list()
            raise DataError(
                f"kpi {metric}: no rows for the baseline period {benchmark.isoformat()}; "
                f"expected one of the periods computed: {', '.join(have) or '(none: set `period`)'}"
            )
        rows = rows.join(base, on="segment", how="left", nulls_equal=True, maintain_order="left")
    else:
        rows = rows.with_columns(pl.lit(benchmark, pl.Float64).alias("benchmark"))
    v, t = pl.col("value"), pl.lit(target, pl.Float64)
    meets = (v >= t) if higher_is_better else (v < t)
    rows = rows.with_columns(
        pl.lit(rule_id, pl.String).alias("rule_id"),
        pl.lit(metric, pl.String).alias("metric"),
        (v - pl.col("benchmark")).alias("delta"),
        t.alias("target"),
        meets.alias("meets_target"),
        pl.lit(unit, pl.String).alias("unit"),
        pl.lit(warn, pl.String).alias("warn"),
        pl.lit(fail, pl.String).alias("fail"),
    )
    return rows.select([pl.col(c).cast(d) for c, d in KPI_SCHEMA.items()])
