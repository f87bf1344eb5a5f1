"""String customer ids: short ids (at most 12 bytes, stored inline in Arrow string views) take
the kernel's u128 key path, longer ones the byte-slice path; both must give the reference
summary, in bytewise key order (Polars' string order), sorted or not, in one chunk or many."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from truenorth.clv import summarize
from truenorth.clv._reference import reference_summary

# ids that probe the inline key's order: prefixes, NUL bytes, multi-byte UTF-8, 12 bytes exactly
EDGE = ["", "a", "a\0", "a\0b", "ab", "b", "C123", "C1234", "C124", "zzzzzzzzzzzz", "é", "éa"]


def _log(n: int, ids: list[str], seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(ids), n)
    return pl.DataFrame(
        {
            "c": [ids[i] for i in pick],
            "t": pl.Series(rng.integers(0, 300, n), dtype=pl.Int32).cast(pl.Date),
            "a": np.round(rng.normal(10, 5, n), 2),
        }
    )


@pytest.mark.parametrize("long", [False, True], ids=["inline", "long"])
@pytest.mark.parametrize("order", ["unsorted", "sorted", "chunked"])
def test_string_ids_match_the_reference(long: bool, order: str) -> None:
    ids = EDGE + [f"C{i}" for i in range(3000)]
    if long:
        ids = [f"customer-number-{s}" for s in ids]  # > 12 bytes: the slice path
    df = _log(60_000, ids, seed=3 + long)
    if order == "sorted":
        df = df.sort("c", "t")
    elif order == "chunked":
        df = pl.concat([df.slice(0, 25_000), df.slice(25_000)], rechunk=False)
    got = summarize(df, customer="c", time="t", amount="a")
    expected = reference_summary(df, customer="c", time="t", amount="a")
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12)
    assert got["c"].to_list() == sorted(got["c"].to_list(), key=lambda s: s.encode())


def test_inline_and_long_ids_give_the_same_summary() -> None:
    short = _log(40_000, EDGE + [f"C{i}" for i in range(2000)], seed=9)
    long = short.with_columns(("x" * 13 + pl.col("c")).alias("c"))
    a = summarize(short, customer="c", time="t", amount="a")
    b = summarize(long, customer="c", time="t", amount="a")
    assert_frame_equal(a.drop("c"), b.drop("c"), check_exact=True)
    assert ("x" * 13 + a["c"]).to_list() == b["c"].to_list()
