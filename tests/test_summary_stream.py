"""One-pass Arrow streams (PyArrow RecordBatchReader, DuckDB relation) as summary inputs:
within the budget they are read into memory; beyond it they are copied to disk and take the
spill path, with exactly the in-memory result and no temporary files left behind."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from truenorth.clv import _budget, memory_limit, summarize


def _log(n: int = 20_000, n_cust: int = 1_500) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    return pl.DataFrame(
        {
            "c": pl.Series(rng.integers(0, n_cust, n)).cast(pl.String),
            "t": pl.Series(rng.integers(18_000, 18_700, n), dtype=pl.Int32).cast(pl.Date),
            "a": np.round(rng.normal(20, 10, n), 2),
            "unused": rng.normal(0, 1, n),
        }
    )


def _reader(df: pl.DataFrame) -> pa.RecordBatchReader:
    table = df.to_arrow()
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1000))


def _relation(df: pl.DataFrame) -> duckdb.DuckDBPyRelation:
    con = duckdb.connect()
    con.register("log", df.to_arrow())
    return con.sql("select * from log")


OPTS = {"customer": "c", "time": "t", "amount": "a", "period": "1w"}


@pytest.mark.parametrize("make", [_reader, _relation], ids=["record_batch_reader", "duckdb"])
def test_stream_beyond_the_budget_spills_with_the_in_memory_result(
    make, monkeypatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setattr(_budget, "_MIN_BUDGET", 1)
    log = _log()
    want = summarize(log, **OPTS)
    with memory_limit(None, progress=True):
        got = summarize(make(log), memory=100_000, spill_dir=tmp_path, **OPTS)
    assert "spilling into" in capsys.readouterr().err  # the input went to disk partitions
    assert list(tmp_path.iterdir()) == []  # copy and partitions removed
    assert_frame_equal(got, want)


def test_stream_within_the_budget_stays_in_memory(tmp_path: Path, capsys) -> None:
    log = _log(2_000, 300)
    with memory_limit(None, progress=True):
        got = summarize(_reader(log), memory="1GB", spill_dir=tmp_path, **OPTS)
    assert "spilling" not in capsys.readouterr().err
    assert_frame_equal(got, summarize(log, **OPTS))


def test_stream_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match=r"column 'amount' not found; the input has columns"):
        summarize(_reader(_log(100, 10)), customer="c", time="t", amount="amount")
