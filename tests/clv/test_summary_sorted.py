"""Input sorted by customer takes the kernel's sorted path: the log is cut into windows at
customer boundaries and summarised on all threads. Whatever the run lengths, the Arrow chunk
boundaries (inside a customer's run, exactly at its end, empty chunks) and the number of
customers, the summary must equal the reference and the one computed from the same rows
unsorted (the hash-partitioned path). The kernel's own tests pin window bounds at every row."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from truenorth.clv import summarize
from truenorth.clv._reference import reference_summary

KW = {"customer": "c", "time": "t", "amount": "a"}
DAY0 = date(2021, 1, 1)
EPOCH_DAY0 = (DAY0 - date(1970, 1, 1)).days


def _runs(lengths: list[int], seed: int, ids: str) -> pl.DataFrame:
    """A log sorted by customer: customer ``i`` has ``lengths[i]`` rows."""
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    cust = np.repeat(np.arange(len(lengths)), lengths)
    df = pl.DataFrame(
        {
            "c": cust,
            "t": pl.Series(rng.integers(0, 400, n) + EPOCH_DAY0, dtype=pl.Int32).cast(pl.Date),
            "a": np.round(rng.normal(10, 5, n), 2),
        }
    )
    if ids == "short":
        df = df.with_columns(pl.format("C{}", pl.col("c").cast(pl.String).str.zfill(6)).alias("c"))
    elif ids == "long":
        df = df.with_columns(
            pl.format("customer-{}", pl.col("c").cast(pl.String).str.zfill(9)).alias("c")
        )
    return df.sort("c", "t")


def _chunked(df: pl.DataFrame, cuts: list[int]) -> pl.DataFrame:
    bounds = [0, *cuts, df.height]
    return pl.concat([df.slice(a, b - a) for a, b in pairwise(bounds)], rechunk=False)


def _check(df: pl.DataFrame, **extra: object) -> None:
    got = summarize(df, **KW, **extra)
    ref = reference_summary(df, **KW, **extra)
    assert_frame_equal(got, ref, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
    # the same rows unsorted take the hash path (sums in another row order: equal to rounding)
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=1)
    assert_frame_equal(got, summarize(shuffled, **KW, **extra), check_exact=False, rel_tol=1e-12)


@pytest.mark.parametrize("ids", ["int", "short", "long"])
@pytest.mark.parametrize("run", [1, 3, 4, 8, 17])
def test_runs_of_any_length_split_anywhere(ids: str, run: int) -> None:
    # equal runs: window bounds (row counts divided evenly) land inside runs or exactly at
    # their ends depending on the run length; one long run swallows several windows
    lengths = [run] * 600 + [5_000] + [run] * 300
    df = _runs(lengths, seed=run, ids=ids)
    _check(df)
    _check(df, calibration_end=DAY0 + timedelta(days=200))


@pytest.mark.parametrize("ids", ["int", "short", "long"])
def test_chunk_boundaries_inside_and_at_a_run(ids: str) -> None:
    lengths = [4] * 2_000 + [3] * 2_000
    df = _runs(lengths, seed=5, ids=ids)
    # 4_000 ends a run (customer 999 -> 1000), 4_002 and 4_003 fall inside one, and the
    # empty slice adds an empty chunk if Polars keeps it
    chunked = _chunked(df, [4_000, 4_002, 4_002, 4_003, 9_000])
    assert chunked.get_column("c").n_chunks() >= 4
    _check(chunked)
    _check(chunked, calibration_end=DAY0 + timedelta(days=150))


@pytest.mark.parametrize("ids", ["int", "short", "long"])
def test_one_customer(ids: str) -> None:
    df = _runs([20_000], seed=2, ids=ids)
    _check(df)
    _check(_chunked(df, [1, 10_000]))
    out = summarize(df, **KW)
    assert out.height == 1
    assert out["n_transactions"].item() == 20_000


def test_customers_only_in_the_holdout_leave_windows_empty() -> None:
    # every customer in the second half first buys after the calibration end: the windows
    # there have no calibration customer at all
    early = _runs([3] * 2_000, seed=7, ids="short")
    late = _runs([3] * 2_000, seed=8, ids="int").with_columns(
        pl.format("D{}", pl.col("c").cast(pl.String).str.zfill(6)).alias("c"),
        pl.lit(DAY0 + timedelta(days=500)).alias("t"),
    )
    df = pl.concat([early, late])
    out = summarize(df, **KW, calibration_end=DAY0 + timedelta(days=450))
    assert out.height == 2_000
    _check(df, calibration_end=DAY0 + timedelta(days=450))


@pytest.mark.parametrize("order", ["sorted", "unsorted"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_amount_found_by_the_kernel_names_its_row(order: str, bad: float) -> None:
    df = _runs([3] * 1_000, seed=3, ids="short")
    if order == "unsorted":
        df = df.sample(fraction=1.0, shuffle=True, seed=2)
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 1_234).then(bad).otherwise(pl.col("a")).alias("a")
    )
    with pytest.raises(ValueError, match=r"column 'a': non-finite amount .* at row 1235;"):
        summarize(df, **KW)
    # a row after the observation end is still checked
    late = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 1_234)
        .then(pl.lit(DAY0 + timedelta(days=1_000)))
        .otherwise(pl.col("t"))
        .alias("t")
    )
    with pytest.raises(ValueError, match=r"non-finite amount .* at row 1235;"):
        summarize(late, **KW, observation_end=DAY0 + timedelta(days=500))
    # and it is reported before a calibration end that is out of range, as before
    with pytest.raises(ValueError, match=r"non-finite amount .* at row 1235;"):
        summarize(df, **KW, calibration_end=DAY0 + timedelta(days=5_000))


def test_default_observation_end_is_the_latest_time() -> None:
    # without an observation end the kernel runs on an open window and takes the end from the
    # customers' latest purchase: T must be measured to the log's latest day either way
    df = _runs([2] * 500, seed=11, ids="int")
    latest = df["t"].max()
    a = summarize(df, **KW)
    b = summarize(df, **KW, observation_end=latest)
    assert_frame_equal(a, b, check_exact=True)
    assert (a["T"] >= a["recency"]).all()
