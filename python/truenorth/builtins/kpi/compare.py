"""Between-period and between-segment comparisons of KPI rows, with a test and an interval.

A row is compared with its *baseline row*: the same segment in a baseline period (``{period:
DATE}``), the same segment in the previous period (``{period: previous}``), or the baseline
segment in the same period (``{segment: NAME}``). Only rows that are samples disjoint from
their baseline are tested (a period against another period, a segment against another
segment); overall rows, the baseline rows themselves and metrics without a sampling variance
get null test columns.

The test depends on what the value is (each metric's interval helper in :mod:`.core` records
it, with the variance of the value, in the hidden columns ``__test``, ``__var``, ``__x``):

* proportions (CSAT/CES top box, churn, FCR, referral rate): the two-proportion z test with
  the pooled proportion, ``z = (p1 - p0) / sqrt(p(1-p)(1/n1 + 1/n0))``; the interval of the
  difference is the unpooled Wald interval ``(p1 - p0) ± z·sqrt(p1(1-p1)/n1 + p0(1-p0)/n0)``.
* NPS: the difference of two independent NPS, whose variance is the sum of the two NPS
  variances ``(p + d - (p - d)²)/n`` (promoter share p, detractor share d; Rocks 2016); z test.
* means (CSAT/CES means, health score): Welch's t test with Welch–Satterthwaite degrees of
  freedom; the interval uses the same t quantile.

Columns added: ``delta_ci_low``, ``delta_ci_high``, ``p_value`` (two-sided) and
``significant`` (``p_value < 1 - confidence``). A pack flags only changes that are both real
and large, e.g. ``warn: "significant AND delta < -5"`` — a threshold on ``delta`` alone fires
on noise, a significance test alone on differences too small to matter.
"""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist

import polars as pl

from truenorth.errors import DataError

#: Hidden columns a metric's interval helper adds for comparisons.
TEST, VAR, X, SCALE = "__test", "__var", "__x", "__scale"
COMPARE_SCHEMA: dict[str, type[pl.DataType]] = {
    "delta_ci_low": pl.Float64,
    "delta_ci_high": pl.Float64,
    "p_value": pl.Float64,
    "significant": pl.Boolean,
}


def baseline_rows(
    rows: pl.DataFrame, *, period: dt.date | str | None, segment: str | None, metric: str
) -> pl.DataFrame:
    """``rows`` with the baseline row's ``value``, ``n``, variance and successes joined as
    ``benchmark``, ``_n0``, ``_v0``, ``_x0``, and ``_tested`` (the row is a disjoint sample)."""
    keep = ["value", "n", VAR, X]
    renamed = {"value": "benchmark", "n": "_n0", VAR: "_v0", X: "_x0"}
    if segment is not None:
        base = rows.filter(pl.col("segment") == segment)
        if base.height == 0:
            have = rows["segment"].drop_nulls().unique().sort().to_list()
            raise DataError(
                f"kpi {metric}: no rows for the baseline segment {segment!r}; expected one of "
                f"the segments computed: {', '.join(map(repr, have)) or '(none: set `by`)'}"
            )
        base = base.select("period", *keep).rename(renamed)
        out = rows.join(base, on="period", how="left", nulls_equal=True, maintain_order="left")
        tested = pl.col("segment").is_not_null() & (pl.col("segment") != segment)
        return out.with_columns(_tested=tested)
    if period == "previous":
        order = rows.with_row_index("__i")
        dated = order.filter(pl.col("period").is_not_null()).sort("segment", "period")
        shifted = dated.select(
            "__i",
            *[
                pl.col(c).shift(1).over("segment", order_by="period").alias(renamed[c])
                for c in keep
            ],
        )
        out = order.join(shifted, on="__i", how="left", maintain_order="left").drop("__i")
        return out.with_columns(_tested=pl.col("_n0").is_not_null())
    assert isinstance(period, dt.date)
    base = rows.filter(pl.col("period") == period)
    if base.height == 0:
        have = rows["period"].drop_nulls().unique().sort().cast(pl.String).to_list()
        raise DataError(
            f"kpi {metric}: no rows for the baseline period {period.isoformat()}; "
            f"expected one of the periods computed: {', '.join(have) or '(none: set `period`)'}"
        )
    base = base.select("segment", *keep).rename(renamed)
    out = rows.join(base, on="segment", how="left", nulls_equal=True, maintain_order="left")
    tested = pl.col("period").is_not_null() & (pl.col("period") != period)
    return out.with_columns(_tested=tested)


def _t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (t >= 0), through the
    regularised incomplete beta function: P(|T| > t) = I_{df/(df+t²)}(df/2, 1/2)."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction (Numerical
    Recipes §6.4), using the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) where it converges faster."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return math.exp(ln_front) * h / a


def _t_quantile(p: float, df: float) -> float:
    """The t value with P(T > t) = 1 - p (p > 0.5), by bisection on :func:`_t_sf`."""
    lo, hi = 0.0, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_sf(mid, df) > 1 - p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _test_row(
    kind: str | None,
    value: float | None,
    n: int | None,
    var: float | None,
    x: float | None,
    base: float | None,
    n0: int | None,
    v0: float | None,
    x0: float | None,
    scale: float | None,
    *,
    confidence: float,
) -> tuple[float | None, float | None, float | None]:
    none = (None, None, None)
    if kind is None or value is None or base is None or not n or not n0:
        return none
    if var is None or v0 is None:
        return none
    delta, se = value - base, math.sqrt(var + v0)
    alpha = 1 - confidence
    if kind == "mean":
        if n < 2 or n0 < 2:
            return none
        if se == 0:
            return (delta, delta, 1.0 if delta == 0 else 0.0)
        dof = (var + v0) ** 2 / (var**2 / (n - 1) + v0**2 / (n0 - 1))
        crit = _t_quantile(1 - alpha / 2, dof)
        p = 2 * _t_sf(abs(delta) / se, dof)
        return (delta - crit * se, delta + crit * se, min(1.0, p))
    crit = NormalDist().inv_cdf(1 - alpha / 2)
    if kind == "proportion":
        assert x is not None and x0 is not None and scale is not None
        pooled = (x + x0) / (n + n0)
        se_test = scale * math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n0))
    else:
        se_test = se
    if se_test == 0:
        p = 1.0 if delta == 0 else 0.0
    else:
        p = 2 * (1 - NormalDist().cdf(abs(delta) / se_test))
    return (delta - crit * se, delta + crit * se, min(1.0, p))


def add_tests(rows: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """The comparison columns (:data:`COMPARE_SCHEMA`) of rows from :func:`baseline_rows`.

    Python runs once per KPI row (a handful per segment and period), never per input row."""
    cols = [TEST, "value", "n", VAR, X, "benchmark", "_n0", "_v0", "_x0", SCALE, "_tested"]
    out = [
        _test_row(*r[:-1], confidence=confidence) if r[-1] else (None, None, None)
        for r in rows.select(cols).iter_rows()
    ]
    lo, hi, p = (list(c) for c in zip(*out, strict=True)) if out else ([], [], [])
    return rows.with_columns(
        pl.Series("delta_ci_low", lo, pl.Float64),
        pl.Series("delta_ci_high", hi, pl.Float64),
        pl.Series("p_value", p, pl.Float64),
    ).with_columns(significant=pl.col("p_value") < 1 - confidence)
