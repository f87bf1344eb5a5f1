"""The tables of a ``kano`` rule, computed from a survey frame without the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from truenorth.errors import DataError

from . import compute
from .bootstrap import bootstrap as run_bootstrap
from .compute import CATEGORY_NAMES
from .options import KanoOptions


def stats_schema(keys: Mapping[str, pl.DataType | type[pl.DataType]]) -> dict:
    counts = {CATEGORY_NAMES[c]: pl.Int64 for c in compute.CATEGORIES}
    shares = {f"{CATEGORY_NAMES[c]}_share": pl.Float64 for c in compute.CATEGORIES}
    return {
        **keys,
        "n": pl.UInt32,
        **counts,
        **shares,
        "category": pl.String,
        "category_name": pl.String,
        "tie_break": pl.Boolean,
        "category_strength": pl.Float64,
        "total_strength": pl.Float64,
        "runner_up": pl.String,
        "fong_difference": pl.Float64,
        "fong_critical": pl.Float64,
        "significant": pl.Boolean,
        "better": pl.Float64,
        "worse": pl.Float64,
        "quadrant": pl.String,
        "functional_score": pl.Float64,
        "dysfunctional_score": pl.Float64,
        "mean_importance": pl.Float64,
        "mean_satisfaction": pl.Float64,
        "delivered_share": pl.Float64,
        "unmet": pl.Boolean,
        "priority_rank": pl.UInt32,
        **BOOTSTRAP_SCHEMA,
    }


BOOTSTRAP_SCHEMA: dict[str, Any] = {
    "better_ci_low": pl.Float64,
    "better_ci_high": pl.Float64,
    "worse_ci_low": pl.Float64,
    "worse_ci_high": pl.Float64,
    "category_stability": pl.Float64,
    "bootstrap_category": pl.String,
}
SHARES_SCHEMA: dict[str, Any] = {
    "feature": pl.String,
    "category": pl.String,
    "category_name": pl.String,
    "share": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
}


def priority_rank(table: pl.DataFrame, priority: Sequence[str]) -> pl.Series:
    """Rank (1 = first) of each feature for the roadmap: by category in ``priority`` order
    (default M > O > A > I, then R, Q), then by mean self-stated importance (higher first;
    features without importance answers last), then by total strength (higher first) and
    name. Berger et al. (1993) order work by category and, within one, by self-stated
    importance."""
    order: dict[str, int] = {}
    for c in [*priority, *compute.CATEGORIES]:
        order.setdefault(c, len(order))
    ranked = table.with_row_index("__i").sort(
        pl.col("category").replace_strict(order, default=len(order), return_dtype=pl.Int32),
        pl.col("mean_importance"),
        pl.col("total_strength"),
        pl.col("feature"),
        descending=[False, True, True, False],
        nulls_last=True,
    )
    ranks = ranked.with_row_index("rank", offset=1).sort("__i")["rank"]
    return ranks.cast(pl.UInt32).alias("priority_rank")


def _with_extras(
    table: pl.DataFrame, options: KanoOptions, boot: pl.DataFrame | None
) -> pl.DataFrame:
    table = table.with_columns(priority_rank(table, options.priority))
    if boot is None:
        return table.with_columns(
            *[pl.lit(None, dtype).alias(c) for c, dtype in BOOTSTRAP_SCHEMA.items()]
        )
    return table.join(boot, on="feature", how="left", maintain_order="left")


def unmet_features(frame: pl.DataFrame | pl.LazyFrame, name: str) -> list[str]:
    """Feature names flagged unmet in a table (``feature`` [+ boolean ``unmet``])."""
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    if "feature" not in names:
        raise DataError(
            f"kano option unmet_from: table '{name}' has no 'feature' column "
            f"(columns: {', '.join(names)})"
        )
    if "unmet" in names:
        lazy = lazy.filter(pl.col("unmet").cast(pl.Boolean).fill_null(False))
    return sorted(
        lazy.select(pl.col("feature").cast(pl.String).drop_nulls().unique())
        .collect()["feature"]
        .to_list()
    )


def analyse(
    frame: pl.DataFrame | pl.LazyFrame, options: KanoOptions, unmet: Sequence[str] = ()
) -> dict[str, pl.DataFrame]:
    """All tables of a kano rule, from a survey frame with canonical columns (no engine).

    ``unmet`` adds features known to be unmet (besides ``options.unmet``).
    """
    answers = compute.normalise_survey(
        frame,
        missing=options.missing,
        importance_scale=options.importance_scale,
        labels=options.answers,
    )
    if options.by == "segment" and "segment" not in answers.columns:
        raise DataError(
            "kano option by: segment needs a 'segment' column in the survey "
            f"(found: {', '.join(c for c in answers.columns if c != compute.ROW)})"
        )
    classified = compute.classify(answers, options.table).collect()
    if classified.height == 0:
        raise DataError(
            "the survey has no answers (0 rows); expected rows with respondent, feature, "
            "functional and dysfunctional answers"
        )
    if "segment" in classified.columns:
        classified = classified.with_columns(pl.col("segment").cast(pl.String))
    stats: dict[str, Any] = {
        "strength_threshold": options.strength_threshold,
        "priority": options.priority,
        "fong_z": options.fong_z,
        "weight_by_importance": options.weight_by_importance,
    }
    flags: dict[str, Any] = {
        "satisfaction_min": options.satisfaction_min,
        "delivered_min": options.delivered_min,
        "flagged": [*options.unmet, *unmet],
    }
    tables: dict[str, pl.DataFrame] = {}
    current = classified
    if "wave" in classified.columns:
        waves = compute.summarise(classified, ("feature", "wave"), **stats)
        tables[f"{options.output}_waves"] = compute.unmet_flags(waves, **flags)
        if options.waves == "latest":
            latest = classified["wave"].drop_nulls().max()
            current = classified.filter(pl.col("wave") == latest)
    else:
        tables[f"{options.output}_waves"] = pl.DataFrame(
            schema={"feature": pl.String, "wave": pl.String}
        )
    main = compute.unmet_flags(compute.summarise(current, ("feature",), **stats), **flags)
    boot = None
    if options.bootstrap is not None:
        b = options.bootstrap
        result = run_bootstrap(
            current,
            main,
            resamples=b.resamples,
            seed=b.seed,
            confidence=b.confidence,
            strength_threshold=options.strength_threshold,
            priority=options.priority,
        )
        boot = result.features
        tables[f"{options.output}_shares"] = result.shares
    tables[options.output] = _with_extras(main, options, boot)
    if options.by == "segment":
        segments = compute.unmet_flags(
            compute.summarise(current, ("segment", "feature"), **stats), **flags
        )
        tables[f"{options.output}_segments"] = (
            pl.concat(
                [
                    _with_extras(part, options, None)
                    for part in segments.partition_by("segment", maintain_order=True)
                ]
            )
            if segments.height
            else _with_extras(segments, options, None)
        )
    return tables
