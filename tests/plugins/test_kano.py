"""The kano rule kind: hand-computed cases, published definitions, errors and properties."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import ValidationError

from truenorth import Rule
from truenorth.builtins import kano
from truenorth.builtins.kano import KanoOptions, analyse, compute
from truenorth.errors import DataError
from truenorth.testing import rule_context

LABEL = {1: "like", 2: "expect", 3: "neutral", 4: "live with", 5: "dislike"}
# A pair of answers (functional, dysfunctional) giving each category in the standard table.
RESPONDENT = itertools.count()  # respondent ids unique across the surveys of a test
PAIR = {"A": (1, 3), "O": (1, 5), "M": (2, 5), "I": (3, 3), "R": (5, 1), "Q": (1, 1)}


def run(frame: pl.DataFrame, warn: str | None = None, fail: str | None = None, **options):
    ctx = rule_context(
        "kano", options, {KanoOptions(**options).source: frame}, rule_id="k", warn=warn, fail=fail
    )
    return kano.evaluate(ctx)


def survey(counts: dict[str, dict[str, int]], **extra_cols) -> pl.DataFrame:
    """A survey giving each feature the category counts asked for (standard-table pairs)."""
    rows = {"respondent": [], "feature": [], "functional": [], "dysfunctional": []}
    for feature, per_cat in counts.items():
        for cat, k in per_cat.items():
            for _ in range(k):
                f, d = PAIR[cat]
                rows["respondent"].append(next(RESPONDENT))
                rows["feature"].append(feature)
                rows["functional"].append(f)
                rows["dysfunctional"].append(d)
    return pl.DataFrame(rows).with_columns(**{k: pl.lit(v) for k, v in extra_cols.items()})


def row_of(table: pl.DataFrame, feature: str) -> dict:
    return table.filter(pl.col("feature") == feature).row(0, named=True)


# --- evaluation tables -----------------------------------------------------------------------


def test_standard_table_matches_domain_definition():
    # DOMAIN.md §2, functional row x dysfunctional column (like, expect, neutral, live with, dislike)
    expected = ["QAAAO", "RIIIM", "RIIIM", "RIIIM", "RRRRQ"]
    grid = compute.evaluation_table("standard")
    for f in range(1, 6):
        for d in range(1, 6):
            got = grid.filter((pl.col("functional") == f) & (pl.col("dysfunctional") == d))
            assert got["category"][0] == expected[f - 1][d - 1], (f, d)


def test_pouliot_marks_same_non_neutral_answer_on_both_sides_questionable():
    std = compute.evaluation_table("standard")
    pou = compute.evaluation_table("pouliot")
    diff = std.join(pou, on=["functional", "dysfunctional"], suffix="_p").filter(
        pl.col("category") != pl.col("category_p")
    )
    assert sorted(
        zip(diff["functional"], diff["dysfunctional"], diff["category_p"], strict=True)
    ) == [
        (2, 2, "Q"),
        (4, 4, "Q"),
    ]
    # every same-answer pair except neutral/neutral is Q in Pouliot's table
    diag = pou.filter(pl.col("functional") == pl.col("dysfunctional")).sort("functional")
    assert diag["category"].to_list() == ["Q", "Q", "I", "Q", "Q"]


def test_pouliot_option_changes_classification():
    df = pl.DataFrame(
        {"respondent": [1, 2], "feature": ["f", "f"], "functional": [2, 4], "dysfunctional": [2, 4]}
    )
    std = analyse(df, KanoOptions())["kano"].row(0, named=True)
    pou = analyse(df, KanoOptions(table="pouliot"))["kano"].row(0, named=True)
    assert (std["indifferent"], std["questionable"]) == (2, 0)
    assert (pou["indifferent"], pou["questionable"]) == (0, 2)


# --- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("like", 1),
        ("I like it", 1),
        ("  I LIKE it that way. ", 1),
        ("expect", 2),
        ("Must-be", 2),
        ("It must be that way", 2),
        ("I expect it", 2),
        ("neutral", 3),
        ("I am neutral", 3),
        ("I don't care", 3),
        ("live with", 4),
        ("I can live with it", 4),
        ("tolerate", 4),
        ("I can tolerate it", 4),
        ("dislike", 5),
        ("I dislike it that way", 5),
        ("I don\u2019t like it", 5),
        ("3", 3),
    ],
)
def test_common_wordings_are_normalised(label, code):
    assert compute.ANSWER_LABELS[compute.normalise_label(label)] == code


def test_labels_and_codes_give_the_same_table():
    coded = survey({"f": {"A": 3, "O": 2, "M": 4, "I": 1, "R": 1, "Q": 1}, "g": {"M": 2}})
    labelled = coded.with_columns(
        pl.col("functional").replace_strict(LABEL, return_dtype=pl.String),
        pl.col("dysfunctional").replace_strict(LABEL, return_dtype=pl.String).str.to_uppercase(),
    )
    assert_frame_equal(
        analyse(coded, KanoOptions())["kano"], analyse(labelled, KanoOptions())["kano"]
    )


def test_unknown_label_names_column_row_and_value():
    df = pl.DataFrame(
        {
            "respondent": [1, 2, 3],
            "feature": ["f", "f", "f"],
            "functional": ["like", "like", "like"],
            "dysfunctional": ["dislike", "meh", "neutral"],
        }
    )
    with pytest.raises(
        DataError, match=r"column 'dysfunctional', row 2: unknown answer 'meh'; expected"
    ):
        analyse(df, KanoOptions())


def test_out_of_range_code_is_an_error():
    df = pl.DataFrame(
        {"respondent": [1, 2], "feature": ["f", "f"], "functional": [1, 7], "dysfunctional": [5, 5]}
    )
    with pytest.raises(
        DataError,
        match=r"column 'functional', row 2: invalid answer 7; expected an answer code 1-5",
    ):
        analyse(df, KanoOptions())


def test_importance_out_of_scale_is_an_error():
    df = survey({"f": {"A": 3}}).with_columns(importance=pl.Series([5, 12, 3]))
    with pytest.raises(
        DataError,
        match=r"column 'importance', row 2: value 12 ; expected a number from 1 to 9".replace(
            " ;", ";"
        ),
    ):
        analyse(df, KanoOptions())


def test_non_numeric_satisfaction_is_an_error():
    df = survey({"f": {"A": 2}}).with_columns(satisfaction=pl.Series(["4", "good"]))
    with pytest.raises(DataError, match=r"column 'satisfaction', row 2: non-numeric value 'good'"):
        analyse(df, KanoOptions())


def test_bad_delivered_flag_is_an_error():
    df = survey({"f": {"A": 2}}).with_columns(delivered=pl.Series(["yes", "sometimes"]))
    with pytest.raises(DataError, match=r"column 'delivered', row 2: value 'sometimes'"):
        analyse(df, KanoOptions())


def test_missing_column_is_named():
    df = pl.DataFrame({"respondent": [1], "feature": ["f"], "functional": [1]})
    with pytest.raises(DataError, match=r"lacks column\(s\) 'dysfunctional'"):
        analyse(df, KanoOptions())


def test_missing_answers_dropped_or_error():
    df = pl.DataFrame(
        {
            "respondent": [1, 2, 3],
            "feature": ["f"] * 3,
            "functional": [1, None, 1],
            "dysfunctional": [5, 5, 3],
        }
    )
    assert analyse(df, KanoOptions())["kano"]["n"][0] == 2
    with pytest.raises(
        DataError, match=r"column 'functional', row 2: missing value; expected an answer"
    ):
        analyse(df, KanoOptions(missing="error"))


def test_duplicate_answers_are_an_error():
    df = pl.DataFrame(
        {
            "respondent": [1, 2, 1],
            "feature": ["f", "f", "f"],
            "functional": [1, 1, 2],
            "dysfunctional": [5, 5, 5],
        }
    )
    with pytest.raises(
        DataError, match=r"row 3: respondent 1 answered feature 'f' again \(first at row 1\)"
    ):
        analyse(df, KanoOptions())
    # the same pair in another wave is fine
    analyse(df.with_columns(wave=pl.Series([1, 1, 2])), KanoOptions())


def test_missing_feature_is_an_error():
    df = pl.DataFrame(
        {
            "respondent": [1, 2],
            "feature": ["f", None],
            "functional": [1, 1],
            "dysfunctional": [5, 5],
        }
    )
    with pytest.raises(
        DataError, match=r"column 'feature', row 2: missing value; expected a feature"
    ):
        analyse(df, KanoOptions())


def test_by_segment_without_segment_column_is_an_error():
    with pytest.raises(DataError, match="needs a 'segment' column"):
        analyse(survey({"f": {"A": 1}}), KanoOptions(by="segment"))


def test_options_reject_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError):
        KanoOptions(tabel="pouliot")
    with pytest.raises(ValidationError):
        KanoOptions(table="kano2000")
    with pytest.raises(ValidationError):
        KanoOptions(priority=["M", "M"])
    with pytest.raises(ValidationError):
        KanoOptions(strength_threshold=1.5)


# --- hand-computed statistics ----------------------------------------------------------------


def test_hand_computed_feature():
    # A=4 (like/neutral), O=3 (like/dislike), M=2 (expect/dislike), I=1 (neutral/neutral); n=10
    t = analyse(survey({"f": {"A": 4, "O": 3, "M": 2, "I": 1}}), KanoOptions())["kano"]
    r = row_of(t, "f")
    assert (r["n"], r["attractive"], r["one_dimensional"], r["must_be"], r["indifferent"]) == (
        10,
        4,
        3,
        2,
        1,
    )
    assert (r["reverse"], r["questionable"]) == (0, 0)
    assert r["attractive_share"] == pytest.approx(0.4)
    assert r["category"] == "A" and r["category_name"] == "attractive" and not r["tie_break"]
    assert r["category_strength"] == pytest.approx(0.1)
    assert r["total_strength"] == pytest.approx(0.9)
    assert r["runner_up"] == "O"
    assert r["better"] == pytest.approx(7 / 10)
    assert r["worse"] == pytest.approx(-5 / 10)
    # Fong: |4-3| = 1 < 1.65*sqrt(7*13/20) = 3.5196...
    assert r["fong_difference"] == 1
    assert r["fong_critical"] == pytest.approx(1.65 * math.sqrt(7 * 13 / 20))
    assert r["fong_critical"] == pytest.approx(3.5196, abs=1e-4)
    assert r["significant"] is False
    # DuMouchel: functional 4*4 + 3*4 + 2*2 + 1*0 = 32 -> 3.2; dysfunctional 4*0+3*4+2*4+0 -> 2.0
    assert r["functional_score"] == pytest.approx(3.2)
    assert r["dysfunctional_score"] == pytest.approx(2.0)
    assert r["mean_importance"] is None


@pytest.mark.parametrize(
    ("counts", "quadrant"),
    [
        ({"A": 6, "I": 4}, "A"),  # better 0.6, worse 0
        ({"O": 6, "I": 4}, "O"),  # better 0.6, worse -0.6
        ({"M": 5, "I": 5}, "M"),  # better 0, worse -0.5 (on the line counts as high)
        ({"A": 4, "M": 4, "I": 2}, "I"),  # better 0.4, worse -0.4
    ],
)
def test_better_worse_quadrant(counts, quadrant):
    assert (
        row_of(analyse(survey({"f": counts}), KanoOptions())["kano"], "f")["quadrant"] == quadrant
    )


def test_better_worse_exclude_reverse_and_questionable():
    r = row_of(analyse(survey({"f": {"A": 1, "M": 1, "R": 5, "Q": 3}}), KanoOptions())["kano"], "f")
    assert r["better"] == pytest.approx(0.5) and r["worse"] == pytest.approx(-0.5)
    assert r["category"] == "R"
    r = row_of(analyse(survey({"f": {"R": 2}}), KanoOptions())["kano"], "f")
    assert r["better"] is None and r["worse"] is None


def test_fong_significant_case():
    # a=50, b=30, n=100: |20| >= 1.65*sqrt(80*120/200) = 11.43
    r = row_of(analyse(survey({"f": {"M": 50, "O": 30, "I": 20}}), KanoOptions())["kano"], "f")
    assert r["significant"] is True
    assert r["fong_critical"] == pytest.approx(1.65 * math.sqrt(48))
    assert compute.fong_significant(50, 30, 100) and not compute.fong_significant(40, 35, 100)


def test_exact_tie_is_decided_by_priority():
    r = row_of(analyse(survey({"f": {"A": 5, "M": 5}}), KanoOptions())["kano"], "f")
    assert (r["category"], r["tie_break"], r["category_strength"]) == ("M", True, 0.0)
    r = row_of(analyse(survey({"f": {"A": 5, "M": 5}}), KanoOptions(priority=["A"]))["kano"], "f")
    assert r["category"] == "A"
    # threshold 0: only exact ties go to the priority rule
    r = row_of(
        analyse(survey({"f": {"A": 5, "O": 5}}), KanoOptions(strength_threshold=0))["kano"], "f"
    )
    assert r["category"] == "O"


def test_near_top_within_threshold_is_decided_by_priority():
    # A 40%, M 35%: strength 0.05 < 0.06 -> the near-top set {A, M} -> M
    r = row_of(analyse(survey({"f": {"A": 40, "M": 35, "I": 25}}), KanoOptions())["kano"], "f")
    assert (r["category"], r["tie_break"]) == ("M", True)
    assert r["category_strength"] == pytest.approx(0.05)
    # A 40%, M 34%: strength exactly 0.06 is not below the threshold -> the mode A
    r = row_of(analyse(survey({"f": {"A": 40, "M": 34, "I": 26}}), KanoOptions())["kano"], "f")
    assert (r["category"], r["tie_break"]) == ("A", False)
    # three near-top categories: I 30, A 29, O 28 (n=100) -> O beats A and I
    r = row_of(
        analyse(survey({"f": {"I": 30, "A": 29, "O": 28, "R": 13}}), KanoOptions())["kano"], "f"
    )
    assert r["category"] == "O"


def test_importance_weighted_scores_and_mean_importance():
    df = pl.DataFrame(
        {
            "respondent": [1, 2],
            "feature": ["f", "f"],
            "functional": [1, 5],  # scores 4 and -2
            "dysfunctional": [3, 1],  # scores 0 and -2
            "importance": [9, 1],
        }
    )
    plain = analyse(df, KanoOptions())["kano"].row(0, named=True)
    weighted = analyse(df, KanoOptions(weight_by_importance=True))["kano"].row(0, named=True)
    assert plain["functional_score"] == pytest.approx(1.0)
    assert weighted["functional_score"] == pytest.approx((9 * 4 + 1 * -2) / 10)
    assert weighted["dysfunctional_score"] == pytest.approx((9 * 0 + 1 * -2) / 10)
    assert plain["mean_importance"] == pytest.approx(5.0)


def test_segments_table():
    df = pl.concat(
        [
            survey({"f": {"M": 3}}, segment="smb"),
            survey({"f": {"A": 2, "I": 1}}, segment="enterprise"),
        ]
    )
    tables = analyse(df, KanoOptions(by="segment"))
    seg = tables["kano_segments"].sort("segment")
    assert seg.select("segment", "feature", "category", "n").rows() == [
        ("enterprise", "f", "A", 3),
        ("smb", "f", "M", 3),
    ]
    overall = row_of(tables["kano"], "f")
    assert (overall["n"], overall["must_be"], overall["attractive"]) == (6, 3, 2)


def test_segments_that_disagree_are_reported():
    df = pl.concat(
        [
            survey({"f": {"M": 3}, "g": {"O": 3}}, segment="smb"),
            survey({"f": {"A": 3}, "g": {"O": 3}}, segment="enterprise"),
        ]
    )
    out = run(df, by="segment")
    split = [f for f in out.findings if "differs by segment" in f.message]
    assert [f.subject for f in split] == ["f"]
    assert split[0].evidence["categories"] == {"enterprise": "A", "smb": "M"}
    assert "enterprise A, smb M" in split[0].message


def test_declared_schema_matches_tables():
    opts = KanoOptions(by="segment")
    rule = Rule(id="k", kind="kano", options=opts)
    declared = kano.writes(opts, rule)
    df = survey({"f": {"M": 3}, "g": {"A": 1}}, segment="s")
    tables = analyse(df, opts)
    for name in ("kano", "kano_segments"):
        assert dict(tables[name].schema) == {k: v for k, v in declared[name].items()}, name
    assert set(declared) == set(tables)
    assert kano.reads(opts, rule) == ("survey",)


# --- findings --------------------------------------------------------------------------------


def test_unmet_must_be_from_satisfaction_and_pitfall():
    df = pl.concat(
        [
            survey({"checkout": {"M": 4}}, satisfaction=2.0),
            survey({"search": {"M": 4}}, satisfaction=4.5),
            survey({"confetti": {"A": 4}}, satisfaction=4.0),
        ]
    )
    out = run(df, investing=["confetti", "search"])
    table = out.tables["kano"]
    assert row_of(table, "checkout")["unmet"] is True
    assert row_of(table, "search")["unmet"] is False
    unmet = [f for f in out.findings if f.message.startswith("must-be")]
    assert [f.subject for f in unmet] == ["checkout"]
    assert unmet[0].value == pytest.approx(2.0)
    assert unmet[0].threshold == "mean_satisfaction >= 3"
    assert unmet[0].severity == "warn"
    pitfall = [f for f in out.findings if f.message.startswith("investing")]
    assert [f.subject for f in pitfall] == ["confetti"]
    assert pitfall[0].evidence["unmet_must_be"] == ["checkout"]


def test_unmet_from_delivered_flag_and_from_options():
    df = pl.concat(
        [
            survey({"sso": {"M": 4}}).with_columns(delivered=pl.Series([True, False, False, True])),
            survey({"export": {"M": 2}}, delivered=True),
        ]
    )
    out = run(df, unmet=["export"])
    subjects = sorted(f.subject for f in out.findings if f.message.startswith("must-be"))
    assert subjects == ["export", "sso"]
    sso = row_of(out.tables["kano"], "sso")
    assert sso["delivered_share"] == pytest.approx(0.5) and sso["unmet"] is True
    # no satisfaction/delivered signal and not flagged: unmet is unknown, not False
    assert row_of(run(survey({"x": {"M": 1}})).tables["kano"], "x")["unmet"] is None


def test_no_pitfall_without_unmet_must_be():
    df = pl.concat(
        [survey({"a": {"M": 3}}, satisfaction=5.0), survey({"b": {"A": 3}}, satisfaction=5.0)]
    )
    assert not [f for f in run(df, investing=["b"]).findings if f.message.startswith("investing")]


def test_unknown_feature_in_options_is_an_error():
    with pytest.raises(DataError, match="feature 'nope', which is not in the survey"):
        run(survey({"a": {"M": 3}}), investing=["nope"])


def test_not_significant_finding():
    out = run(survey({"f": {"A": 4, "O": 3, "M": 2, "I": 1}, "g": {"M": 10}}))
    ns = [f for f in out.findings if "not significant" in f.message]
    assert [f.subject for f in ns] == ["f"]
    assert ns[0].severity == "info" and ns[0].value == 1


def test_drift_between_waves_and_latest_wave_table():
    df = pl.concat(
        [
            survey({"wifi": {"A": 6, "I": 1}, "tv": {"O": 5}}, wave=1),
            survey({"wifi": {"M": 6, "A": 1}, "tv": {"O": 5}}, wave=2),
        ]
    )
    out = run(df)
    drift = [f for f in out.findings if "drifted" in f.message]
    assert [f.subject for f in drift] == ["wifi"]
    assert drift[0].evidence["from_category"] == "A" and drift[0].evidence["to_category"] == "M"
    assert "wave 1" in drift[0].message and "wave 2" in drift[0].message
    assert row_of(out.tables["kano"], "wifi")["category"] == "M"  # latest wave
    assert row_of(out.tables["kano"], "wifi")["n"] == 7
    pooled = run(df, waves="pooled").tables["kano"]
    assert row_of(pooled, "wifi")["n"] == 14
    assert out.tables["kano_waves"].height == 4


def test_warn_and_fail_conditions_on_kano_rows():
    out = run(
        survey({"f": {"M": 9, "I": 1}, "g": {"A": 10}}),
        warn="category = 'M'",
        fail="better > 0.9",
        value="worse",
    )
    by_subject = {f.subject: f for f in out.findings if f.severity in ("warn", "fail")}
    assert by_subject["f"].severity == "warn" and by_subject["f"].value == pytest.approx(-0.9)
    assert by_subject["g"].severity == "fail"


def test_registered_kind():
    seen = []
    kano.register_rule_kinds(seen.append)
    (kind,) = seen
    assert kind.name == "kano" and kind.options_model is KanoOptions
    assert "kind: kano" in kind.doc


# --- properties ------------------------------------------------------------------------------


def reference(
    pairs: list[tuple[int, int]], threshold: float, priority: str = "MOAIRQ", grid=None
) -> dict:
    """A row-by-row pure-Python oracle of the per-feature statistics."""
    grid = grid or compute.STANDARD_TABLE
    cats = [grid[f - 1][d - 1] for f, d in pairs]
    n = len(cats)
    count = Counter(cats)
    top = max(count.values())
    cands = [
        c for c in "AOMIRQ" if count[c] > 0 and (count[c] == top or top - count[c] < threshold * n)
    ]
    cat = min(cands, key=priority.index)
    ordered = sorted((count[c] for c in "AOMIRQ"), reverse=True)
    a, b = ordered[0], ordered[1]
    aomi = sum(count[c] for c in "AOMI")
    return {
        "n": n,
        "category": cat,
        "strength": (a - b) / n,
        "significant": abs(a - b) >= 1.65 * math.sqrt((a + b) * (2 * n - a - b) / (2 * n)),
        "better": (count["A"] + count["O"]) / aomi if aomi else None,
        "worse": -(count["O"] + count["M"]) / aomi if aomi else None,
        "fscore": sum(compute.FUNCTIONAL_SCORES[f] for f, _ in pairs) / n,
        "dscore": sum(compute.DYSFUNCTIONAL_SCORES[d] for _, d in pairs) / n,
    }


answer_pairs = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    features=st.lists(answer_pairs, min_size=1, max_size=4),
    threshold=st.sampled_from([0.0, 0.03, 0.06, 0.1, 0.25]),
    table=st.sampled_from(["standard", "pouliot"]),
)
def test_matches_row_by_row_reference(features, threshold, table):
    rows = [
        (r, f"f{i}", f, d) for i, pairs in enumerate(features) for r, (f, d) in enumerate(pairs)
    ]
    df = pl.DataFrame(
        rows, schema=["respondent", "feature", "functional", "dysfunctional"], orient="row"
    )
    result = analyse(df, KanoOptions(strength_threshold=threshold, table=table))["kano"]
    grid = compute.POULIOT_TABLE if table == "pouliot" else compute.STANDARD_TABLE
    assert result.height == len(features)
    for i, pairs in enumerate(features):
        got = row_of(result, f"f{i}")
        want = reference(pairs, threshold, grid=grid)
        assert got["n"] == want["n"]
        assert got["category"] == want["category"]
        assert got["category_strength"] == pytest.approx(want["strength"])
        assert got["significant"] == want["significant"]
        for k, w in (("better", "better"), ("worse", "worse")):
            assert (got[k] is None) == (want[w] is None)
            if got[k] is not None:
                assert got[k] == pytest.approx(want[w])
                assert 0 <= abs(got[k]) <= 1
        assert got["functional_score"] == pytest.approx(want["fscore"])
        assert got["dysfunctional_score"] == pytest.approx(want["dscore"])
        shares = sum(got[f"{compute.CATEGORY_NAMES[c]}_share"] for c in compute.CATEGORIES)
        assert shares == pytest.approx(1.0)
        assert 0 <= got["total_strength"] <= 1 + 1e-12


@settings(max_examples=50, deadline=None)
@given(features=st.lists(answer_pairs, min_size=1, max_size=3), data=st.data())
def test_row_order_does_not_matter(features, data):
    rows = [
        (r, f"f{i}", f, d) for i, pairs in enumerate(features) for r, (f, d) in enumerate(pairs)
    ]
    df = pl.DataFrame(
        rows, schema=["respondent", "feature", "functional", "dysfunctional"], orient="row"
    )
    perm = data.draw(st.permutations(range(df.height)))
    shuffled = df[list(perm)]
    assert_frame_equal(analyse(df, KanoOptions())["kano"], analyse(shuffled, KanoOptions())["kano"])


def test_through_the_engine():
    from truenorth.testing import run_rule

    df = pl.concat(
        [
            survey({"checkout": {"M": 4}}, satisfaction=2.0),
            survey({"confetti": {"A": 4}}, satisfaction=4.0),
        ]
    )
    result = run_rule("kano", {"investing": ["confetti"]}, {"survey": df}, warn="worse < -0.9")
    findings = result.findings.sort("subject", "severity")
    assert findings.select("subject", "severity").rows() == [
        ("checkout", "warn"),
        ("checkout", "warn"),
        ("confetti", "warn"),
    ]
    assert result.tables["kano"].sort("feature")["category"].to_list() == ["M", "A"]


def test_doc_example_runs():
    import yaml

    from truenorth.testing import run_rule

    (rule,) = yaml.safe_load(kano.DOC.split("```yaml\n")[1].split("```")[0])["rules"]
    df = pl.concat(
        [
            survey({"login": {"M": 8, "O": 1}, "dark_mode": {"A": 6, "I": 3}}, segment="smb"),
            survey({"login": {"M": 7}, "ai_assistant": {"A": 5, "I": 2}}, segment="pro"),
        ]
    ).with_columns(satisfaction=pl.lit(2.0))
    result = run_rule(rule["kind"], rule["with"], {"survey": df}, warn=rule["warn"])
    subjects = result.findings.filter(pl.col("severity") == "warn")["subject"].sort().to_list()
    # login: unmet must-be and the warn condition; both delighters: the pitfall
    assert subjects == ["ai_assistant", "dark_mode", "login", "login"]


def test_unmet_from_another_table():
    opts = KanoOptions(unmet_from="canvas_gaps")
    rule = Rule(id="k", kind="kano", options=opts)
    gaps = pl.DataFrame({"feature": ["export", "sso", "other"], "unmet": [True, False, True]})
    answers = survey({"export": {"M": 3}, "sso": {"M": 3}})
    ctx = rule_context("kano", opts, {"survey": answers, "canvas_gaps": gaps}, rule_id="k")
    out = kano.evaluate(ctx)
    unmet = [f for f in out.findings if f.message.startswith("must-be")]
    assert [f.subject for f in unmet] == ["export"]
    assert "flagged unmet in table 'canvas_gaps'" in unmet[0].message
    assert kano.reads(opts, rule) == ("survey", "canvas_gaps")
    wrong = pl.DataFrame({"name": ["export"]})
    ctx = rule_context("kano", opts, {"survey": answers, "canvas_gaps": wrong}, rule_id="k")
    with pytest.raises(DataError, match="table 'canvas_gaps' has no 'feature' column"):
        kano.evaluate(ctx)


@settings(max_examples=60, deadline=None)
@given(
    answers=st.lists(
        st.tuples(
            st.sampled_from(["f", "g"]),
            st.sampled_from(["s1", "s2", "s3"]),
            st.integers(1, 5),
            st.integers(1, 5),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_segment_counts_add_up_to_feature_counts(answers):
    df = pl.DataFrame(
        [(i, *a) for i, a in enumerate(answers)],
        schema=["respondent", "feature", "segment", "functional", "dysfunctional"],
        orient="row",
    )
    tables = analyse(df, KanoOptions(by="segment"))
    counts = ["n", *[compute.CATEGORY_NAMES[c] for c in compute.CATEGORIES]]
    summed = tables["kano_segments"].group_by("feature").agg(pl.col(counts).sum()).sort("feature")
    overall = tables["kano"].select("feature", *counts)
    assert_frame_equal(summed, overall, check_dtypes=False)
