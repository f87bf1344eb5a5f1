"""Kano on 1M survey answers (50,000 respondents x 20 features), codes and labels.

Run: ``pytest benches/bench_kano.py --benchmark-only`` (``pytest`` alone runs ``tests/`` only).
Baseline: the same statistics from a plain Polars group-by over integer codes with no
validation or label handling — the floor a vectorised implementation can reach.
"""

from __future__ import annotations

import polars as pl
import pytest

from truenorth.builtins.kano import KanoOptions, analyse, compute

N_RESPONDENTS = 50_000
N_FEATURES = 20
LABELS = ["I like it", "I expect it", "I am neutral", "I can live with it", "I dislike it"]


def _survey(labels: bool) -> pl.DataFrame:
    n = N_RESPONDENTS * N_FEATURES
    idx = pl.int_range(n, eager=True)
    # a deterministic pseudo-random stream (hash of the row index) keeps the bench reproducible
    h = idx.hash(seed=7)
    df = pl.DataFrame(
        {
            "respondent": idx // N_FEATURES,
            "feature": (idx % N_FEATURES).cast(pl.String).str.pad_start(2, "0"),
            "functional": (h % 5 + 1).cast(pl.Int8),
            "dysfunctional": ((h // 5) % 5 + 1).cast(pl.Int8),
            "importance": ((h // 25) % 9 + 1).cast(pl.Int8),
            "segment": ((h // 225) % 4).cast(pl.String),
        }
    )
    if labels:
        mapping = {i + 1: lab for i, lab in enumerate(LABELS)}
        df = df.with_columns(
            pl.col("functional", "dysfunctional").replace_strict(mapping, return_dtype=pl.String)
        )
    return df


@pytest.fixture(scope="module")
def coded() -> pl.DataFrame:
    return _survey(labels=False)


@pytest.fixture(scope="module")
def labelled() -> pl.DataFrame:
    return _survey(labels=True)


def _baseline(df: pl.DataFrame) -> pl.DataFrame:
    """Counts per feature and category with a bare group-by (no validation, no statistics)."""
    return compute.classify(df, "standard").group_by("feature", "category").agg(pl.len()).collect()


@pytest.mark.benchmark(group="kano-1M")
def test_kano_codes(benchmark, coded):
    out = benchmark.pedantic(analyse, args=(coded, KanoOptions()), rounds=3, iterations=1)
    assert out["kano"]["n"].sum() == coded.height


@pytest.mark.benchmark(group="kano-1M")
def test_kano_labels_by_segment(benchmark, labelled):
    opts = KanoOptions(by="segment", weight_by_importance=True)
    out = benchmark.pedantic(analyse, args=(labelled, opts), rounds=3, iterations=1)
    assert out["kano_segments"]["n"].sum() == labelled.height


@pytest.mark.benchmark(group="kano-1M")
def test_baseline_groupby_counts(benchmark, coded):
    out = benchmark.pedantic(_baseline, args=(coded,), rounds=3, iterations=1)
    assert out["len"].sum() == coded.height


# --- bootstrap: 1,000 resamples of 100k answers (5,000 respondents x 20 features) ------------

BOOT_RESPONDENTS = 5_000
RESAMPLES = 1_000


@pytest.fixture(scope="module")
def boot_input() -> tuple[pl.DataFrame, pl.DataFrame]:
    df = _survey(labels=False).filter(pl.col("respondent") < BOOT_RESPONDENTS)
    classified = compute.classify(compute.normalise_survey(df)).collect()
    return classified, compute.summarise(classified)


def _polars_loop(classified: pl.DataFrame) -> pl.DataFrame:
    """The straightforward Polars bootstrap: per resample, draw respondents with replacement,
    join their answers, count per feature and category."""
    people = classified.select(pl.col("respondent").unique())
    answers = classified.select("respondent", "feature", "category")
    parts = []
    for b in range(RESAMPLES):
        drawn = people.sample(fraction=1.0, with_replacement=True, seed=b)
        parts.append(
            drawn.join(answers, on="respondent")
            .group_by("feature", "category")
            .len()
            .with_columns(resample=pl.lit(b))
        )
    return pl.concat(parts)


def _polars_weights(classified: pl.DataFrame, chunk: int = 100) -> pl.DataFrame:
    """The vectorised Polars formulation: draw all resamples' respondents at once as
    per-respondent weights, join the answers once per chunk of resamples, sum weights. It
    materialises resamples x answers rows and measured slower than the loop (2x at load ~20)."""
    people = classified["respondent"].unique().sort()
    r = people.len()
    answers = classified.select(
        pl.col("respondent").rank("dense").cast(pl.Int64).sub(1).alias("rid"),
        "feature",
        "category",
    )
    parts = []
    for start in range(0, RESAMPLES, chunk):
        k = min(chunk, RESAMPLES - start)
        draws = pl.DataFrame(
            {
                "resample": pl.int_range(k * r, eager=True) // r + start,
                "rid": pl.int_range(r, eager=True).sample(k * r, with_replacement=True, seed=start),
            }
        )
        weights = draws.group_by("resample", "rid").len("w")
        parts.append(
            weights.join(answers, on="rid")
            .group_by("resample", "feature", "category")
            .agg(pl.col("w").sum())
        )
    return pl.concat(parts)


@pytest.mark.benchmark(group="kano-bootstrap-1000x100k")
def test_bootstrap_truenorth(benchmark, boot_input):
    from truenorth.builtins.kano.bootstrap import bootstrap

    classified, point = boot_input
    out = benchmark.pedantic(
        bootstrap, args=(classified, point), kwargs={"resamples": RESAMPLES}, rounds=3
    )
    assert out.features.height == N_FEATURES


@pytest.mark.benchmark(group="kano-bootstrap-1000x100k")
def test_bootstrap_polars_loop(benchmark, boot_input):
    out = benchmark.pedantic(_polars_loop, args=(boot_input[0],), rounds=1, iterations=1)
    assert out["resample"].n_unique() == RESAMPLES


@pytest.mark.benchmark(group="kano-bootstrap-1000x100k")
def test_bootstrap_polars_weights(benchmark, boot_input):
    out = benchmark.pedantic(_polars_weights, args=(boot_input[0],), rounds=1, iterations=1)
    assert out["resample"].n_unique() == RESAMPLES
