"""RFM scores, CLV tiers and per-segment aggregates of a Spark customer table, with the
local rules' exact tie semantics (``truenorth.segment``).

Both scorings depend on a value only through how many customers have a smaller (RFM) or
larger (tiers) value, so each needs a few exact order statistics, not a sort: RFM with
``bins`` scores needs the values of rank ⌈k·n/bins⌉ (k = 1..bins−1) of each measure, and a
value scores 1 + #{k : value > that k-th order statistic}. Each order statistic is found exactly
in three passes: Spark's ``approxQuantile`` (relative rank error ``eps``) brackets it, one
aggregation counts the rows below each bracket, and only the rows inside the brackets (about
4·eps·n per statistic) are collected and sorted on the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from truenorth.segment.aggregate import measure_columns

#: rank error of the bracketing quantiles; the result is exact whatever it is, it only sets
#: how many rows reach the driver (4·eps·n per order statistic: 40,000 at n = 10⁸)
EPS = 1e-4

RFM_COLUMNS = ("r_score", "f_score", "m_score", "rfm_score", "segment")


def order_statistics(
    df: DataFrame, columns: str | Sequence[str], ranks: Sequence[int], n: int
) -> dict[str, list[float]]:
    """The exact ``ranks``-th smallest values (1-based) of each Float64 column in ``columns``
    (no nulls or NaN) of ``df``, which has ``n`` rows: ``{column: [value per rank]}``.

    Three Spark jobs whatever the number of columns and ranks (see the module docs)."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not ranks:
        return {c: [] for c in cols}
    m = len(ranks)
    lo_p = [max(0.0, k / n - 2 * EPS) for k in ranks]
    hi_p = [min(1.0, k / n + 2 * EPS) for k in ranks]
    qs = df.approxQuantile(cols, lo_p + hi_p, EPS)
    lo = {c: q[:m] for c, q in zip(cols, qs, strict=True)}
    hi = {c: q[m:] for c, q in zip(cols, qs, strict=True)}
    below = df.agg(
        *[
            F.sum((F.col(c) < v).cast("long")).alias(f"b{j}_{i}")
            for j, c in enumerate(cols)
            for i, v in enumerate(lo[c])
        ]
    ).first()
    assert below is not None
    inside = F.lit(False)
    for c in cols:
        for a, b in zip(lo[c], hi[c], strict=True):
            inside = inside | ((F.col(c) >= a) & (F.col(c) <= b))
    got = pl.from_arrow(df.filter(inside).select(*cols).toArrow())
    assert isinstance(got, pl.DataFrame)
    out: dict[str, list[float]] = {}
    for j, c in enumerate(cols):
        values = got.get_column(c).sort()
        found = []
        for i, k in enumerate(ranks):
            a, b = lo[c][i], hi[c][i]
            bracket = values.filter((values >= a) & (values <= b))
            at = k - int(below[f"b{j}_{i}"] or 0) - 1
            if not 0 <= at < bracket.len():  # the sketch missed: take the whole column
                every = pl.from_arrow(df.select(c).toArrow())
                assert isinstance(every, pl.DataFrame)
                column = every.to_series().sort()
                found = [float(column[r - 1]) for r in ranks]
                break
            found.append(float(bracket[at]))
        out[c] = found
    return out


def _checked(df: DataFrame, columns: dict[str, str]) -> int:
    """Row count, after refusing missing, non-numeric, null and non-finite measure columns."""
    from pyspark.sql import types as T

    types = {f.name: f.dataType for f in df.schema.fields}
    for col, role in columns.items():
        if col not in types:
            raise ValueError(
                f"column '{col}' ({role}) not found; the table has columns {df.columns}"
            )
        if not isinstance(types[col], T.NumericType):
            raise ValueError(
                f"column '{col}' ({role}): expected numbers, got {types[col].simpleString()}"
            )
    aggs = [F.count(F.lit(1)).alias("n")]
    for i, col in enumerate(columns):
        v = F.col(col).cast("double")
        bad = v.isNull() | F.isnan(v) | (F.abs(v) == float("inf"))
        aggs.append(F.sum(bad.cast("long")).alias(f"bad{i}"))
    row = df.agg(*aggs).first()
    assert row is not None
    if not row["n"]:
        raise ValueError("the customer table is empty: nothing to score")
    for i, (col, role) in enumerate(columns.items()):
        if row[f"bad{i}"]:
            raise ValueError(
                f"column '{col}' ({role}): {row[f'bad{i}']} null or non-finite value(s); "
                "scores need a finite value for every customer"
            )
    return int(row["n"])


def rfm(
    customers: DataFrame,
    *,
    bins: int = 5,
    recency: str = "recency",
    frequency: str = "frequency",
    monetary: str = "monetary_value",
    age: str | None = "T",
) -> DataFrame:
    """:func:`truenorth.segment.rfm` on a Spark table: ``r_score``, ``f_score``, ``m_score``
    (1..bins), ``rfm_score`` and ``segment``, equal to the local scores."""
    from truenorth.segment import SEGMENT_GRID

    if not isinstance(bins, int) or not 2 <= bins <= 9:
        raise ValueError(f"bins must be an integer from 2 to 9, got {bins!r}")
    roles = {recency: "recency", frequency: "frequency", monetary: "monetary value"}
    if age is not None:
        roles[age] = "customer age"
    n = _checked(customers, roles)
    rec = F.col(recency).cast("double")
    since = (F.col(age).cast("double") - rec) if age is not None else rec
    measures = {
        "r_score": -since,
        "f_score": F.col(frequency).cast("double"),
        "m_score": F.col(monetary).cast("double"),
    }
    values = customers.select(*[e.alias(k) for k, e in measures.items()])
    # exact integer ceil (k·n/bins): math.ceil on a float could round a whole number up
    ranks = [-((-k * n) // bins) for k in range(1, bins)]
    scored = customers.drop(*[c for c in RFM_COLUMNS if c in customers.columns])
    cuts_of = order_statistics(values, list(measures), ranks, n)
    for name, expr in measures.items():
        cuts = cuts_of[name]
        score: Column = F.lit(1)
        for cut in cuts:
            score = score + (expr > F.lit(cut)).cast("int")
        scored = scored.withColumn(name, score.cast("byte"))

    def five(c: str) -> Column:
        s = F.col(c).cast("int")
        return s if bins == 5 else F.floor((s * 5 + bins - 1) / bins).cast("int")

    seg: Any = None
    for rs, fs, label in SEGMENT_GRID:
        cond = five("r_score").isin(sorted(rs)) & five("f_score").isin(sorted(fs))
        seg = F.when(cond, F.lit(label)) if seg is None else seg.when(cond, F.lit(label))
    return scored.withColumn(
        "rfm_score",
        F.concat(*[F.col(c).cast("string") for c in ("r_score", "f_score", "m_score")]),
    ).withColumn("segment", seg.otherwise(F.lit(None).cast("string")))


def clv_tiers(
    customers: DataFrame,
    *,
    column: str = "clv",
    tiers: Sequence[tuple[str, float]] = (("top", 0.10), ("high", 0.40), ("rest", 0.50)),
) -> DataFrame:
    """:func:`truenorth.segment.clv_tiers` on a Spark table: ``clv_tier`` (a string here),
    equal to the local tiers (ties at a boundary go to the better tier)."""
    names = [t[0] for t in tiers]
    shares = [float(t[1]) for t in tiers]
    if not tiers or len(set(names)) != len(names):
        raise ValueError(f"tiers: expected distinct (name, share) pairs, got {tiers!r}")
    if any(not (s > 0) for s in shares) or abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"tiers: shares must be positive and sum to 1, got {shares}")
    n = _checked(customers, {column: "CLV"})
    # local rule: position g/n (g = customers with a larger value) < cumulative share. g/n is
    # monotone in g, so each tier is g < c for the least c with c/n >= share, computed with the
    # same float operations; g < c ⟺ value >= the c-th largest value.
    cuts: list[int] = []
    cum = 0.0
    for name, share in zip(names, shares, strict=True):
        cum += share
        if name == names[-1]:
            break
        c = min(max(int(cum * n), 0), n + 1)
        while c > 0 and (c - 1) / n >= cum:
            c -= 1
        while c <= n and c / n < cum:
            c += 1
        cuts.append(c)
    inner = [c for c in cuts if 1 <= c <= n]
    values = customers.select(F.col(column).cast("double").alias("v"))
    picked = order_statistics(values, "v", [n - c + 1 for c in inner], n)["v"]
    stats = dict(zip(inner, picked, strict=True))
    v = F.col(column).cast("double")
    expr: Any = None
    for name, c in zip(names, cuts, strict=False):
        cond = F.lit(False) if c == 0 else F.lit(True) if c > n else v >= F.lit(stats[c])
        expr = F.when(cond, F.lit(name)) if expr is None else expr.when(cond, F.lit(name))
    tier = F.lit(names[-1]) if expr is None else expr.otherwise(F.lit(names[-1]))
    return customers.drop(*[c for c in ("clv_tier",) if c in customers.columns]).withColumn(
        "clv_tier", tier
    )


def aggregate(
    customers: DataFrame,
    *,
    by: str = "segment",
    revenue: str | None = "revenue",
    clv: str | None = "clv",
    p_alive: str | None = "p_alive",
    frequency: str | None = "frequency",
) -> pl.DataFrame:
    """:func:`truenorth.segment.aggregate` of a Spark table, as a (small) local Polars frame:
    one row per segment with the same columns; sums are Spark's (equal to the local ones up
    to floating-point summation order, ~1e-15 relative)."""
    if by not in customers.columns:
        raise ValueError(
            f"column '{by}' (segment) not found; the table has columns {customers.columns}"
        )
    nulls = customers.filter(F.col(by).isNull()).limit(1).count()
    if nulls:
        raise ValueError(f"column '{by}': null segment(s); every customer needs a segment")
    measures = {
        role: col
        for role, col in (
            ("revenue", revenue),
            ("clv", clv),
            ("p_alive", p_alive),
            ("frequency", frequency),
        )
        if col is not None and col in customers.columns
    }
    aggs = [F.count(F.lit(1)).alias("customers")]
    for role, col in measures.items():
        v = F.col(col).cast("double")
        aggs += [F.sum(v).alias(f"sum_{role}"), F.count(v).alias(f"valid_{role}")]
    raw = pl.from_arrow(customers.groupBy(by).agg(*aggs).toArrow())
    assert isinstance(raw, pl.DataFrame)
    n = raw["customers"].sum()

    cols: list[pl.Expr] = [
        pl.col(by),
        pl.col("customers").cast(pl.Int64),
        (pl.col("customers") / n).alias("customer_share"),
        *measure_columns(
            list(measures),
            sums=[f"sum_{role}" for role in measures],
            valids=[f"valid_{role}" for role in measures],
        ),
    ]
    return raw.select(cols).sort(by)
