"""The ``kano`` rule kind: classify product features from a Kano survey (DOMAIN.md §2).

The math lives in :mod:`truenorth.builtins.kano.compute` (pure Polars functions); this module
is the thin rule-kind wrapper: options, tables read and written, findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from truenorth import Options, Rule, RuleContext, RuleKind, RuleOutput, hookimpl
from truenorth.errors import DataError

from . import compute
from .compute import CATEGORY_NAMES

Category = Literal["A", "O", "M", "I", "R", "Q"]
DEFAULT_PRIORITY: tuple[Category, ...] = ("M", "O", "A", "I")
_LABELS = {c: name.replace("_", "-") for c, name in CATEGORY_NAMES.items()}


class KanoOptions(Options):
    """Options of a ``kano`` rule (its ``with:`` mapping)."""

    source: str = Field("survey", description="Dataset role (or table) holding the answers.")
    table: Literal["standard", "pouliot"] = Field(
        "standard",
        description="Evaluation table: 'standard', or 'pouliot' (the same non-neutral answer "
        "on both sides is questionable).",
    )
    by: Literal["segment"] | None = Field(
        None, description="'segment': also write a per-segment table (<output>_segments)."
    )
    strength_threshold: float = Field(
        0.06,
        ge=0,
        le=1,
        description="Categories whose share is less than this below the top share are near-top;"
        " when several are, the category is the first of them in `priority`.",
    )
    priority: list[Category] = Field(
        default_factory=lambda: list(DEFAULT_PRIORITY),
        description="Tie-break order among near-top categories; unlisted ones follow in the "
        "order M O A I R Q.",
    )
    fong_z: float = Field(1.65, gt=0, description="z value of Fong's significance test.")
    weight_by_importance: bool = Field(
        False, description="Weight the continuous (DuMouchel) scores by each answer's importance."
    )
    importance_scale: tuple[float, float] = Field(
        (1.0, 9.0), description="Valid range of self-stated importance."
    )
    missing: Literal["drop", "error"] = Field(
        "drop", description="Rows with a missing functional or dysfunctional answer."
    )
    waves: Literal["latest", "pooled"] = Field(
        "latest",
        description="With a `wave` column: base the main table on the latest wave (in sort "
        "order), or pool all waves.",
    )
    satisfaction_min: float | None = Field(
        3.0,
        description="A feature whose mean `satisfaction` is below this is unmet (default for a "
        "1-5 scale; null disables).",
    )
    delivered_min: float | None = Field(
        0.9,
        ge=0,
        le=1,
        description="A feature delivered to a smaller share of respondents than this is unmet.",
    )
    unmet: list[str] = Field(
        default_factory=list,
        description="Features known to be unmet (e.g. from the canvas), besides the data.",
    )
    investing: list[str] = Field(
        default_factory=list,
        description="Features currently invested in (roadmap); attractive ones while must-be "
        "features are unmet are flagged as a pitfall.",
    )
    unmet_from: str | None = Field(
        None,
        description="A table (dataset role or another rule's output) listing unmet features: "
        "column `feature`, and optionally a boolean `unmet` (rows where it is true count).",
    )
    output: str = Field("kano", min_length=1, description="Name of the table written.")
    value: str = Field(
        "total_strength", description="Column reported as the value of warn/fail findings."
    )

    @field_validator("priority")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"priority lists a category twice: {value}")
        return value

    @field_validator("importance_scale")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] >= value[1]:
            raise ValueError(f"importance_scale must be (low, high) with low < high, not {value}")
        return value


def _stats_schema(keys: Mapping[str, pl.DataType | type[pl.DataType]]) -> dict:
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
    }


def reads(options: KanoOptions, rule: Rule) -> Sequence[str]:
    if options.unmet_from:
        return (options.source, options.unmet_from)
    return (options.source,)


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


def writes(options: KanoOptions, rule: Rule[KanoOptions]) -> dict[str, Any]:
    out: dict[str, Any] = {options.output: _stats_schema({"feature": pl.String})}
    if options.by == "segment":
        out[f"{options.output}_segments"] = _stats_schema(
            {"segment": pl.String, "feature": pl.String}
        )
    out[f"{options.output}_waves"] = None  # the wave column keeps its input type
    return out


def analyse(
    frame: pl.DataFrame | pl.LazyFrame, options: KanoOptions, unmet: Sequence[str] = ()
) -> dict[str, pl.DataFrame]:
    """All tables of a kano rule, from a survey frame with canonical columns (no engine).

    ``unmet`` adds features known to be unmet (besides ``options.unmet``).
    """
    answers = compute.normalise_survey(
        frame, missing=options.missing, importance_scale=options.importance_scale
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
    tables[options.output] = compute.unmet_flags(
        compute.summarise(current, ("feature",), **stats), **flags
    )
    if options.by == "segment":
        tables[f"{options.output}_segments"] = compute.unmet_flags(
            compute.summarise(current, ("segment", "feature"), **stats), **flags
        )
    return tables


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


def evaluate(ctx: RuleContext[KanoOptions]) -> RuleOutput:
    options = ctx.rule.options
    extra: list[str] = []
    if options.unmet_from:
        extra = unmet_features(ctx.table(options.unmet_from), options.unmet_from)
    tables = analyse(ctx.table(options.source), options, extra)
    return RuleOutput(tables=dict(tables), findings=findings(ctx, tables, options, extra))


DOC = """\
Classify product features from a Kano survey (functional / dysfunctional question pairs).

Input (dataset role `source`, default `survey`), canonical columns:
  respondent, feature, functional, dysfunctional   required
  importance (1-9), segment, wave, satisfaction (number), delivered (flag)   optional
Answers are codes 1-5 (1 like, 2 expect/must-be, 3 neutral, 4 live with/tolerate, 5 dislike)
or labels in the common wordings ("I like it", "It must be that way", "I am neutral",
"I can tolerate it", "I dislike it", ...), matched after normalising case, punctuation and
whitespace. An unknown label is an error naming the column, the row and the value.

Tables: `kano` (per feature), `kano_segments` (per segment and feature, with `by: segment`),
`kano_waves` (per wave and feature; empty without a `wave` column). Columns: counts and shares
of A/O/M/I/R/Q, category (mode; near-top categories within `strength_threshold` of the top share
are decided by `priority`, default M > O > A > I), category and total strength, Fong
significance, better/worse (Berger et al.), DuMouchel continuous scores, mean importance,
mean satisfaction, delivered share, unmet (from satisfaction, delivery, `unmet` or `unmet_from`).

Findings: unmet must-be features (rule severity), attractive features in `investing` while
must-be features are unmet (rule severity), non-significant categories (info), features whose
category differs by segment (info, with `by: segment`), category drift between consecutive
waves (info), and `warn`/`fail` conditions on the rows of the kano table.

Example (a pack's rules):

```yaml
rules:
  - id: features
    kind: kano
    with:
      source: survey
      table: standard          # or pouliot
      by: segment
      satisfaction_min: 3.5
      investing: [dark_mode, ai_assistant]
    warn: "category = 'M' AND worse < -0.7"
```
"""


KIND = RuleKind(
    name="kano",
    options_model=KanoOptions,
    evaluate=evaluate,
    reads=reads,
    writes=writes,
    summary="Kano classification of product features from survey answers.",
    doc=DOC,
)


@hookimpl
def register_rule_kinds(register) -> None:
    register(KIND)
