"""truenorth.clv.summarize: hand-computed cases, input layouts, documented policies, errors,
and property tests against the pure-Polars reference."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from truenorth import _core
from truenorth.clv import summarize
from truenorth.clv._reference import reference_summary

# Customer 1: Jan 1 ($10 + $5, one period), Jan 4 ($7), Jan 11 ($1) -> frequency 2,
#   recency 10 days, repeat totals 7 and 1 -> monetary 4, revenue 23, 4 transactions.
# Customer 2: Jan 6 ($4) only. Customer 3: Feb 10 ($9) only (the latest row: observation end).
LOG = pl.DataFrame(
    {
        "cust": [2, 1, 1, 3, 1, 1],
        "day": [
            date(2020, 1, 6),
            date(2020, 1, 11),
            date(2020, 1, 1),
            date(2020, 2, 10),
            date(2020, 1, 4),
            date(2020, 1, 1),
        ],
        "amt": [4.0, 1.0, 10.0, 9.0, 7.0, 5.0],
    }
)
KW = {"customer": "cust", "time": "day", "amount": "amt"}


def test_hand_computed_summary() -> None:
    out = summarize(LOG, **KW)
    assert out.columns == [
        "cust",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "n_transactions",
        "revenue",
        "first_purchase",
        "last_purchase",
    ]
    assert out["cust"].to_list() == [1, 2, 3]
    assert out["frequency"].to_list() == [2, 0, 0]
    assert out["recency"].to_list() == [10.0, 0.0, 0.0]
    assert out["T"].to_list() == [40.0, 35.0, 0.0]  # observation end = Feb 10
    assert out["monetary_value"].to_list() == [4.0, 0.0, 0.0]
    assert out["n_transactions"].to_list() == [4, 1, 1]
    assert out["revenue"].to_list() == [23.0, 4.0, 9.0]
    assert out["first_purchase"].to_list() == [
        date(2020, 1, 1),
        date(2020, 1, 6),
        date(2020, 2, 10),
    ]
    assert out["last_purchase"].to_list() == [
        date(2020, 1, 11),
        date(2020, 1, 6),
        date(2020, 2, 10),
    ]
    assert out.schema["frequency"] == pl.Int64 and out.schema["cust"] == pl.Int64


def test_units_and_periods() -> None:
    weeks = summarize(LOG, **KW, unit="1w")
    assert weeks["recency"][0] == pytest.approx(10 / 7)
    assert weeks["T"][0] == pytest.approx(40 / 7)
    # weekly periods start on Monday: 2020-01-01 (Wed) and 01-04 (Sat) share the week of
    # Dec 30; 01-11 (Sat) is in the week of Jan 6 -> two periods, one repeat.
    wk = summarize(LOG, **KW, period="1w", unit="1w")
    c1 = wk.row(0, named=True)
    assert c1["frequency"] == 1
    assert c1["monetary_value"] == 1.0  # week of Jan 6: just the $1
    assert c1["recency"] == 1.0
    # week of Dec 30 -> week of Feb 10 = 6 weeks
    assert c1["T"] == 6.0


def test_calibration_holdout_hand_computed() -> None:
    out = summarize(LOG, **KW, calibration_end=date(2020, 1, 4), observation_end="2020-01-31")
    # customers 2 and 3 are first seen after the calibration end: excluded
    assert out["cust"].to_list() == [1]
    c = out.row(0, named=True)
    assert (c["frequency"], c["recency"], c["T"]) == (1, 3.0, 3.0)
    assert (c["monetary_value"], c["revenue"], c["n_transactions"]) == (7.0, 22.0, 3)
    assert c["last_purchase"] == date(2020, 1, 4)
    assert (c["frequency_holdout"], c["monetary_value_holdout"]) == (1, 1.0)
    assert c["duration_holdout"] == 27.0


def test_observation_end_excludes_later_rows() -> None:
    out = summarize(LOG, **KW, observation_end=date(2020, 1, 5))
    assert out["cust"].to_list() == [1]
    c = out.row(0, named=True)
    assert (c["frequency"], c["T"], c["n_transactions"], c["revenue"]) == (1, 4.0, 3, 22.0)


def test_observation_end_period_is_inclusive_for_datetimes() -> None:
    df = pl.DataFrame(
        {
            "c": [1, 1, 1],
            "t": [datetime(2020, 1, 1, 9), datetime(2020, 1, 3, 8), datetime(2020, 1, 3, 20)],
        }
    )
    # a row later on the observation end's own day is included (period-based, as lifetimes)
    out = summarize(df, customer="c", time="t", observation_end=datetime(2020, 1, 3, 12))
    assert out["n_transactions"].to_list() == [3]
    assert out["frequency"].to_list() == [1]
    assert out["last_purchase"].to_list() == [datetime(2020, 1, 3, 20)]


def test_without_amount_omits_monetary_columns() -> None:
    out = summarize(LOG, customer="cust", time="day")
    assert "monetary_value" not in out.columns and "revenue" not in out.columns
    assert out["frequency"].to_list() == [2, 0, 0]


def test_refunds_and_zero_amounts() -> None:
    df = pl.DataFrame(
        {
            "c": ["a", "a", "a", "a"],
            "t": [date(2021, 3, 1), date(2021, 3, 2), date(2021, 3, 2), date(2021, 3, 5)],
            "x": [20, 30, -10, 0],  # integer amounts; a refund on day 2; a free order on day 5
        }
    )
    c = summarize(df, customer="c", time="t", amount="x").row(0, named=True)
    assert c["frequency"] == 2  # the zero-amount day counts as a purchase
    assert c["monetary_value"] == 10.0  # (30 - 10 + 0) / 2
    assert c["revenue"] == 40.0


def test_one_customer_no_repeats() -> None:
    df = pl.DataFrame({"c": [7], "t": [date(2022, 1, 1)], "a": [3.5]})
    out = summarize(df, customer="c", time="t", amount="a")
    assert out.row(0) == (7, 0, 0.0, 0.0, 0.0, 1, 3.5, date(2022, 1, 1), date(2022, 1, 1))


def test_timezone_wall_clock_bucketing() -> None:
    # 23:30 and 00:30 Berlin time on consecutive local days are one hour apart in UTC and both
    # fall on Jan 1 UTC: bucketing is by local wall-clock day, so they are two periods.
    local = pl.Series(
        [datetime(2020, 1, 1, 23, 30), datetime(2020, 1, 2, 0, 30)]
    ).dt.replace_time_zone("Europe/Berlin")
    df = pl.DataFrame({"c": [1, 1], "t": local})
    out = summarize(df, customer="c", time="t")
    assert out["frequency"].to_list() == [1]
    assert out.schema["first_purchase"] == pl.Datetime("us", "Europe/Berlin")
    assert out["first_purchase"][0] == local[0]
    # the same instants stored as UTC are one UTC day
    utc = summarize(
        df.with_columns(pl.col("t").dt.convert_time_zone("UTC")), customer="c", time="t"
    )
    assert utc["frequency"].to_list() == [0]
    # a naive observation end is read in the column's zone; an aware one is converted to it
    a = summarize(df, customer="c", time="t", observation_end=datetime(2020, 1, 1, 23, 59))
    b = summarize(
        df,
        customer="c",
        time="t",
        observation_end=datetime(2020, 1, 1, 22, 59).replace(
            tzinfo=__import__("zoneinfo").ZoneInfo("UTC")
        ),
    )
    assert a["n_transactions"].to_list() == b["n_transactions"].to_list() == [1]


@pytest.mark.parametrize("tu", ["ns", "us", "ms"])
def test_datetime_units_agree(tu: str) -> None:
    df = LOG.with_columns(
        (
            pl.col("day").cast(pl.Datetime(tu)) + pl.duration(hours=pl.col("amt").cast(pl.Int64))
        ).cast(pl.Datetime(tu))
    )
    out = summarize(df, **KW)
    base = summarize(LOG, **KW)
    assert_frame_equal(
        out.drop("first_purchase", "last_purchase"), base.drop("first_purchase", "last_purchase")
    )
    assert out.schema["first_purchase"] == pl.Datetime(tu)


def test_hourly_periods_need_datetimes() -> None:
    df = pl.DataFrame(
        {
            "c": [1, 1, 1],
            "t": [
                datetime(2020, 1, 1, 9, 5),
                datetime(2020, 1, 1, 9, 55),
                datetime(2020, 1, 1, 11),
            ],
        }
    )
    out = summarize(df, customer="c", time="t", period="1h", unit="1h")
    assert out.row(0)[:4] == (1, 1, 2.0, 2.0)
    with pytest.raises(ValueError, match="finer than the resolution of column 'day'"):
        summarize(LOG, **KW, period="1h")


def _expected_base() -> pl.DataFrame:
    return summarize(LOG, **KW)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda df: df.lazy(), id="lazyframe"),
        pytest.param(lambda df: df.to_arrow(), id="pyarrow"),
        pytest.param(lambda df: df.to_pandas(), id="pandas"),
        pytest.param(lambda df: df.with_columns(pl.col("cust").cast(pl.Int32)), id="int32"),
        pytest.param(lambda df: df.with_columns(pl.col("cust").cast(pl.UInt16)), id="uint16"),
        pytest.param(lambda df: df.with_columns(pl.col("amt").cast(pl.Float32)), id="float32"),
        pytest.param(lambda df: pl.concat([df.head(3), df.tail(3)], rechunk=False), id="chunked"),
    ],
)
def test_input_layouts_agree(convert) -> None:
    data = convert(LOG)
    out = summarize(data, **KW)
    assert_frame_equal(out, _expected_base(), check_dtypes=False)
    # the key keeps its original dtype (as Polars reads the input)
    as_polars = data.collect() if isinstance(data, pl.LazyFrame) else pl.DataFrame(data)
    assert out.schema["cust"] == as_polars.schema["cust"]


STR_LOG = LOG.with_columns(pl.col("cust").replace_strict({1: "zoe", 2: "adam", 3: "mia"}))


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda df: df, id="string_view"),
        pytest.param(
            lambda df: df.with_columns(pl.col("cust").cast(pl.Categorical)), id="categorical"
        ),
        pytest.param(
            lambda df: df.with_columns(pl.col("cust").cast(pl.Enum(["zoe", "mia", "adam"]))),
            id="enum",
        ),
        pytest.param(
            lambda df: df.to_arrow().cast(
                pa.schema(
                    [("cust", pa.large_string()), ("day", pa.date32()), ("amt", pa.float64())]
                )
            ),
            id="arrow_large_utf8",
        ),
        pytest.param(
            lambda df: df.to_arrow().cast(
                pa.schema(
                    [
                        ("cust", pa.dictionary(pa.int32(), pa.string())),
                        ("day", pa.date32()),
                        ("amt", pa.float64()),
                    ]
                )
            ),
            id="arrow_dictionary",
        ),
        pytest.param(lambda df: df.to_pandas(), id="pandas_object"),
    ],
)
def test_string_key_layouts(convert) -> None:
    out = summarize(convert(STR_LOG), **KW)
    names = [str(x) for x in out["cust"].to_list()]
    key_dtype = out.schema["cust"]
    if isinstance(key_dtype, pl.Enum):
        assert names == ["zoe", "mia", "adam"]  # Enum: Polars sorts in category order
    else:
        assert names == ["adam", "mia", "zoe"]
    by_name = dict(zip(names, out["frequency"].to_list(), strict=True))
    assert by_name == {"zoe": 2, "adam": 0, "mia": 0}
    by_name_mv = dict(zip(names, out["monetary_value"].to_list(), strict=True))
    assert by_name_mv["zoe"] == 4.0


def test_raw_kernel_accepts_arrow_string_layouts() -> None:
    # the kernel itself reads utf8 / large_utf8 / string_view without Polars in between
    t = pa.chunked_array([pa.array([0, 3, 0, 9], pa.int32())])
    for typ in (pa.string(), pa.large_string(), pa.string_view()):
        k = pa.chunked_array([pa.array(["b", "a", "b", "b"], typ)])
        out = pl.DataFrame(_core.customer_summary(k, t, None, period=1, offset=0, unit=1.0))
        assert out["frequency"].to_list() == [0, 1]
        assert out["first_row"].to_list() == [1, 0]


# --- bad input ------------------------------------------------------------------------------


def test_missing_column() -> None:
    with pytest.raises(ValueError, match=r"column 'amount' not found; the input has columns"):
        summarize(LOG, customer="cust", time="day", amount="amount")


def test_empty_frame() -> None:
    with pytest.raises(ValueError, match="empty"):
        summarize(LOG.head(0), **KW)


@pytest.mark.parametrize(
    ("frame", "pattern"),
    [
        (LOG.with_columns(pl.col("cust").cast(pl.Float64)), r"column 'cust': customer ids must be"),
        (
            LOG.with_columns(pl.col("day").cast(pl.String)),
            r"column 'day': expected Date or Datetime.*parse",
        ),
        (
            LOG.with_columns(pl.col("day").cast(pl.Int32)),
            r"column 'day': expected Date or Datetime",
        ),
        (
            LOG.with_columns(pl.col("amt").cast(pl.String)),
            r"column 'amt': expected numeric amounts",
        ),
    ],
)
def test_wrong_dtypes(frame: pl.DataFrame, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        summarize(frame, **KW)


@pytest.mark.parametrize(
    ("col", "what"), [("cust", "customer id"), ("day", "time"), ("amt", "amount")]
)
def test_nulls_name_column_and_row(col: str, what: str) -> None:
    df = LOG.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise(pl.col(col)).alias(col)
    )
    with pytest.raises(ValueError, match=rf"column '{col}': null {what} at row 5"):
        summarize(df, **KW)


def test_all_null_amounts() -> None:
    df = LOG.with_columns(pl.lit(None, dtype=pl.Float64).alias("amt"))
    with pytest.raises(ValueError, match=r"column 'amt': null amount at row 1"):
        summarize(df, **KW)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_amounts(bad: float) -> None:
    df = LOG.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(bad).otherwise(pl.col("amt")).alias("amt")
    )
    # 1-based data rows: the bad value is the third row
    with pytest.raises(ValueError, match=r"column 'amt': non-finite amount .* at row 3;"):
        summarize(df, **KW)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"period": "1mo", "unit": "1d"}, r"unit: '1d' is a fixed-length.*months differ"),
        ({"unit": "1mo"}, r"unit: '1mo' is a calendar unit but period '1d'.*months differ"),
        ({"unit": "week"}, r"unit: 'week' is not a duration: expected a fixed length"),
        ({"period": "0mo"}, r"must be positive"),
        ({"period": "0d"}, r"must be positive"),
        ({"calibration_end": "2020-03-01"}, r"calibration_end must fall in a period before"),
        ({"observation_end": "2019-01-01"}, r"no purchases on or before the observation end"),
        ({"observation_end": "not a date"}, r"observation_end: 'not a date' is not an ISO date"),
        ({"observation_end": 5}, r"observation_end: expected a date"),
    ],
)
def test_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises((ValueError, TypeError), match=pattern):
        summarize(LOG, **KW, **kwargs)


def test_not_a_frame() -> None:
    with pytest.raises(TypeError, match="expected a Polars DataFrame"):
        summarize([1, 2, 3], **KW)


def test_errors_are_value_errors_from_the_core() -> None:
    assert issubclass(_core.CoreError, ValueError)
    with pytest.raises(_core.CoreError, match="column 'k': null at row 2;"):
        _core.customer_summary(
            pl.Series("k", [1, None]),
            pl.Series([1, 2]),
            None,
            period=1,
            offset=0,
            unit=1.0,
            names=("k", "t", "a"),
        )


# --- larger and property tests against the pure-Polars reference ---------------------------


def _random_log(n: int, n_cust: int, seed: int) -> pl.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "cust": rng.integers(-n_cust, n_cust, n),
            "day": pl.Series(rng.integers(0, 500, n)).cast(pl.Date) + timedelta(days=10_000),
            "amt": np.round(rng.normal(20, 15, n), 2),
        }
    )


@pytest.mark.parametrize("sort", [False, True], ids=["unsorted", "sorted"])
def test_large_log_equals_reference(sort: bool) -> None:
    # enough rows for many hash partitions (and, sorted, the run-splitting fast path)
    df = _random_log(300_000, 40_000, seed=7)
    if sort:
        df = df.sort("cust")
    for extra in ({}, {"calibration_end": date(1998, 3, 1)}):
        ours = summarize(df, **KW, unit="1w", **extra)
        ref = reference_summary(df, **KW, unit="1w", **extra)
        assert_frame_equal(ours, ref, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


@st.composite
def logs(draw):
    n = draw(st.integers(1, 60))
    n_cust = draw(st.integers(1, 8))
    string_keys = draw(st.booleans())
    use_datetime = draw(st.booleans())
    keys = draw(st.lists(st.integers(-3, n_cust), min_size=n, max_size=n))
    offsets = draw(st.lists(st.integers(0, 40 * 24 * 60), min_size=n, max_size=n))  # minutes
    amounts = draw(st.lists(st.integers(-500, 5000).map(lambda c: c / 100), min_size=n, max_size=n))
    base = datetime(2021, 2, 26, 0, 0)
    times = [base + timedelta(minutes=m) for m in offsets]
    df = pl.DataFrame(
        {
            "cust": [f"c{k:+d}" for k in keys] if string_keys else keys,
            "day": times if use_datetime else [t.date() for t in times],
            "amt": amounts,
        }
    )
    return df


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    df=logs(),
    period=st.sampled_from(["1d", "2d", "7d", "1w", "2w"]),
    unit=st.sampled_from(["1d", "1w", "12h"]),
    end_days=st.one_of(st.none(), st.integers(0, 45)),
    cal_days=st.one_of(st.none(), st.integers(-5, 40)),
)
def test_property_equals_reference(df, period, unit, end_days, cal_days) -> None:
    base = date(2021, 2, 26)
    obs = None if end_days is None else base + timedelta(days=end_days)
    cal = None if cal_days is None else base + timedelta(days=cal_days)
    kw = dict(**KW, period=period, unit=unit, observation_end=obs, calibration_end=cal)
    try:
        ref = reference_summary(df, **kw)
    except Exception:  # pragma: no cover - the reference assumes valid ends
        ref = None
    try:
        ours = summarize(df, **kw)
    except ValueError as e:
        # only the documented refusals: nothing in the window, or calibration not before end
        assert "no purchases on or before" in str(e) or "calibration_end must fall" in str(e), e
        if ref is not None and "no purchases" in str(e):
            assert ref.height == 0
        return
    assert ref is not None
    assert_frame_equal(ours, ref, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


def test_concurrent_calls_release_the_gil_and_agree() -> None:
    # the kernel runs with the GIL released; concurrent calls must not interfere
    from concurrent.futures import ThreadPoolExecutor

    logs = [_random_log(50_000, 5_000, seed=s) for s in range(4)]
    serial = [summarize(df, **KW) for df in logs]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda df: summarize(df, **KW), logs))
    for a, b in zip(serial, parallel, strict=True):
        assert_frame_equal(a, b)


def test_no_repeat_purchases_anywhere() -> None:
    df = pl.DataFrame(
        {
            "c": ["x", "y", "z"],
            "t": [date(2020, 1, 1), date(2020, 1, 3), date(2020, 1, 3)],
            "a": [1, 2, 3],
        }
    )
    out = summarize(df, customer="c", time="t", amount="a")
    assert out["frequency"].to_list() == [0, 0, 0]
    assert out["monetary_value"].to_list() == [0.0, 0.0, 0.0]
    assert out["T"].to_list() == [2.0, 0.0, 0.0]


# --- chunked input (e.g. a frame read from Parquet): read in place, same answers -------------


def _chunked(df: pl.DataFrame, cuts: list[int]) -> pl.DataFrame:
    """``df`` as one chunk per slice between the cut points (same boundaries in every column)."""
    bounds = [0, *cuts, df.height]
    parts = [df.slice(a, b - a) for a, b in pairwise(bounds)]
    return pl.concat(parts, rechunk=False)


@pytest.mark.parametrize("keys", ["int", "str"])
@pytest.mark.parametrize("sort", [False, True], ids=["unsorted", "sorted"])
def test_chunked_frame_equals_one_chunk(keys: str, sort: bool) -> None:
    df = _random_log(120_000, 15_000, seed=3)
    if keys == "str":
        df = df.with_columns(pl.col("cust").cast(pl.String))
    if sort:
        df = df.sort("cust")
    chunked = _chunked(df, [1, 17_000, 17_001, 90_000])
    assert chunked.get_column("cust").n_chunks() == 5
    for extra in ({}, {"calibration_end": date(1998, 3, 1)}):
        ours = summarize(chunked, **KW, **extra)
        assert_frame_equal(ours, summarize(df.rechunk(), **KW, **extra))
        ref = reference_summary(df, **KW, **extra)
        assert_frame_equal(ours, ref, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


def test_misaligned_chunks_are_realigned() -> None:
    # columns chunked at different rows: summarize rechunks; the raw kernel refuses
    df = _random_log(5_000, 500, seed=4)
    cust = _chunked(df.select("cust"), [2_000]).get_column("cust")
    rest = _chunked(df.select("day", "amt"), [3_000])
    mixed = pl.DataFrame([cust]).hstack(rest.get_columns())
    assert mixed.get_column("cust").chunk_lengths() != mixed.get_column("day").chunk_lengths()
    assert_frame_equal(summarize(mixed, **KW), summarize(df, **KW))
    with pytest.raises(_core.CoreError, match="column 'day': its chunks do not line up"):
        _core.customer_summary(
            cust,
            mixed.get_column("day").to_physical(),
            None,
            period=1,
            offset=0,
            unit=1.0,
            names=("cust", "day", "amt"),
        )


def test_chunked_error_rows_are_global_and_one_based() -> None:
    df = _chunked(LOG, [2, 3])
    bad = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(float("nan"))
        .otherwise(pl.col("amt"))
        .alias("amt")
    )
    assert bad.get_column("amt").n_chunks() == 3
    with pytest.raises(ValueError, match=r"non-finite amount NaN at row 5;"):
        summarize(bad, **KW)


@pytest.mark.parametrize("key_dtype", [pl.Int8, pl.UInt16, pl.Int32, pl.UInt64, pl.Int64])
@pytest.mark.parametrize("time_dtype", [pl.Date, pl.Datetime("ms"), pl.Datetime("ns", "UTC")])
@pytest.mark.parametrize("sort", [False, True], ids=["unsorted", "sorted"])
def test_kernel_keys_and_times_equal_a_group_by(key_dtype, time_dtype, sort: bool) -> None:
    # the key and first/last purchase come from the kernel (integer keys; times without a zone)
    # or from a gather by row (zoned times): both must equal the per-customer min/max, dtypes
    # kept, also on a chunked frame
    df = _random_log(60_000, 100, seed=3).with_columns(
        (pl.col("cust") + 100) // 2, pl.col("day").cast(time_dtype) + pl.duration(milliseconds=7)
    )
    df = df.with_columns(pl.col("cust").cast(key_dtype))
    if sort:
        df = df.sort("cust")
    chunked = pl.concat([df[:20_000], df[20_000:45_000], df[45_000:]], rechunk=False)
    assert chunked.get_column("cust").n_chunks() == 3
    expect = (
        df.group_by("cust")
        .agg(
            pl.col("day").min().alias("first_purchase"), pl.col("day").max().alias("last_purchase")
        )
        .sort("cust")
    )
    for frame in (df, chunked):
        got = summarize(frame, **KW).select("cust", "first_purchase", "last_purchase")
        assert_frame_equal(got, expect)
