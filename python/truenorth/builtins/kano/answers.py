"""Kano survey answers: the accepted wordings of the five answers, and a survey frame
normalised to answer codes 1-5 with every bad value named by column, row and value.

Codes follow the Kano questionnaire order: 1 like, 2 expect (must-be), 3 neutral, 4 live with
(tolerate), 5 dislike. Labels are normalised (case, punctuation, whitespace) and matched
against the common wordings in :data:`ANSWER_LABELS`: the short forms, the answer sets of
Berger et al. (1993, CQM Journal 2(4): "I like it that way", "It must be that way", "I am
neutral", "I can live with it that way", "I dislike it that way", and the alternatives
discussed there, e.g. "I enjoy it that way", "It is a basic necessity", "I can tolerate it"),
Blauth's wording ("This would be very helpful to me", "This is a basic requirement for me",
"This would not affect me", "This would be a minor inconvenience", "This would be a major
problem for me"), Löfgren & Witell (2008: "I am expecting it to be that way", "I can accept
it to be that way") and Chen (2020: "I take it for granted", "I have no feeling about it",
"I reluctantly accept it", "I barely accept it"). Any other wording is read through a pack's
own ``answers:`` mapping (:func:`label_map`)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from truenorth.errors import DataError

ANSWERS: tuple[str, ...] = ("like", "expect", "neutral", "live with", "dislike")

_LIKE = """like | i like it | like it | i like it that way | i like it this way | i would like it
    | i would like it that way | i would like that | i enjoy it | enjoy | love it | i love it
    | delighted | i am delighted | satisfied | i am satisfied | pleased | i would be pleased
    | i enjoy it that way | i enjoy it this way | i would enjoy it | i like it very much
    | this would be very helpful to me | this would be very helpful | very helpful"""
_EXPECT = """expect | expected | expect it | i expect it | i expect it that way | i expect it this way
    | i expect it to be that way | must be | mustbe | must have | it must be | it must be that way
    | it must be this way | must be that way | i expect that | it should be that way
    | should be that way | basic | taken for granted | i take it for granted | it is a must
    | i expect it that way | i am expecting it to be that way | i am expecting it
    | it is a basic necessity | it is a basic necessity for me | a basic necessity
    | this is a basic requirement for me | this is a basic requirement | basic requirement
    | i take it for granted that way | it is a basic requirement"""
_NEUTRAL = """neutral | i am neutral | im neutral | i feel neutral | indifferent | i am indifferent
    | i dont care | dont care | i do not care | do not care | no feeling | no feelings
    | doesnt matter | it doesnt matter | does not matter | it does not matter | no opinion
    | i have no opinion | neither | neither like nor dislike | i have no feeling about it
    | i have no feelings about it | this would not affect me | it would not affect me
    | i am neutral about it | i dont mind | i do not mind"""
_LIVE_WITH = """live with | live with it | can live with | can live with it | i can live with it
    | i can live with it that way | i can live with that | live with it that way | tolerate
    | tolerate it | can tolerate | can tolerate it | i can tolerate it | i can tolerate it that way
    | i can accept it | accept it | acceptable | i can put up with it | put up with it
    | i can accept it to be that way | i can accept it that way | i reluctantly accept it
    | i barely accept it | i can tolerate it this way | i can live with it this way
    | this would be a minor inconvenience | a minor inconvenience | minor inconvenience"""
_DISLIKE = """dislike | dislike it | i dislike it | i dislike it that way | i dislike it this way
    | i dont like it | dont like it | i do not like it | do not like it | i would dislike it
    | i dislike that | i hate it | hate it | dissatisfied | i am dissatisfied | displeased
    | i would be displeased | i dislike it and cant accept it | i dislike it and cannot accept it
    | i dislike it and i cant accept it | i cant accept it | i cannot accept it
    | this would be a major problem for me | this would be a major problem | a major problem
    | major problem"""


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


def answer_code(answer: str | int) -> int:
    """The code 1-5 of an answer given as a code or a canonical name (``live with``...).

    >>> answer_code("must be"), answer_code(4)
    (2, 4)
    """
    if isinstance(answer, int) and not isinstance(answer, bool) and 1 <= answer <= 5:
        return answer
    code = {normalise_label(a): i for i, a in enumerate(ANSWERS, 1)}.get(
        normalise_label(str(answer))
    )
    if code is None:
        code = {"must be": 2, "tolerate": 4, "indifferent": 3, "expected": 2}.get(
            normalise_label(str(answer))
        )
    if code is None:
        raise ValueError(
            f"{answer!r} is not a Kano answer; expected one of {', '.join(ANSWERS)} or a code 1-5"
        )
    return code


def label_map(labels: Mapping[str, str | int]) -> dict[str, int]:
    """A pack's own label -> answer mapping, keyed by normalised label.

    Two labels that normalise to the same text but map to different answers are an error.

    >>> label_map({"Love it!": "like", "Meh": 3})
    {'love it': 1, 'meh': 3}
    """
    out: dict[str, int] = {}
    for label, answer in labels.items():
        key, code = normalise_label(str(label)), answer_code(answer)
        if out.get(key, code) != code:
            raise ValueError(f"label {label!r} is mapped to two different answers")
        out[key] = code
    return out


def _parse_answers(
    frame: pl.DataFrame, column: str, custom: Mapping[str, int] | None = None
) -> pl.Series:
    """The answers of ``column`` as Int8 codes 1-5; nulls stay null (the caller decides).

    ``custom`` (normalised label -> code, from :func:`label_map`) is consulted before the
    built-in wordings, so a pack can read a survey tool's own labels."""
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
            norm = normalise_label(label)
            code = (custom or {}).get(norm) or ANSWER_LABELS.get(norm)
            if code is None and re.fullmatch(r"\s*[1-5](\.0*)?\s*", label):
                code = int(float(label))
            if code is None:
                unknown.append(label)
            else:
                mapping[label] = code
        if unknown:
            hit = frame.filter(strings.is_in(unknown)).head(1)
            more = f" ({len(unknown) - 1} more unknown labels)" if len(unknown) > 1 else ""
            raise _bad(
                column,
                hit[ROW][0],
                hit[column][0],
                expected
                + "; map a survey tool's own labels with the rule's `answers:` option"
                + more,
                "unknown answer",
            )
        return strings.replace_strict(mapping, default=None, return_dtype=pl.Int8).alias(column)
    hit = frame.filter(series.is_not_null()).head(1)
    value = hit[column][0] if hit.height else None
    row = hit[ROW][0] if hit.height else 1
    raise _bad(column, row, value, expected + f", not a {dtype} column", "invalid answer")


def _parse_numeric(
    frame: pl.DataFrame,
    column: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    labelled: bool = False,
) -> pl.Series:
    """``column`` as Float64; with ``labelled``, strings like ``"7 - Very important"`` are
    read by their leading number (survey tools export scale points with their labels)."""
    series = frame[column]
    if series.dtype == pl.Null:
        return series.cast(pl.Float64)
    if series.dtype == pl.String and labelled:
        # "7 - Very important", "7: very important", "(7) Very important": the number leads.
        series = series.str.extract(r"^\s*\(?\s*([-+]?[0-9]+(?:\.[0-9]+)?)\s*\)?(?:\s*[-:.)]|\s|$)")
        series = pl.Series(column, series).fill_null(frame[column].str.strip_chars())
    if series.dtype == pl.String:
        as_float = series.str.strip_chars().cast(pl.Float64, strict=False)
        bad = series.is_not_null() & (series.str.strip_chars() != "") & as_float.is_null()
        if bad.any():
            hit = frame.filter(bad).head(1)
            expected = "a number"
            if labelled:
                expected += " (or a labelled scale point such as '7 - Very important')"
            raise _bad(column, hit[ROW][0], hit[column][0], expected, "non-numeric value")
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
    labels: Mapping[str, str | int] | None = None,
) -> pl.DataFrame:
    """Validate a survey and return it with answers as Int8 codes 1-5.

    Canonical columns: ``respondent``, ``feature``, ``functional``, ``dysfunctional`` (required);
    ``importance`` (number within ``importance_scale``; labelled points such as
    ``"7 - Very important"`` are read by their number), ``segment``, ``wave``, ``satisfaction``
    (number), ``delivered`` (flag) (optional). A column ``__row`` with the 1-based data row
    number of each answer is added (for error messages). A respondent answering the same feature
    twice (in the same wave) is an error. Rows with a missing functional or
    dysfunctional answer are dropped (``missing="drop"``) or are an error (``missing="error"``).
    ``labels`` maps a survey's own answer labels to answers (``{"Love it": "like"}``); they are
    matched before the built-in wordings.
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
    custom = label_map(labels) if labels else None
    replaced = [
        _parse_answers(df, "functional", custom),
        _parse_answers(df, "dysfunctional", custom),
        df["feature"].cast(pl.String),
    ]
    if "importance" in df.columns:
        replaced.append(_parse_numeric(df, "importance", *importance_scale, labelled=True))
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
