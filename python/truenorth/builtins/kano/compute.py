"""Kano analysis as pure functions over Polars frames (no engine needed).

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
import re
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from truenorth.errors import DataError

__all__ = [
    "ANSWER_LABELS",
    "CATEGORIES",
    "CATEGORY_NAMES",
    "DEFAULT_PRIORITY",
    "DYSFUNCTIONAL_SCORES",
    "FUNCTIONAL_SCORES",
    "POULIOT_TABLE",
    "STANDARD_TABLE",
    "classify",
    "drift",
    "evaluation_table",
    "fong_significant",
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

ANSWERS: tuple[str, ...] = ("like", "expect", "neutral", "live with", "dislike")

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

_LIKE = """like | i like it | like it | i like it that way | i like it this way | i would like it
    | i would like it that way | i would like that | i enjoy it | enjoy | love it | i love it
    | delighted | i am delighted | satisfied | i am satisfied | pleased | i would be pleased"""
_EXPECT = """expect | expected | expect it | i expect it | i expect it that way | i expect it this way
    | i expect it to be that way | must be | mustbe | must have | it must be | it must be that way
    | it must be this way | must be that way | i expect that | it should be that way
    | should be that way | basic | taken for granted | i take it for granted | it is a must"""
_NEUTRAL = """neutral | i am neutral | im neutral | i feel neutral | indifferent | i am indifferent
    | i dont care | dont care | i do not care | do not care | no feeling | no feelings
    | doesnt matter | it doesnt matter | does not matter | it does not matter | no opinion
    | i have no opinion | neither | neither like nor dislike"""
_LIVE_WITH = """live with | live with it | can live with | can live with it | i can live with it
    | i can live with it that way | i can live with that | live with it that way | tolerate
    | tolerate it | can tolerate | can tolerate it | i can tolerate it | i can tolerate it that way
    | i can accept it | accept it | acceptable | i can put up with it | put up with it"""
_DISLIKE = """dislike | dislike it | i dislike it | i dislike it that way | i dislike it this way
    | i dont like it | dont like it | i do not like it | do not like it | i would dislike it
    | i dislike that | i hate it | hate it | dissatisfied | i am dissatisfied | displeased
    | i would be displeased"""


def normalise_label(value: str) -> str:
    """Lower-case, drop apostrophes, turn punctuation into spaces and collapse whitespace.

    >>> normalise_label("  I can LIVE with it. ")
    'i can live with it'
    >>> normalise_label("I don't care")
    'i dont care'
    >>> normalise_label("Must-be")
    'must be'
    """
    text = value.strip().lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"[^0-9a-z]+", " ", text)
    return " ".join(text.split())


def _variants(block: str) -> list[str]:
    return [normalise_label(v) for v in block.split("|")]


#: Normalised label -> answer code (1 like, 2 expect, 3 neutral, 4 live with, 5 dislike).
ANSWER_LABELS: dict[str, int] = {
    **{str(code): code for code in range(1, 6)},
    **dict.fromkeys(_variants(_LIKE), 1),
    **dict.fromkeys(_variants(_EXPECT), 2),
    **dict.fromkeys(_variants(_NEUTRAL), 3),
    **dict.fromkeys(_variants(_LIVE_WITH), 4),
    **dict.fromkeys(_variants(_DISLIKE), 5),
}

_TRUE = {"1", "true", "t", "yes", "y", "delivered", "met"}
_FALSE = {"0", "false", "f", "no", "n", "not delivered", "unmet", "not met"}

ROW = "__row"  # 1-based data row number of the input, kept for error messages


def _bad(column: str, row: int, value: object, expected: str, what: str = "value") -> DataError:
    shown = "missing value" if value is None else f"{what} {value!r}"
    return DataError(f"column '{column}', row {row}: {shown}; expected {expected}")


def _parse_answers(frame: pl.DataFrame, column: str) -> pl.Series:
    """The answers of ``column`` as Int8 codes 1-5; nulls stay null (the caller decides)."""
    series = frame[column]
    expected = (
        "an answer code 1-5 or a label such as like / expect / neutral / live with / dislike "
        "(also 'I like it', 'It must be that way', 'I am neutral', 'I can tolerate it', "
        "'I dislike it', ...)"
    )
    dtype = series.dtype
    if dtype == pl.Null:
        return pl.Series(column, [None] * len(series), dtype=pl.Int8)
    if dtype.is_numeric():
        as_float = series.cast(pl.Float64)
        bad = as_float.is_not_null() & (~as_float.is_between(1, 5) | (as_float != as_float.floor()))
        if bad.any():
            hit = frame.filter(bad).head(1)
            raise _bad(column, hit[ROW][0], hit[column][0], expected, "invalid answer")
        return as_float.cast(pl.Int8)
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        strings = series.cast(pl.String)
        distinct = strings.drop_nulls().unique().to_list()
        mapping: dict[str, int] = {}
        unknown: list[str] = []
        for label in distinct:  # distinct labels only: a handful, never rows
            code = ANSWER_LABELS.get(normalise_label(label))
            if code is None and re.fullmatch(r"\s*[1-5](\.0*)?\s*", label):
                code = int(float(label))
            if code is None:
                unknown.append(label)
            else:
                mapping[label] = code
        if unknown:
            hit = frame.filter(strings.is_in(unknown)).head(1)
            raise _bad(column, hit[ROW][0], hit[column][0], expected, "unknown answer")
        return strings.replace_strict(mapping, default=None, return_dtype=pl.Int8).alias(column)
    hit = frame.filter(series.is_not_null()).head(1)
    value = hit[column][0] if hit.height else None
    row = hit[ROW][0] if hit.height else 1
    raise _bad(column, row, value, expected + f", not a {dtype} column", "invalid answer")


def _parse_numeric(
    frame: pl.DataFrame, column: str, lo: float | None = None, hi: float | None = None
) -> pl.Series:
    series = frame[column]
    if series.dtype == pl.Null:
        return series.cast(pl.Float64)
    if series.dtype == pl.String:
        as_float = series.str.strip_chars().cast(pl.Float64, strict=False)
        bad = series.is_not_null() & (series.str.strip_chars() != "") & as_float.is_null()
        if bad.any():
            hit = frame.filter(bad).head(1)
            raise _bad(column, hit[ROW][0], hit[column][0], "a number", "non-numeric value")
        series = as_float
    elif not series.dtype.is_numeric():
        hit = frame.filter(series.is_not_null()).head(1)
        value = hit[column][0] if hit.height else None
        row = hit[ROW][0] if hit.height else 1
        raise _bad(column, row, value, f"a number, not a {series.dtype} column")
    series = series.cast(pl.Float64)
    if lo is not None and hi is not None:
        bad = series.is_not_null() & (~series.is_between(lo, hi) | series.is_nan())
        if bad.any():
            hit = frame.filter(bad).head(1)
            raise _bad(column, hit[ROW][0], hit[column][0], f"a number from {lo:g} to {hi:g}")
    return series.alias(column)


def _parse_flag(frame: pl.DataFrame, column: str) -> pl.Series:
    series = frame[column]
    expected = "a delivered flag: true/false, yes/no or 1/0"
    if series.dtype == pl.Boolean:
        return series
    if series.dtype == pl.Null:
        return series.cast(pl.Boolean)
    if series.dtype.is_numeric():
        bad = series.is_not_null() & ~series.is_in([0, 1])
        if bad.any():
            hit = frame.filter(bad).head(1)
            raise _bad(column, hit[ROW][0], hit[column][0], expected)
        return (series == 1).alias(column)
    if series.dtype in (pl.String, pl.Categorical, pl.Enum):
        strings = series.cast(pl.String)
        mapping: dict[str, bool] = {}
        unknown = []
        for label in strings.drop_nulls().unique().to_list():
            norm = normalise_label(label)
            if norm in _TRUE:
                mapping[label] = True
            elif norm in _FALSE:
                mapping[label] = False
            else:
                unknown.append(label)
        if unknown:
            hit = frame.filter(strings.is_in(unknown)).head(1)
            raise _bad(column, hit[ROW][0], hit[column][0], expected)
        return strings.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    hit = frame.filter(series.is_not_null()).head(1)
    raise _bad(column, hit[ROW][0], hit[column][0], expected)


def normalise_survey(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    missing: str = "drop",
    importance_scale: tuple[float, float] = (1.0, 9.0),
) -> pl.DataFrame:
    """Validate a survey and return it with answers as Int8 codes 1-5.

    Canonical columns: ``respondent``, ``feature``, ``functional``, ``dysfunctional`` (required);
    ``importance`` (number within ``importance_scale``), ``segment``, ``wave``, ``satisfaction``
    (number), ``delivered`` (flag) (optional). A column ``__row`` with the 1-based data row
    number of each answer is added (for error messages). A respondent answering the same feature
    twice (in the same wave) is an error. Rows with a missing functional or
    dysfunctional answer are dropped (``missing="drop"``) or are an error (``missing="error"``).
    Errors name the column, the row and the value, and say what was expected.
    """
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    names = lazy.collect_schema().names()
    required = ("respondent", "feature", "functional", "dysfunctional")
    absent = [c for c in required if c not in names]
    if absent:
        raise DataError(
            f"survey lacks column(s) {', '.join(repr(c) for c in absent)}; expected the "
            f"columns respondent, feature, functional, dysfunctional (found: {', '.join(names)})"
        )
    optional = [
        c for c in ("importance", "segment", "wave", "satisfaction", "delivered") if c in names
    ]
    df = lazy.select(*required, *optional).with_row_index(ROW, offset=1).collect()
    for column in ("feature",):
        if df[column].null_count():
            hit = df.filter(pl.col(column).is_null()).head(1)
            raise _bad(column, hit[ROW][0], None, "a feature name")
    replaced = [
        _parse_answers(df, "functional"),
        _parse_answers(df, "dysfunctional"),
        df["feature"].cast(pl.String),
    ]
    if "importance" in df.columns:
        replaced.append(_parse_numeric(df, "importance", *importance_scale))
    if "satisfaction" in df.columns:
        replaced.append(_parse_numeric(df, "satisfaction"))
    if "delivered" in df.columns:
        replaced.append(_parse_flag(df, "delivered"))
    df = df.with_columns(replaced)
    key = ["respondent", "feature", *(["wave"] if "wave" in df.columns else [])]
    # Exact, and cheap when there are no duplicates: distinct hashes prove distinct keys; only
    # rows whose hash repeats are compared exactly.
    hashes = df.select(pl.struct(key).hash()).to_series()
    suspects = df.filter(hashes.is_duplicated()) if hashes.n_unique() < df.height else df.clear()
    dup = suspects.filter(~pl.struct(key).is_first_distinct()).head(1)
    if dup.height:
        first = df.filter(pl.all_horizontal(pl.col(c).eq_missing(dup[c][0]) for c in key))[ROW][0]
        raise DataError(
            f"row {dup[ROW][0]}: respondent {dup['respondent'][0]!r} answered feature "
            f"{dup['feature'][0]!r} again (first at row {first}"
            + (f", wave {dup['wave'][0]!r}" if "wave" in key else "")
            + "); expected one answer pair per respondent and feature"
            + (" and wave" if "wave" in key else "")
        )
    answered = pl.col("functional").is_not_null() & pl.col("dysfunctional").is_not_null()
    if missing == "error":
        hit = df.filter(~answered).head(1)
        if hit.height:
            column = "functional" if hit["functional"][0] is None else "dysfunctional"
            raise _bad(column, hit[ROW][0], None, "an answer (the rule has missing: error)")
    elif missing != "drop":
        raise ValueError(f"missing must be 'drop' or 'error', not {missing!r}")
    return df.filter(answered)


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
    stats = lazy.group_by(*by).agg(aggs)

    counts = [pl.col(CATEGORY_NAMES[c]) for c in CATEGORIES]
    ranked = pl.concat_list(counts).list.sort(descending=True)
    stats = stats.with_columns(_c1=ranked.list.get(0), _c2=ranked.list.get(1))
    c1, c2, total = pl.col("_c1"), pl.col("_c2"), pl.col("n")
    candidate = {
        c: (pl.col(CATEGORY_NAMES[c]) > 0)
        & (
            (pl.col(CATEGORY_NAMES[c]) == c1)
            | ((c1 - pl.col(CATEGORY_NAMES[c])).cast(pl.Float64) < strength_threshold * total)
        )
        for c in CATEGORIES
    }
    chosen: Any = pl.when(candidate[order[0]]).then(pl.lit(order[0]))  # a when/then chain
    for c in order[1:]:
        chosen = chosen.when(candidate[c]).then(pl.lit(c))
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
