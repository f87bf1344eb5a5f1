"""Kano analysis as pure functions over Polars frames (no engine needed).

Reading and validating the answers lives in :mod:`.answers` (re-exported here).

The pipeline is::

    answers  = normalise_survey(frame)              # codes 1-5, validated, row numbers kept
    answers  = classify(answers, table="standard")  # + category A/O/M/I/R/Q per answer pair
    features = summarise(answers, ["feature"])      # counts, shares, category, strength, ...

Answer codes follow the Kano questionnaire order: 1 like, 2 expect (must-be), 3 neutral,
4 live with (tolerate), 5 dislike. Labels are normalised (case, punctuation, whitespace) and
matched against the common wordings in :data:`ANSWER_LABELS`.

Everything here is vectorised: Python only ever loops over the (few) distinct labels, the six
categories or the configured priority order, never over rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from .answers import (
    ANSWER_LABELS,
    ANSWERS,
    ROW,
    answer_code,
    label_map,
    normalise_label,
    normalise_survey,
)

__all__ = [
    "ANSWERS",
    "ANSWER_LABELS",
    "CATEGORIES",
    "CATEGORY_NAMES",
    "DEFAULT_PRIORITY",
    "DYSFUNCTIONAL_SCORES",
    "FUNCTIONAL_SCORES",
    "POULIOT_TABLE",
    "ROW",
    "STANDARD_TABLE",
    "answer_code",
    "classify",
    "drift",
    "evaluation_table",
    "fong_significant",
    "label_map",
    "normalise_label",
    "normalise_survey",
    "quadrant",
    "summarise",
    "unmet_flags",
]

CATEGORIES: tuple[str, ...] = ("A", "O", "M", "I", "R", "Q")
CATEGORY_NAMES: dict[str, str] = {
    "A": "attractive",
    "O": "one_dimensional",
    "M": "must_be",
    "I": "indifferent",
    "R": "reverse",
    "Q": "questionable",
}
#: Tie-break order among near-top categories (DOMAIN.md §2: M > O > A > I); R and Q come last.
DEFAULT_PRIORITY: tuple[str, ...] = ("M", "O", "A", "I", "R", "Q")


# Evaluation tables: row = functional answer, column = dysfunctional answer, both in ANSWERS order.
STANDARD_TABLE: tuple[str, ...] = (
    "QAAAO",  # like
    "RIIIM",  # expect
    "RIIIM",  # neutral
    "RIIIM",  # live with
    "RRRRQ",  # dislike
)
#: Pouliot's variant: the same non-neutral answer on both sides is questionable, so
#: expect/expect and live-with/live-with become Q (like/like and dislike/dislike already are).
POULIOT_TABLE: tuple[str, ...] = (
    "QAAAO",
    "RQIIM",
    "RIIIM",
    "RIIQM",
    "RRRRQ",
)

#: DuMouchel's continuous scores (functional: like 4, expect 2, neutral 0, live with -1, dislike -2).
FUNCTIONAL_SCORES: dict[int, float] = {1: 4.0, 2: 2.0, 3: 0.0, 4: -1.0, 5: -2.0}
#: DuMouchel's dysfunctional scores (like -2, expect -1, neutral 0, live with 2, dislike 4).
DYSFUNCTIONAL_SCORES: dict[int, float] = {1: -2.0, 2: -1.0, 3: 0.0, 4: 2.0, 5: 4.0}


def evaluation_table(table: str = "standard") -> pl.DataFrame:
    """The evaluation table as a long frame: functional, dysfunctional (codes 1-5), category."""
    grid = _grid(table)
    return pl.DataFrame(
        {
            "functional": [f for f in range(1, 6) for _ in range(1, 6)],
            "dysfunctional": [d for _ in range(1, 6) for d in range(1, 6)],
            "category": [grid[f - 1][d - 1] for f in range(1, 6) for d in range(1, 6)],
        },
        schema={"functional": pl.Int8, "dysfunctional": pl.Int8, "category": pl.String},
    )


def _grid(table: str) -> tuple[str, ...]:
    if table == "standard":
        return STANDARD_TABLE
    if table == "pouliot":
        return POULIOT_TABLE
    raise ValueError(f"table must be 'standard' or 'pouliot', not {table!r}")


def classify(answers: pl.DataFrame | pl.LazyFrame, table: str = "standard") -> pl.LazyFrame:
    """Add ``category`` (A/O/M/I/R/Q) to answers coded 1-5, via the chosen evaluation table."""
    grid = _grid(table)
    mapping = {f * 10 + d: grid[f - 1][d - 1] for f in range(1, 6) for d in range(1, 6)}
    pair = pl.col("functional").cast(pl.Int16) * 10 + pl.col("dysfunctional").cast(pl.Int16)
    return answers.lazy().with_columns(
        category=pair.replace_strict(mapping, return_dtype=pl.String),
        functional_score=pl.col("functional").replace_strict(
            FUNCTIONAL_SCORES, return_dtype=pl.Float64
        ),
        dysfunctional_score=pl.col("dysfunctional").replace_strict(
            DYSFUNCTIONAL_SCORES, return_dtype=pl.Float64
        ),
    )


def _complete_priority(priority: Sequence[str]) -> list[str]:
    order = [c for c in priority]
    for c in order:
        if c not in CATEGORIES:
            raise ValueError(
                f"unknown Kano category {c!r} in priority; expected one of A O M I R Q"
            )
    return order + [c for c in DEFAULT_PRIORITY if c not in order]


def with_top_two(stats: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``_c1`` and ``_c2``, the largest and second-largest category counts of each row
    (count columns named as in :data:`CATEGORY_NAMES`)."""
    counts = [pl.col(CATEGORY_NAMES[c]) for c in CATEGORIES]
    ranked = pl.concat_list(counts).list.sort(descending=True)
    return stats.with_columns(_c1=ranked.list.get(0), _c2=ranked.list.get(1))


def _candidates(strength_threshold: float) -> dict[str, pl.Expr]:
    c1, total = pl.col("_c1"), pl.col("n")
    return {
        c: (pl.col(CATEGORY_NAMES[c]) > 0)
        & (
            (pl.col(CATEGORY_NAMES[c]) == c1)
            | ((c1 - pl.col(CATEGORY_NAMES[c])).cast(pl.Float64) < strength_threshold * total)
        )
        for c in CATEGORIES
    }


def category_expr(strength_threshold: float, priority: Sequence[str]) -> pl.Expr:
    """The category of a row of counts (see :func:`summarise` for the rule), on a frame with
    the count columns, ``n`` and the ``_c1``/``_c2`` of :func:`with_top_two`. Shared by the
    point estimate and the bootstrap, so both decide categories the same way."""
    order = _complete_priority(priority)
    candidate = _candidates(strength_threshold)
    chosen: Any = pl.when(candidate[order[0]]).then(pl.lit(order[0]))  # a when/then chain
    for c in order[1:]:
        chosen = chosen.when(candidate[c]).then(pl.lit(c))
    return chosen


def summarise(
    answers: pl.DataFrame | pl.LazyFrame,
    by: Sequence[str] = ("feature",),
    *,
    strength_threshold: float = 0.06,
    priority: Sequence[str] = DEFAULT_PRIORITY,
    fong_z: float = 1.65,
    weight_by_importance: bool = False,
) -> pl.DataFrame:
    """Per group (by default per feature): the Kano statistics of classified answers.

    Columns: the ``by`` columns; ``n`` answers; counts ``attractive``, ``one_dimensional``,
    ``must_be``, ``indifferent``, ``reverse``, ``questionable`` and their ``*_share`` (of n);
    ``category`` (code) and ``category_name``; ``tie_break`` (the category came from the priority
    rule); ``category_strength`` (top share - second share); ``total_strength`` (A+O+M shares);
    ``runner_up`` (the second most frequent category); ``fong_difference`` |a - b| and
    ``fong_critical`` 1.65·√((a+b)(2n-a-b)/(2n)) for the top two counts a >= b, and
    ``significant`` (difference >= critical); ``better`` = (A+O)/(A+O+M+I) and ``worse`` =
    -(O+M)/(A+O+M+I) (null when A+O+M+I = 0) and their ``quadrant`` (:func:`quadrant`);
    DuMouchel ``functional_score`` and ``dysfunctional_score`` means (importance-weighted when
    asked and ``importance`` exists);
    ``mean_importance``, ``mean_satisfaction`` and ``delivered_share`` (null without the column).

    The category rule, precisely: let ``c1`` be the largest count and ``n`` the answers. The
    candidates are the categories with a non-zero count ``c`` such that ``c == c1`` or
    ``(c1 - c) < strength_threshold · n`` (their share is less than the threshold below the top
    share). One candidate: it is the category (the mode). Several (a tie, or a category strength
    below the threshold): the first of them in ``priority`` (default M > O > A > I > R > Q).
    """
    order = _complete_priority(priority)
    lazy = answers.lazy()
    schema = lazy.collect_schema()
    n = pl.len().alias("n")
    cat = pl.col("category")
    aggs: list[pl.Expr] = [n]
    aggs += [(cat == c).sum().cast(pl.Int64).alias(CATEGORY_NAMES[c]) for c in CATEGORIES]
    weighted = weight_by_importance and "importance" in schema
    for score in ("functional_score", "dysfunctional_score"):
        if weighted:
            w = pl.col("importance")
            has = w.is_not_null()
            aggs.append(((pl.col(score) * w).filter(has).sum() / w.filter(has).sum()).alias(score))
        else:
            aggs.append(pl.col(score).mean().alias(score))
    aggs.append(
        pl.col("importance").mean().alias("mean_importance")
        if "importance" in schema
        else pl.lit(None, dtype=pl.Float64).alias("mean_importance")
    )
    aggs.append(
        pl.col("satisfaction").mean().alias("mean_satisfaction")
        if "satisfaction" in schema
        else pl.lit(None, dtype=pl.Float64).alias("mean_satisfaction")
    )
    aggs.append(
        pl.col("delivered").cast(pl.Float64).mean().alias("delivered_share")
        if "delivered" in schema
        else pl.lit(None, dtype=pl.Float64).alias("delivered_share")
    )
    stats = with_top_two(lazy.group_by(*by).agg(aggs))
    c1, c2, total = pl.col("_c1"), pl.col("_c2"), pl.col("n")
    candidate = _candidates(strength_threshold)
    chosen = category_expr(strength_threshold, order)
    n_candidates = pl.sum_horizontal([candidate[c].cast(pl.Int8) for c in CATEGORIES])
    # Runner-up: the most frequent category other than the (first, in CATEGORIES order) top one.
    top_first = pl.coalesce(
        [pl.when(pl.col(CATEGORY_NAMES[c]) == c1).then(pl.lit(c)) for c in CATEGORIES]
    )
    runner = pl.coalesce(
        [
            pl.when((pl.col(CATEGORY_NAMES[c]) == c2) & (pl.lit(c) != top_first)).then(pl.lit(c))
            for c in CATEGORIES
        ]
    )
    aomi = sum(pl.col(CATEGORY_NAMES[c]) for c in "AOMI")
    share = {c: pl.col(CATEGORY_NAMES[c]) / total for c in CATEGORIES}
    fong_critical = (
        fong_z * (((c1 + c2) * (2 * total - c1 - c2)).cast(pl.Float64) / (2 * total)).sqrt()
    )
    stats = stats.with_columns(
        *[share[c].alias(f"{CATEGORY_NAMES[c]}_share") for c in CATEGORIES],
        category=chosen,
        tie_break=n_candidates > 1,
        category_strength=(c1 - c2) / total,
        total_strength=(share["A"] + share["O"] + share["M"]),
        runner_up=pl.when(c2 > 0).then(runner),
        fong_difference=(c1 - c2).cast(pl.Float64),
        fong_critical=fong_critical,
        better=pl.when(aomi > 0).then((pl.col("attractive") + pl.col("one_dimensional")) / aomi),
        worse=pl.when(aomi > 0).then(-(pl.col("one_dimensional") + pl.col("must_be")) / aomi),
    ).with_columns(
        category_name=pl.col("category").replace_strict(CATEGORY_NAMES, return_dtype=pl.String),
        significant=pl.col("fong_difference") >= pl.col("fong_critical"),
        quadrant=quadrant(pl.col("better"), pl.col("worse")),
    )
    columns = [
        *by,
        "n",
        *[CATEGORY_NAMES[c] for c in CATEGORIES],
        *[f"{CATEGORY_NAMES[c]}_share" for c in CATEGORIES],
        "category",
        "category_name",
        "tie_break",
        "category_strength",
        "total_strength",
        "runner_up",
        "fong_difference",
        "fong_critical",
        "significant",
        "better",
        "worse",
        "quadrant",
        "functional_score",
        "dysfunctional_score",
        "mean_importance",
        "mean_satisfaction",
        "delivered_share",
    ]
    return stats.select(columns).sort(*by).collect()


def quadrant(better: pl.Expr, worse: pl.Expr, line: float = 0.5) -> pl.Expr:
    """The category suggested by the satisfaction coefficients on the |worse| x better plot
    (quadrant lines at 0.5): better >= 0.5 and |worse| >= 0.5 -> O; better >= 0.5 -> A;
    |worse| >= 0.5 -> M; otherwise I. Null when the coefficients are.
    """
    hi_better, hi_worse = better >= line, worse.abs() >= line
    return (
        pl.when(better.is_null() | worse.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(hi_better & hi_worse)
        .then(pl.lit("O"))
        .when(hi_better)
        .then(pl.lit("A"))
        .when(hi_worse)
        .then(pl.lit("M"))
        .otherwise(pl.lit("I"))
    )


def unmet_flags(
    features: pl.DataFrame,
    *,
    satisfaction_min: float | None,
    delivered_min: float | None,
    flagged: Iterable[str] = (),
) -> pl.DataFrame:
    """Add ``unmet``: the feature's need is not met, per the available signals.

    A feature is unmet when it is in ``flagged``, or its ``mean_satisfaction`` is below
    ``satisfaction_min``, or its ``delivered_share`` is below ``delivered_min``. ``unmet`` is
    null when there is no signal at all for the feature (no column and not flagged).
    """
    flagged = list(flagged)
    signals: list[pl.Expr] = []
    if satisfaction_min is not None:
        signals.append(pl.col("mean_satisfaction") < satisfaction_min)
    if delivered_min is not None:
        signals.append(pl.col("delivered_share") < delivered_min)
    is_flagged = pl.col("feature").is_in(flagged)
    if signals:
        known = pl.any_horizontal([s.is_not_null() for s in signals])
        hit = pl.any_horizontal([s.fill_null(False) for s in signals])
        from_data = pl.when(known).then(hit)  # null only when no signal says anything
        unmet = pl.when(is_flagged).then(True).otherwise(from_data)
    else:
        unmet = pl.when(is_flagged).then(True).otherwise(pl.lit(None, dtype=pl.Boolean))
    return features.with_columns(unmet=unmet)


def drift(waves: pl.DataFrame, by: Sequence[str] = ("feature",)) -> pl.DataFrame:
    """Category changes between consecutive survey waves (waves in their sort order).

    ``waves`` is :func:`summarise` grouped by ``(*by, "wave")``. Returns one row per change:
    the ``by`` columns, ``from_wave``, ``to_wave``, ``from_category``, ``to_category`` and
    whether each of the two categories was Fong-significant.
    """
    ordered = waves.sort(*by, "wave")
    prev = [
        pl.col("wave").shift(1).over(list(by)).alias("from_wave"),
        pl.col("category").shift(1).over(list(by)).alias("from_category"),
        pl.col("significant").shift(1).over(list(by)).alias("from_significant"),
    ]
    return (
        ordered.with_columns(prev)
        .filter(
            pl.col("from_category").is_not_null() & (pl.col("from_category") != pl.col("category"))
        )
        .select(
            *by,
            "from_wave",
            pl.col("wave").alias("to_wave"),
            "from_category",
            pl.col("category").alias("to_category"),
            "from_significant",
            pl.col("significant").alias("to_significant"),
        )
    )


def fong_significant(a: int, b: int, n: int, z: float = 1.65) -> bool:
    """Fong's test for the top two counts ``a`` and ``b`` of ``n`` answers (scalar helper).

    >>> fong_significant(50, 30, 100)
    True
    >>> fong_significant(40, 35, 100)
    False
    """
    return abs(a - b) >= z * math.sqrt((a + b) * (2 * n - a - b) / (2 * n))
