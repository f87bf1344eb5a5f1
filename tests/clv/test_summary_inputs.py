"""summarize on Arrow-stream producers other than Polars: DuckDB relations, multi-chunk PyArrow
tables, pandas frames (NumPy- and PyArrow-backed). Each must give exactly the summary of the same
log as a Polars DataFrame."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from truenorth.clv import summarize

KW = {"customer": "c", "time": "t", "amount": "a"}


def _log(n: int = 30_000, seed: int = 5) -> pl.DataFrame:
    """Cents as exact decimals: amounts are the doubles nearest to those decimals."""
    rng = np.random.default_rng(seed)
    start = datetime(2021, 1, 1)
    return pl.DataFrame(
        {
            "c": rng.integers(0, 3_000, n),
            "t": [start + timedelta(minutes=int(m)) for m in rng.integers(0, 500 * 24 * 60, n)],
            "a": rng.integers(-1_000, 50_000, n) / 100,
        }
    ).with_columns(pl.col("t").cast(pl.Datetime("us")))


LOG = _log()
SETTINGS = [
    {},
    {"period": "1w", "unit": "1d", "calibration_end": "2021-12-31"},
    {"period": "1mo"},
]


def _expected(log: pl.DataFrame, **kw) -> pl.DataFrame:
    return summarize(log, **KW, **kw)


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


@pytest.mark.parametrize("kw", SETTINGS)
def test_duckdb_relation_over_a_polars_frame(con, kw) -> None:
    log = LOG
    con.register("log", log.to_arrow())
    rel = con.sql("select c, t, a from log")
    out = summarize(rel, **KW, **kw)
    assert_frame_equal(out, _expected(LOG, **kw))
    assert out.schema["first_purchase"] == pl.Datetime("us")


def test_duckdb_replacement_scan_of_a_polars_frame() -> None:
    log = LOG.head(5_000)  # found by name: duckdb.sql scans Python variables in scope
    rel = duckdb.sql("select c, t, a from log where a > 0")
    assert_frame_equal(
        summarize(rel, **KW, period="1mo"), _expected(log.filter(pl.col("a") > 0), period="1mo")
    )


def _arrow_reader(con, query: str, batch_size: int) -> pa.RecordBatchReader:
    # DuckDB 2 streams relations with to_arrow_reader; older releases fetch_record_batch
    rel = con.sql(query)
    if hasattr(rel, "to_arrow_reader"):
        return rel.to_arrow_reader(batch_size)
    return con.execute(query).fetch_record_batch(batch_size)


def test_duckdb_multi_batch_result(con) -> None:
    query = (
        "select (i % 997)::BIGINT as c, TIMESTAMP '2021-01-01' + to_minutes(i * 7) as t, "
        "((i * 37) % 10000) / 100.0 as a from range(100000) r(i)"
    )
    as_polars = pl.DataFrame(con.sql(query))
    assert as_polars.height == 100_000
    expected = summarize(as_polars, **KW, unit="1w")
    # a relation, and a result streamed in many small record batches
    assert_frame_equal(summarize(con.sql(query), **KW, unit="1w"), expected)
    batches = list(_arrow_reader(con, query, 4_096))
    assert len(batches) > 10
    stream = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
    assert_frame_equal(summarize(stream, **KW, unit="1w"), expected)
    assert_frame_equal(summarize(_arrow_reader(con, query, 4_096), **KW, unit="1w"), expected)
    # independent spot check for one customer: periods are days, amounts summed per day
    c0 = as_polars.filter(pl.col("c") == 0)
    days = c0.group_by(pl.col("t").dt.date()).agg(pl.col("a").sum()).sort("t")
    row = expected.filter(pl.col("c") == 0).row(0, named=True)
    assert row["frequency"] == days.height - 1
    assert row["recency"] == (days["t"][-1] - days["t"][0]).days / 7
    assert row["monetary_value"] == pytest.approx(days["a"][1:].mean())


def test_duckdb_decimal_amounts_are_read_as_float64(con) -> None:
    """DECIMAL amounts (DuckDB's type for literals like 12.34 and for money columns) are cast to
    Float64: each becomes the double nearest to it, exactly as if written as a float."""
    rel = con.sql(
        "select * from (values (1, TIMESTAMP '2021-01-01 10:00', 12.34::DECIMAL(10, 2)), "
        "(1, TIMESTAMP '2021-01-05 10:00', 0.10), (1, TIMESTAMP '2021-01-05 11:00', 0.20), "
        "(2, TIMESTAMP '2021-01-02 00:00', 5.00)) v(c, t, a)"
    )
    assert pl.DataFrame(con.sql(rel.sql_query())).schema["a"] == pl.Decimal(10, 2)
    floats = pl.DataFrame(
        {
            "c": [1, 1, 1, 2],
            "t": [
                datetime(2021, 1, 1, 10),
                datetime(2021, 1, 5, 10),
                datetime(2021, 1, 5, 11),
                datetime(2021, 1, 2),
            ],
            "a": [12.34, 0.10, 0.20, 5.00],
        }
    )
    out = summarize(rel, **KW)
    assert_frame_equal(out, summarize(floats, **KW), check_dtypes=False)
    assert out["monetary_value"].to_list() == [0.1 + 0.2, 0.0]  # float sum, not decimal 0.3
    assert out["revenue"].to_list() == [12.34 + 0.1 + 0.2, 5.0]


def test_duckdb_timestamptz_and_dates(con) -> None:
    con.sql("set TimeZone = 'Europe/Berlin'")
    rel = con.sql(
        "select * from (values (1, TIMESTAMPTZ '2021-03-31 21:30:00+00', 1.5), "
        "(1, TIMESTAMPTZ '2021-03-31 22:30:00+00', 2.5)) v(c, t, a)"
    )
    # 21:30 UTC is March 31 in Berlin, 22:30 UTC is April 1: two days and two months
    out = summarize(rel, **KW, period="1mo")
    assert out.row(0, named=True)["frequency"] == 1
    dates = con.sql("select 7 as c, DATE '2021-02-28' as t union all select 7, DATE '2021-03-01'")
    out = summarize(dates, customer="c", time="t")
    assert (out["frequency"][0], out["recency"][0]) == (1, 1.0)


def test_duckdb_hugeint_ids_and_bad_types(con) -> None:
    rel = con.sql("select 1::HUGEINT as c, DATE '2021-01-01' as t, 1.0::DOUBLE as a")
    out = summarize(rel, **KW)
    assert out["c"].to_list() == [1]
    huge = con.sql("select (2::HUGEINT ** 70)::HUGEINT as c, DATE '2021-01-01' as t, 1.0 as a")
    with pytest.raises(ValueError, match=r"column 'c': Decimal.* customer ids above 2\*\*63-1"):
        summarize(huge, **KW)
    text = con.sql("select 1 as c, DATE '2021-01-01' as t, '12.5' as a")
    with pytest.raises(ValueError, match=r"column 'a': expected numeric amounts, got String"):
        summarize(text, **KW)
    nulls = con.sql("select 1 as c, DATE '2021-01-01' as t, NULL::DECIMAL(8,2) as a")
    with pytest.raises(ValueError, match=r"column 'a': null amount at row 1;"):
        summarize(nulls, **KW)


def test_duckdb_connection_is_not_a_result(con) -> None:
    con.execute("select 1 as c, DATE '2021-01-01' as t")
    with pytest.raises(TypeError, match=r"DuckDB connection is not a result.*con\.sql\("):
        summarize(con, customer="c", time="t")


@pytest.mark.parametrize("kw", SETTINGS)
def test_multi_chunk_pyarrow_table(kw) -> None:
    table = LOG.to_arrow()
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=4_000))
    assert chunked.column("c").num_chunks > 5
    assert_frame_equal(summarize(chunked, **KW, **kw), _expected(LOG, **kw))
    # a RecordBatchReader is a one-shot stream, also accepted
    reader = pa.RecordBatchReader.from_batches(chunked.schema, chunked.to_batches())
    assert_frame_equal(summarize(reader, **KW, **kw), _expected(LOG, **kw))


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_pandas_frames(backend: str) -> None:
    pdf = LOG.to_pandas().convert_dtypes(dtype_backend=backend)
    out = summarize(pdf, **KW)
    assert_frame_equal(out, _expected(LOG), check_dtypes=False)
    # pandas tz-aware timestamps bucket by local wall-clock time, as Polars ones
    aware = LOG.with_columns(
        pl.col("t").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo")
    )
    pdf = aware.to_pandas().convert_dtypes(dtype_backend=backend)
    assert_frame_equal(summarize(pdf, **KW, period="1mo"), summarize(aware, **KW, period="1mo"))


def test_pandas_missing_values_name_row() -> None:
    pdf = pd.DataFrame(
        {"c": pd.array([1, 2, pd.NA], dtype="Int64"), "t": pd.to_datetime(["2021-01-01"] * 3)}
    )
    with pytest.raises(ValueError, match=r"column 'c': null customer id at row 3;"):
        summarize(pdf, customer="c", time="t")


@pytest.mark.parametrize(
    "sql_type", ["TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMPTZ", "DATE"]
)
def test_duckdb_time_types(con, sql_type: str) -> None:
    con.sql("set TimeZone = 'UTC'")
    rel = con.sql(
        f"select * from (values (1, '2021-01-31 23:59:59'::{sql_type}, 1.25), "
        f"(1, '2021-02-01 00:00:01'::{sql_type}, 2.5)) v(c, t, a)"
    )
    # two seconds apart (for DATE: one day), across a month boundary
    for period in ("1d", "1mo"):
        row = summarize(rel, **KW, period=period).row(0, named=True)
        assert (row["frequency"], row["recency"], row["monetary_value"]) == (1, 1.0, 2.5)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-(10**14), 10**15), min_size=1, max_size=30),
    st.integers(0, 6),
)
def test_decimal_amounts_are_the_nearest_doubles(mantissas: list[int], scale: int) -> None:
    # up to 15 significant digits: the cast gives exactly the double a float literal gives
    decimals = [Decimal(m).scaleb(-scale) for m in mantissas]
    n = len(decimals)
    times = [datetime(2021, 1, 1) + timedelta(days=i) for i in range(n)]
    table = pa.table({"c": [1] * n, "t": times, "a": pa.array(decimals, pa.decimal128(18, scale))})
    floats = pl.DataFrame({"c": [1] * n, "t": times, "a": [float(str(d)) for d in decimals]})
    assert_frame_equal(summarize(table, **KW), summarize(floats, **KW), check_dtypes=False)
