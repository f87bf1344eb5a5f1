"""The shared KPI math: input checks, grouping sets, intervals and the final KPI table.

Pure functions over Polars frames (no engine, no Python loops over rows); each metric's own
math lives with its options in the module of its concept (survey, support, acquisition,
lifecycle, health).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from truenorth.errors import DataError

from .compare import COMPARE_SCHEMA, SCALE, TEST, VAR, add_tests, baseline_rows
from .compare import X as X_COL

SEG = "__segment"
PER = "__period"
OVERALL = "overall"

#: A declared table schema (column -> Polars dtype)
Schema = Mapping[str, pl.DataType | type[pl.DataType]]

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
    **COMPARE_SCHEMA,
    "target": pl.Float64,
    "meets_target": pl.Boolean,
    "unit": pl.String,
    "warn": pl.String,
    "fail": pl.String,
}

#: The columns every metric's ``compute`` returns (before benchmark, target and unit).
KPI_CORE = ["subject", "segment", "period", "value", "n", "ci_low", "ci_high"]


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
    for col in ("ci_low", "ci_high", VAR, X_COL, SCALE):
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(col))
    if TEST not in out.columns:
        out = out.with_columns(pl.lit(None, pl.String).alias(TEST))
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
        # hidden: what the comparison test needs (see .compare); dropped by finish
        pl.col(TEST).cast(pl.String),
        pl.col(VAR).cast(pl.Float64),
        pl.col(X_COL).cast(pl.Float64),
        pl.col(SCALE).cast(pl.Float64),
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
    df = df.with_columns(
        _null_if_empty(N, p * scale).alias("value"),
        pl.lit("proportion").alias(TEST),
        _null_if_empty(N, p * (1 - p) / N * scale * scale).alias(VAR),
        X.alias(X_COL),
        pl.lit(scale, pl.Float64).alias(SCALE),
    )
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
    df = df.with_columns(
        pl.col(mean).alias("value"),
        pl.lit("mean").alias(TEST),
        pl.when(N >= 2).then(pl.col(sd) ** 2 / N).alias(VAR),
    )
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
    raw_p, raw_d = P / N, D / N
    df = df.with_columns(
        _null_if_empty(N, 100 * (P - D) / N).alias("value"),
        pl.lit("nps").alias(TEST),
        # variance of the raw NPS (points²): the comparison test uses the unadjusted shares
        _null_if_empty(
            N, 10_000 * (raw_p + raw_d - (raw_p - raw_d) ** 2).clip(0.0, None) / N
        ).alias(VAR),
    )
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
    baseline_segment: str | None = None,
    previous: bool = False,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Add rule_id, metric, benchmark, delta, the comparison columns, target, meets_target, unit
    and the rule's warn/fail conditions (so reports and the maturity rule can see which KPIs have
    thresholds); cast to KPI_SCHEMA.

    A fixed benchmark applies to every row. A baseline period (a date), the previous period
    (``previous``) or a baseline segment (``baseline_segment``) gives each row the value of its
    baseline row (see :mod:`.compare`), ``delta = value - benchmark``, and a test of the
    difference (``delta_ci_low``/``delta_ci_high``, ``p_value``, ``significant`` at
    ``confidence``). ``meets_target`` is ``value >= target`` when higher is better, else
    ``value < target``.
    """
    for col in (VAR, X_COL, SCALE):  # metrics without a sampling variance: no test
        if col not in rows.columns:
            rows = rows.with_columns(pl.lit(None, pl.Float64).alias(col))
    if TEST not in rows.columns:
        rows = rows.with_columns(pl.lit(None, pl.String).alias(TEST))
    if isinstance(benchmark, dt.date) or previous or baseline_segment is not None:
        rows = baseline_rows(
            rows,
            period="previous" if previous else benchmark,  # type: ignore[arg-type]
            segment=baseline_segment,
            metric=metric,
        )
        rows = add_tests(rows, confidence=confidence)
    else:
        rows = rows.with_columns(
            pl.lit(benchmark, pl.Float64).alias("benchmark"),
            *[pl.lit(None, dtype).alias(c) for c, dtype in COMPARE_SCHEMA.items()],
        )
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
