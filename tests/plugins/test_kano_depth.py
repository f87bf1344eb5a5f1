"""Kano depth: published answer wordings, a pack's own labels, labelled importance, the
cluster bootstrap (against an independent numpy resampler) and importance-weighted priority."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from truenorth.builtins import kano
from truenorth.builtins.kano import KanoOptions, analyse, compute
from truenorth.builtins.kano.bootstrap import bootstrap
from truenorth.errors import DataError
from truenorth.testing import rule_context

PAIR = {"A": (1, 3), "O": (1, 5), "M": (2, 5), "I": (3, 3), "R": (5, 1), "Q": (1, 1)}
IDS = itertools.count()

# The published answer sets, in questionnaire order (like, expect, neutral, live with, dislike).
PUBLISHED = {
    "Berger et al. 1993": (
        "I like it that way",
        "It must be that way",
        "I am neutral",
        "I can live with it that way",
        "I dislike it that way",
    ),
    "Berger et al. 1993, alternatives": (
        "I enjoy it that way",
        "It is a basic necessity",
        "I don't care",
        "I can tolerate it that way",
        "I dislike it and can't accept it",
    ),
    "Blauth": (
        "This would be very helpful to me",
        "This is a basic requirement for me",
        "This would not affect me",
        "This would be a minor inconvenience",
        "This would be a major problem for me",
    ),
    "Löfgren & Witell 2008": (
        "I like it that way",
        "I am expecting it to be that way",
        "I am neutral",
        "I can accept it to be that way",
        "I dislike it that way",
    ),
    "Chen 2020": (
        "I like it very much",
        "I take it for granted",
        "I have no feeling about it",
        "I reluctantly accept it",
        "I don't like it",
    ),
    "Chen 2020, dysfunctional": (
        "I like it",
        "I take it for granted",
        "I have no feeling about it",
        "I barely accept it",
        "I don't like it",
    ),
}


def survey(counts: dict[str, dict[str, int]], respondents: list | None = None) -> pl.DataFrame:
    rows: dict[str, list] = {"respondent": [], "feature": [], "functional": [], "dysfunctional": []}
    for feature, per_cat in counts.items():
        ids = iter(respondents) if respondents is not None else IDS
        for cat, k in per_cat.items():
            for _ in range(k):
                f, d = PAIR[cat]
                rows["respondent"].append(next(ids))
                rows["feature"].append(feature)
                rows["functional"].append(f)
                rows["dysfunctional"].append(d)
    return pl.DataFrame(rows)


def run(frame: pl.DataFrame, **options):
    ctx = rule_context("kano", options, {"survey": frame}, rule_id="k")
    return kano.evaluate(ctx)


# --- wordings --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(PUBLISHED))
def test_published_answer_sets_are_read(source):
    labels = PUBLISHED[source]
    df = pl.DataFrame(
        {
            "respondent": list(range(5)),
            "feature": ["f"] * 5,
            "functional": list(labels),
            "dysfunctional": list(reversed(labels)),
        }
    )
    out = compute.normalise_survey(df)
    assert out["functional"].to_list() == [1, 2, 3, 4, 5]
    assert out["dysfunctional"].to_list() == [5, 4, 3, 2, 1]


def test_pack_labels_map_a_survey_tools_own_wording():
    df = pl.DataFrame(
        {
            "respondent": ["a", "b"],
            "feature": ["f", "f"],
            "functional": ["Adore!", "Meh"],
            "dysfunctional": ["Would be furious", "Meh"],
        }
    )
    with pytest.raises(DataError, match=r"column 'functional', row 1.*'Adore!'.*answers:.*1 more"):
        analyse(df, KanoOptions())
    tables = analyse(
        df, KanoOptions(answers={"adore": "like", "meh": "neutral", "would be furious": 5})
    )
    # (like, dislike) -> O ; (neutral, neutral) -> I
    assert tables["kano"]["one_dimensional"][0] == 1
    assert tables["kano"]["indifferent"][0] == 1


def test_pack_labels_are_validated():
    with pytest.raises(ValidationError, match="answers"):
        KanoOptions(answers={"x": "adore"})
    with pytest.raises(ValidationError, match="two different answers"):
        KanoOptions(answers={"Yes!": "like", "yes": "dislike"})


def test_labelled_importance_points_are_read_by_their_number():
    df = survey({"f": {"A": 3}}).with_columns(
        importance=pl.Series(["7 - Very important", "(3) Somewhat", "9"])
    )
    out = compute.normalise_survey(df)
    assert out["importance"].to_list() == [7.0, 3.0, 9.0]
    bad = df.with_columns(importance=pl.Series(["7 - Very important", "Very important", "9"]))
    with pytest.raises(DataError, match=r"column 'importance', row 2.*'Very important'"):
        compute.normalise_survey(bad)


# --- bootstrap -------------------------------------------------------------------------------


def numpy_bootstrap(classified: pl.DataFrame, feature: str, resamples: int, seed: int):
    """Independent reference: resample respondents with numpy and recompute better/worse."""
    rng = np.random.default_rng(seed)
    people = classified["respondent"].unique().sort().to_list()
    by_person = {p: [] for p in people}
    for r, f, c in classified.select("respondent", "feature", "category").iter_rows():
        if f == feature:
            by_person[r].append(c)
    better, worse = [], []
    for _ in range(resamples):
        drawn = rng.integers(0, len(people), len(people))
        cats = [c for i in drawn for c in by_person[people[i]]]
        a, o, m, i = (cats.count(k) for k in "AOMI")
        tot = a + o + m + i
        better.append((a + o) / tot)
        worse.append(-(o + m) / tot)
    return np.quantile(better, [0.05, 0.95]), np.quantile(worse, [0.05, 0.95])


def test_bootstrap_intervals_match_an_independent_resampler():
    # 300 respondents answer two features; the statistic of one depends on who was drawn.
    people = list(range(300))
    df = pl.concat(
        [
            survey({"x": {"A": 120, "O": 60, "M": 60, "I": 60}}, people),
            survey({"y": {"M": 200, "I": 100}}, people),
        ]
    )
    classified = compute.classify(compute.normalise_survey(df)).collect()
    point = compute.summarise(classified)
    ours = bootstrap(classified, point, resamples=4000, seed=5).features
    row = ours.filter(pl.col("feature") == "x").row(0, named=True)
    (b_lo, b_hi), (w_lo, w_hi) = numpy_bootstrap(classified, "x", 4000, 11)
    # Percentile bounds of 4,000 resamples: Monte-Carlo error ~0.004 on a width of ~0.09.
    assert row["better_ci_low"] == pytest.approx(b_lo, abs=0.012)
    assert row["better_ci_high"] == pytest.approx(b_hi, abs=0.012)
    assert row["worse_ci_low"] == pytest.approx(w_lo, abs=0.012)
    assert row["worse_ci_high"] == pytest.approx(w_hi, abs=0.012)
    # and close to the normal approximation of a proportion: better = 0.6, n = 300
    se = (0.6 * 0.4 / 300) ** 0.5
    assert row["better_ci_low"] == pytest.approx(0.6 - 1.645 * se, abs=0.012)


def test_bootstrap_is_seeded_and_shares_cover_the_point():
    df = survey({"x": {"A": 30, "O": 20, "I": 10}})
    classified = compute.classify(compute.normalise_survey(df)).collect()
    point = compute.summarise(classified)
    one = bootstrap(classified, point, resamples=300, seed=2)
    two = bootstrap(classified, point, resamples=300, seed=2)
    assert one.features.equals(two.features) and one.shares.equals(two.shares)
    shares = one.shares
    assert shares.height == 6
    covered = shares.filter(
        (pl.col("ci_low") <= pl.col("share")) & (pl.col("share") <= pl.col("ci_high"))
    )
    assert covered.height == 6


def test_unstable_category_gets_a_finding_and_stable_does_not():
    df = survey({"tie": {"A": 21, "O": 19}, "clear": {"M": 40}})
    out = run(df, bootstrap={"resamples": 500, "seed": 3, "stability": 0.8})
    table = out.tables["kano"].sort("feature")
    stab = dict(zip(table["feature"], table["category_stability"], strict=True))
    assert stab["clear"] == 1.0
    assert stab["tie"] < 0.8
    unstable = [f for f in out.findings if "not stable" in f.message]
    assert [f.subject for f in unstable] == ["tie"]
    assert "kano_shares" in out.tables
    # without the option: no bootstrap columns filled and no shares table
    plain = run(df)
    assert plain.tables["kano"]["category_stability"].is_null().all()
    assert "kano_shares" not in plain.tables


def test_bootstrap_options_are_validated():
    with pytest.raises(ValidationError, match="resamples"):
        KanoOptions(bootstrap={"resamples": 10})
    with pytest.raises(ValidationError, match="confidence"):
        KanoOptions(bootstrap={"confidence": 1.5})


# --- priority --------------------------------------------------------------------------------


def test_priority_rank_orders_by_category_then_self_stated_importance():
    df = pl.concat(
        [
            survey({"delight": {"A": 5}}).with_columns(importance=pl.lit(9.0)),
            survey({"basic_low": {"M": 5}}).with_columns(importance=pl.lit(2.0)),
            survey({"basic_high": {"M": 5}}).with_columns(importance=pl.lit(8.0)),
            survey({"perf": {"O": 5}}).with_columns(importance=pl.lit(5.0)),
        ]
    )
    table = analyse(df, KanoOptions())["kano"].sort("priority_rank")
    assert table["feature"].to_list() == ["basic_high", "basic_low", "perf", "delight"]
    custom = analyse(df, KanoOptions(priority=["A", "O", "M", "I"]))["kano"]
    assert custom.sort("priority_rank")["feature"][0] == "delight"
