"""Bootstrap percentile intervals for attribution shares over aggregated paths.

A resample draws as many journeys as observed, with replacement, from the observed journeys
(each path's conversions and nulls are that many journeys — whole numbers are required); the
Markov shares are recomputed on each resample and the interval is the pair of
``(1 − confidence)/2`` and ``(1 + confidence)/2`` percentiles (linear interpolation). A
journey's value is its path's mean conversion value. Resamples are seeded: the same ``seed``
gives the same intervals.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from truenorth.errors import DataError


def journeys(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per journey: ``pid, converted, value`` (from a paths frame)."""
    for col in ("conversions", "nulls"):
        frac = frame.filter(pl.col(col) != pl.col(col).round(0))
        if frac.height:
            raise DataError(
                f"attribution bootstrap needs whole-number journey counts; path "
                f"{' > '.join(frac['path'][0])!r} has {col} = {frac[col][0]:g}"
            )
    tagged = frame.with_row_index("pid").with_columns(
        mean_value=pl.when(pl.col("conversions") > 0).then(pl.col("value") / pl.col("conversions"))
    )
    parts = []
    for col, converted in (("conversions", True), ("nulls", False)):
        parts.append(
            tagged.filter(pl.col(col) > 0)
            .select(
                "pid",
                pl.lit(converted).alias("converted"),
                pl.col("mean_value").fill_null(0.0).alias("value"),
                pl.int_ranges(0, pl.col(col).cast(pl.Int64)).alias("i"),
            )
            .explode("i")
            .drop("i")
        )
    return pl.concat(parts)


def share_intervals(
    frame: pl.DataFrame,
    shares: Callable[[pl.DataFrame], dict[str, float]],
    resamples: int,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, float]]:
    """({channel: low}, {channel: high}) percentile intervals of ``shares(frame)``."""
    rows = journeys(frame)
    paths = frame.select("path").with_row_index("pid")
    draws: dict[str, list[float]] = {}
    for b in range(resamples):
        # seeds of different runs never overlap (resamples < 1,000,003)
        sample = rows.sample(n=rows.height, with_replacement=True, seed=seed * 1_000_003 + b)
        again = (
            sample.group_by("pid")
            .agg(
                pl.col("converted").sum().cast(pl.Float64).alias("conversions"),
                (~pl.col("converted")).sum().cast(pl.Float64).alias("nulls"),
                pl.col("value").filter(pl.col("converted")).sum().alias("value"),
            )
            .join(paths, on="pid")
            .select("path", "conversions", "nulls", "value")
        )
        got = shares(again) if again["conversions"].sum() > 0 else {}
        for channel in paths["path"].explode().unique().to_list():
            draws.setdefault(channel, []).append(got.get(channel, 0.0))
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    low = {c: _quantile(v, lo_q) for c, v in draws.items()}
    high = {c: _quantile(v, hi_q) for c, v in draws.items()}
    return low, high


def _quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = q * (len(s) - 1)
    i = int(pos)
    j = min(i + 1, len(s) - 1)
    return s[i] + (s[j] - s[i]) * (pos - i)
