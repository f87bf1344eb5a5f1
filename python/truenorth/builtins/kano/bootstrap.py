"""Bootstrap confidence intervals for a Kano analysis: better/worse, category shares and how
stable each feature's category is.

Resampling unit: the *respondent* (a cluster bootstrap). A respondent answers every feature,
so resampling answers one by one would treat a person's answers as independent and give
intervals that are too narrow for anything combining features; resampling respondents keeps
each person's answers together, as the survey was drawn. Each resample draws R respondents
with replacement from the R who answered; the native kernel
(:func:`truenorth._core.bootstrap_counts`) turns that into per-feature category counts
without materialising any resampled rows (see its module comment).

Intervals are percentile intervals of the resampled statistics (e.g. the 5th and 95th
percentiles for ``confidence=0.9``). A feature's category in a resample is decided by the same
rule as the point estimate (:func:`.compute.category_expr`: strength threshold and priority);
``category_stability`` is the share of resamples that give the point category.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from truenorth import _core

from .compute import CATEGORIES, CATEGORY_NAMES, DEFAULT_PRIORITY, category_expr, with_top_two

_NAMES = [CATEGORY_NAMES[c] for c in CATEGORIES]


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap results: ``features`` (one row per feature: ``better_ci_low``,
    ``better_ci_high``, ``worse_ci_low``, ``worse_ci_high``, ``category_stability``,
    ``bootstrap_category`` — the most frequent category over resamples) and ``shares`` (one
    row per feature and category: ``share`` of the point estimate, ``ci_low``, ``ci_high``)."""

    features: pl.DataFrame
    shares: pl.DataFrame
    resamples: int


def resample_counts(
    classified: pl.DataFrame, *, resamples: int, seed: int
) -> tuple[pl.DataFrame, list[str]]:
    """Per resample and feature, the counts of each category (columns as in
    :data:`.compute.CATEGORY_NAMES`) and ``n``; plus the feature names (index order)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    coded = classified.select(
        pl.col("respondent").rank("dense").cast(pl.UInt32).sub(1).alias("cluster"),
        pl.col("feature").rank("dense").cast(pl.UInt32).sub(1).alias("fid"),
        pl.col("feature"),
        pl.col("category").replace_strict(
            {c: i for i, c in enumerate(CATEGORIES)}, return_dtype=pl.UInt32
        ),
    )
    features = coded.group_by("fid").agg(pl.col("feature").first()).sort("fid")["feature"]
    n_features, n_cats = features.len(), len(CATEGORIES)
    clusters = int(coded["cluster"].max()) + 1  # type: ignore[arg-type]
    group = (coded["fid"] * n_cats + coded["category"]).alias("group")
    stream = _core.bootstrap_counts(
        coded["cluster"].rechunk(),
        group.rechunk(),
        clusters=clusters,
        groups=n_features * n_cats,
        resamples=resamples,
        seed=seed,
    )
    wide = pl.DataFrame(stream)["count"].cast(pl.Int64).reshape((resamples * n_features, n_cats))
    frame = pl.DataFrame(
        {
            "resample": pl.int_range(resamples * n_features, eager=True) // n_features,
            "fid": pl.int_range(resamples * n_features, eager=True) % n_features,
        }
    ).with_columns(*[wide.arr.get(i).alias(name) for i, name in enumerate(_NAMES)])
    frame = frame.with_columns(n=pl.sum_horizontal(_NAMES))
    return frame, features.to_list()


def bootstrap(
    classified: pl.DataFrame,
    point: pl.DataFrame,
    *,
    resamples: int = 1000,
    seed: int = 1,
    confidence: float = 0.9,
    strength_threshold: float = 0.06,
    priority: Sequence[str] = DEFAULT_PRIORITY,
) -> Bootstrap:
    """Cluster-bootstrap intervals for the features of ``point`` (the kano table computed
    from ``classified``, the answers with their category).

    >>> import polars as pl
    >>> from truenorth.builtins.kano import compute
    >>> answers = pl.DataFrame({
    ...     "respondent": [f"r{i}" for i in range(40)],
    ...     "feature": ["search"] * 40,
    ...     "functional": [1] * 30 + [3] * 10, "dysfunctional": [3] * 30 + [3] * 10})
    >>> classified = compute.classify(compute.normalise_survey(answers)).collect()
    >>> point = compute.summarise(classified)
    >>> result = bootstrap(classified, point, resamples=200, seed=3)
    >>> row = result.features.row(0, named=True)
    >>> row["better_ci_low"] < point["better"][0] < row["better_ci_high"]
    True
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    counts, names = resample_counts(classified, resamples=resamples, seed=seed)
    aomi = sum(pl.col(CATEGORY_NAMES[c]) for c in "AOMI")
    stats = (
        with_top_two(counts.lazy())
        .with_columns(
            *[(pl.col(n) / pl.col("n")).alias(f"{n}_share") for n in _NAMES],
            category=category_expr(strength_threshold, priority),
            better=pl.when(aomi > 0).then(
                (pl.col("attractive") + pl.col("one_dimensional")) / aomi
            ),
            worse=pl.when(aomi > 0).then(-(pl.col("one_dimensional") + pl.col("must_be")) / aomi),
        )
        .with_columns(
            pl.col("fid")
            .replace_strict(dict(enumerate(names)), return_dtype=pl.String)
            .alias("feature")
        )
        .join(
            point.lazy().select("feature", pl.col("category").alias("_point")),
            on="feature",
            how="left",
        )
    )
    lo, hi = (1 - confidence) / 2, (1 + confidence) / 2

    def bounds(col: str, prefix: str) -> list[pl.Expr]:
        c = pl.col(col).drop_nulls()
        return [
            c.quantile(lo, "linear").alias(f"{prefix}_ci_low"),
            c.quantile(hi, "linear").alias(f"{prefix}_ci_high"),
        ]

    per_feature = (
        stats.group_by("feature")
        .agg(
            *bounds("better", "better"),
            *bounds("worse", "worse"),
            (pl.col("category") == pl.col("_point")).mean().alias("category_stability"),
            pl.col("category").mode().sort().first().alias("bootstrap_category"),
            *[b for n in _NAMES for b in bounds(f"{n}_share", n)],
        )
        .collect()
    )
    features = point.select("feature").join(per_feature, on="feature", how="left")
    shares = pl.concat(
        [
            point.select(
                "feature",
                pl.lit(c).alias("category"),
                pl.lit(CATEGORY_NAMES[c]).alias("category_name"),
                pl.col(f"{CATEGORY_NAMES[c]}_share").alias("share"),
            ).join(
                features.select(
                    "feature",
                    pl.col(f"{CATEGORY_NAMES[c]}_ci_low").alias("ci_low"),
                    pl.col(f"{CATEGORY_NAMES[c]}_ci_high").alias("ci_high"),
                ),
                on="feature",
                how="left",
            )
            for c in CATEGORIES
        ]
    ).sort("feature", "category")
    keep = [
        "feature",
        "better_ci_low",
        "better_ci_high",
        "worse_ci_low",
        "worse_ci_high",
        "category_stability",
        "bootstrap_category",
    ]
    return Bootstrap(features=features.select(keep), shares=shares, resamples=resamples)
