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
