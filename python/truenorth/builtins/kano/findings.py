"""The findings of a ``kano`` rule, from its tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from truenorth import RuleContext
from truenorth.errors import DataError

from . import compute
from .compute import CATEGORY_NAMES
from .options import BootstrapOptions, KanoOptions

_LABELS = {c: name.replace("_", "-") for c, name in CATEGORY_NAMES.items()}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _unmet_reason(
    row: Mapping, options: KanoOptions, unmet: Sequence[str] = ()
) -> tuple[str, float | None, str | None]:
    reasons = []
    value = threshold = None
    sat, dlv = row["mean_satisfaction"], row["delivered_share"]
    if row["feature"] in options.unmet:
        reasons.append("flagged unmet in the rule's options")
    if row["feature"] in unmet:
        reasons.append(f"flagged unmet in table '{options.unmet_from}'")
    if options.delivered_min is not None and dlv is not None and dlv < options.delivered_min:
        reasons.append(f"delivered to {_pct(dlv)} of respondents (< {_pct(options.delivered_min)})")
        value, threshold = dlv, f"delivered_share >= {options.delivered_min:g}"
    if options.satisfaction_min is not None and sat is not None and sat < options.satisfaction_min:
        reasons.append(f"mean satisfaction {sat:.2f} < {options.satisfaction_min:g}")
        value, threshold = sat, f"mean_satisfaction >= {options.satisfaction_min:g}"
    return "; ".join(reasons), value, threshold


def findings(
    ctx: RuleContext,
    tables: Mapping[str, pl.DataFrame],
    options: KanoOptions,
    unmet: Sequence[str] = (),
) -> list:
    """Unmet must-be features, the attractive-while-unmet pitfall, non-significant categories,
    categories that differ by segment, category drift between waves, and the rule's warn/fail
    conditions on the main table."""
    main = tables[options.output]
    out = []
    known = set(main["feature"].to_list())
    for name in (*options.unmet, *options.investing):
        if name not in known:
            raise DataError(
                f"kano option names feature {name!r}, which is not in the survey "
                f"(features: {', '.join(sorted(known))})"
            )
    unmet_must = main.filter((pl.col("category") == "M") & pl.col("unmet").fill_null(False))
    for row in unmet_must.iter_rows(named=True):  # findings: one per unmet feature, not per row
        reason, value, threshold = _unmet_reason(row, options, unmet)
        out.append(
            ctx.finding(
                row["feature"],
                f"must-be feature '{row['feature']}' is unmet: {reason}; fix basic needs first",
                value=value,
                threshold=threshold,
                evidence={
                    "category": "M",
                    "must_be_share": row["must_be_share"],
                    "mean_satisfaction": row["mean_satisfaction"],
                    "delivered_share": row["delivered_share"],
                    "n": row["n"],
                },
            )
        )
    unmet_names = unmet_must["feature"].to_list()
    if unmet_names:
        invested = main.filter(
            pl.col("feature").is_in(options.investing) & (pl.col("category") == "A")
        )
        for row in invested.iter_rows(named=True):
            out.append(
                ctx.finding(
                    row["feature"],
                    f"investing in attractive feature '{row['feature']}' while must-be "
                    f"feature(s) {', '.join(repr(f) for f in unmet_names)} are unmet",
                    evidence={"unmet_must_be": unmet_names, "better": row["better"]},
                )
            )
    for row in main.filter(~pl.col("significant")).iter_rows(named=True):
        runner = row["runner_up"]
        out.append(
            ctx.finding(
                row["feature"],
                f"category of '{row['feature']}' ({row['category']}) is not significant: the "
                f"top two categories differ by {row['fong_difference']:g} answers of "
                f"{row['n']}, below Fong's critical value {row['fong_critical']:.2f}"
                + (f" (runner-up {runner})" if runner else ""),
                severity="info",
                value=row["fong_difference"],
                threshold=f"fong_difference >= {row['fong_critical']:.4g}",
                evidence={"category": row["category"], "runner_up": runner, "n": row["n"]},
            )
        )
    if options.bootstrap is not None:
        out.extend(_stability_findings(ctx, main, options.bootstrap))
    segments = tables.get(f"{options.output}_segments")
    if segments is not None and segments.height:
        split = (
            segments.sort("feature", "segment")
            .group_by("feature", maintain_order=True)
            .agg("segment", "category", pl.col("category").n_unique().alias("categories"))
            .filter(pl.col("categories") > 1)
        )
        for row in split.iter_rows(named=True):
            per = dict(zip(row["segment"], row["category"], strict=True))
            shown = ", ".join(f"{seg} {cat}" for seg, cat in per.items())
            out.append(
                ctx.finding(
                    row["feature"],
                    f"Kano category of '{row['feature']}' differs by segment: {shown}",
                    severity="info",
                    evidence={"categories": per},
                )
            )
    waves = tables[f"{options.output}_waves"]
    if waves.height:
        for row in compute.drift(waves).iter_rows(named=True):
            out.append(
                ctx.finding(
                    row["feature"],
                    f"Kano category of '{row['feature']}' drifted from {row['from_category']} "
                    f"({_LABELS[row['from_category']]}) in wave {row['from_wave']} to "
                    f"{row['to_category']} ({_LABELS[row['to_category']]}) in wave "
                    f"{row['to_wave']}",
                    severity="info",
                    evidence={k: row[k] for k in row if k != "feature"},
                )
            )
    if options.value not in main.columns:
        raise DataError(
            f"kano option value: {options.value!r} is not a column of the kano table "
            f"(columns: {', '.join(main.columns)})"
        )
    out.extend(ctx.check_thresholds(main, value=options.value, subject="feature"))
    return out


def _stability_findings(ctx: RuleContext, main: pl.DataFrame, b: BootstrapOptions) -> list:
    """Info findings for features whose category the bootstrap does not reproduce often."""
    out = []
    unstable = main.filter(pl.col("category_stability") < b.stability)
    for row in unstable.iter_rows(named=True):  # one finding per feature
        other = row["bootstrap_category"]
        out.append(
            ctx.finding(
                row["feature"],
                f"category of '{row['feature']}' ({row['category']}) is not stable: "
                f"{100 * row['category_stability']:.0f}% of {b.resamples} bootstrap resamples "
                f"give it (below {100 * b.stability:.0f}%)"
                + (f"; the resamples most often give {other}" if other != row["category"] else ""),
                severity="info",
                value=row["category_stability"],
                threshold=f"category_stability >= {b.stability:g}",
                evidence={
                    "category": row["category"],
                    "bootstrap_category": other,
                    "resamples": b.resamples,
                    "n": row["n"],
                },
            )
        )
    return out
