"""Calendar periods in truenorth.clv.summarize (``period="1mo"``, ``"1q"``, ``"1y"``): hand-computed
cases, time zones, errors, a property test against the pure-Polars reference and CDNOW against
lifetimes' monthly summary."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from truenorth.clv import summarize
from truenorth.clv._reference import reference_summary

KW = {"customer": "c", "time": "t", "amount": "a"}

# Customer 1: Jan 31 ($1), Feb 1 ($2), Feb 20 ($5), Mar 15 ($3): three months, the Feb total is 7.
# Customer 2: Feb 29 ($4) only. Latest purchase Mar 15 -> observation end is March.
LOG = pl.DataFrame(
    {
        "c": [1, 2, 1, 1, 1],
        "t": [
            date(2020, 3, 15),
            date(2020, 2, 29),
            date(2020, 2, 20),
            date(2020, 1, 31),
            date(2020, 2, 1),
        ],
        "a": [3.0, 4.0, 5.0, 1.0, 2.0],
    }
)


def test_monthly_hand_computed() -> None:
    out = summarize(LOG, **KW, period="1mo")
    assert out["c"].to_list() == [1, 2]
    assert out["frequency"].to_list() == [2, 0]
    # Jan 31 -> Mar 15 is 2 months even though only 44 days apart; Feb 29 -> Mar is 1 month
    assert out["recency"].to_list() == [2.0, 0.0]
    assert out["T"].to_list() == [2.0, 1.0]
    assert out["monetary_value"].to_list() == [(7.0 + 3.0) / 2, 0.0]
    assert out["n_transactions"].to_list() == [4, 1]
    # the earliest/latest purchase, not the first row seen in the month
    assert out["first_purchase"].to_list() == [date(2020, 1, 31), date(2020, 2, 29)]
    assert out["last_purchase"].to_list() == [date(2020, 3, 15), date(2020, 2, 29)]


def test_units_divide_month_counts() -> None:
    thirds = summarize(LOG, **KW, period="1mo", unit="1q")
    assert thirds["recency"].to_list() == [2 / 3, 0.0]
    assert thirds["T"].to_list() == [2 / 3, 1 / 3]
    years = summarize(LOG, **KW, period="1mo", unit="1y", observation_end="2021-01-01")
    assert years["T"].to_list() == [12 / 12, 11 / 12]
    # quarter periods measured in months: Q1 only, so nobody repeats; T runs to Q3 2020 (6 months)
    q = summarize(LOG, **KW, period="1q", unit="1mo", observation_end="2020-08-31")
    assert q["frequency"].to_list() == [0, 0]
    assert q["T"].to_list() == [6.0, 6.0]
    assert q["monetary_value"].to_list() == [0.0, 0.0]
    # "3mo" and "1q" are the same period, and the unit defaults to the period
    assert_frame_equal(summarize(LOG, **KW, period="3mo"), summarize(LOG, **KW, period="1q"))
    y = summarize(LOG, **KW, period="1y", observation_end="2022-06-30")
    assert y["T"].to_list() == [2.0, 2.0]


def test_calibration_holdout_monthly() -> None:
    out = summarize(LOG, **KW, period="1mo", calibration_end="2020-02-10")
    # calibration: Jan and Feb (all of February, as with day periods the end's whole day counts)
    assert out["c"].to_list() == [1, 2]
    assert out["frequency"].to_list() == [1, 0]
    assert out["recency"].to_list() == [1.0, 0.0]
    assert out["T"].to_list() == [1.0, 0.0]
    assert out["monetary_value"].to_list() == [7.0, 0.0]
    assert out["frequency_holdout"].to_list() == [1, 0]
    assert out["monetary_value_holdout"].to_list() == [3.0, 0.0]
    assert out["duration_holdout"].to_list() == [1.0, 1.0]


def test_timezone_months_follow_local_wall_clock() -> None:
    # 2021-03-31 23:30 in Berlin is 21:30 UTC (March); 2021-04-01 00:30 Berlin is still
    # March 31 in UTC but April locally
    berlin = pl.Datetime("us", "Europe/Berlin")
    utc = [datetime(2021, 3, 31, 21, 30), datetime(2021, 3, 31, 22, 30)]
    df = pl.DataFrame(
        {"c": [1, 1], "t": pl.Series(utc).dt.replace_time_zone("UTC").cast(berlin), "a": [1.0, 2]}
    )
    out = summarize(df, **KW, period="1mo")
    assert out.row(0, named=True)["frequency"] == 1
    assert out.row(0, named=True)["recency"] == 1.0
    as_utc = df.with_columns(pl.col("t").dt.convert_time_zone("UTC"))
    assert summarize(as_utc, **KW, period="1mo")["frequency"].to_list() == [0]
    # a naive end is read in the column's zone, an aware one converted to it
    aware_end = datetime(2021, 3, 31, 22, 30, tzinfo=timezone.utc)  # April 1 in Berlin
    out = summarize(df, **KW, period="1mo", calibration_end="2021-03-31", observation_end=aware_end)
    assert out["frequency_holdout"].to_list() == [1]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"period": "1mo", "unit": "1d"},
            r"unit: '1d' is a fixed-length duration but period '1mo'",
        ),
        ({"period": "1q", "unit": "1w"}, r"months differ in length"),
        ({"period": "1d", "unit": "1mo"}, r"unit: '1mo' is a calendar unit but period '1d'"),
        ({"period": "1w", "unit": "1y"}, r"months differ in length"),
        ({"period": "1month"}, r"period: '1month' is not a duration.*'1mo', '3mo', '1q', '1y'"),
        ({"period": "0q"}, r"period: '0q' must be positive"),
    ],
)
def test_fixed_and_calendar_do_not_mix(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        summarize(LOG, **KW, **kwargs)


def test_nanosecond_columns_spanning_centuries_are_refused_clearly() -> None:
    df = pl.DataFrame(
        {"c": [1, 1], "t": [datetime(1800, 1, 1), datetime(2200, 1, 1)], "a": [1.0, 1.0]}
    ).with_columns(pl.col("t").cast(pl.Datetime("ns")))
    with pytest.raises(ValueError, match=r"column 't': calendar periods on Datetime.*'us'"):
        summarize(df, **KW, period="1mo")
    out = summarize(df.with_columns(pl.col("t").cast(pl.Datetime("us"))), **KW, period="1y")
    assert out["recency"].to_list() == [400.0]


# --- property test against the pure-Polars reference ----------------------------------------

# Month ends that are also DST changes in some zones (Europe: 2021-03-28 and 2021-10-31,
# Sydney: 2021-04-04 and 2021-10-03, New York: 2021-03-14 and 2021-11-07), leap-year February,
# and the Unix epoch (negative ticks and month numbers before it).
ANCHORS = [
    datetime(1969, 12, 31, 23, 0),
    datetime(1960, 2, 29, 12, 0),
    datetime(2020, 2, 29, 23, 0),
    datetime(2021, 3, 28, 1, 0),
    datetime(2021, 3, 31, 22, 0),
    datetime(2021, 10, 31, 1, 0),
    datetime(2021, 12, 31, 23, 0),
    datetime(2022, 1, 1, 0, 0),
    datetime(2021, 4, 3, 16, 0),
    datetime(2021, 11, 7, 6, 0),
]
ZONES = [None, "UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


@st.composite
def calendar_logs(draw):
    n = draw(st.integers(1, 40))
    keys = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    instants = draw(
        st.lists(
            st.tuples(st.sampled_from(ANCHORS), st.integers(-48 * 60, 48 * 60)),
            min_size=n,
            max_size=n,
        )
    )
    amounts = draw(st.lists(st.integers(-500, 5000).map(lambda c: c / 100), min_size=n, max_size=n))
    zone = draw(st.sampled_from([*ZONES, "date"]))
    time_unit = draw(st.sampled_from(["ns", "us", "ms"]))
    utc = pl.Series("t", [a + timedelta(minutes=m) for a, m in instants], pl.Datetime(time_unit))
    if zone == "date":
        t = utc.dt.date()
    elif zone is None:
        t = utc
    else:
        t = utc.dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
    return pl.DataFrame({"c": keys, "t": t, "a": amounts})


ENDS = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(ANCHORS), st.integers(-40, 40)).map(
        lambda x: (x[0] + timedelta(days=x[1])).date()
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    df=calendar_logs(),
    period_unit=st.sampled_from(
        [
            ("1mo", None),
            ("1mo", "1q"),
            ("1mo", "1y"),
            ("2mo", "1mo"),
            ("3mo", None),
            ("1q", "1mo"),
            ("5mo", "2mo"),
            ("1y", None),
            ("1y", "1mo"),
        ]
    ),
    end=ENDS,
    cal=ENDS,
)
def test_property_equals_reference(df, period_unit, end, cal) -> None:
    period, unit = period_unit
    kw = dict(**KW, period=period, unit=unit, observation_end=end, calibration_end=cal)
    try:
        ours = summarize(df, **kw)
    except ValueError as e:
        msg = str(e)
        event("refused")
        assert "no purchases on or before" in msg or "calibration_end must fall" in msg, msg
        if "no purchases" in msg:
            assert reference_summary(df, **kw).height == 0
        return
    ref = reference_summary(df, **kw)
    event("compared")
    assert_frame_equal(ours, ref, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


def test_large_random_log_equals_reference() -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    n = 200_000
    t = pl.Series("t", rng.integers(0, 3 * 365 * 86_400, n) * 1_000_000).cast(
        pl.Datetime("us")
    ) + timedelta(days=18_000)
    df = pl.DataFrame(
        {
            "c": rng.integers(0, 20_000, n),
            "t": t.dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York"),
            "a": np.round(rng.normal(20, 15, n), 2),
        }
    )
    for kw in ({"period": "1mo"}, {"period": "1mo", "unit": "1q", "calibration_end": "2020-06-15"}):
        assert_frame_equal(
            summarize(df, **KW, **kw), reference_summary(df, **KW, **kw), rel_tol=1e-12
        )


# --- CDNOW against lifetimes' monthly summary ------------------------------------------------

DATA = Path(__file__).parent.parent / "data"
# lifetimes' freq="M" divides day spans by np.timedelta64(1, "M"), the mean Gregorian month
AVG_MONTH_DAYS = 365.2425 / 12


@pytest.fixture(scope="module")
def master() -> pl.DataFrame:
    pdf = pd.read_csv(
        DATA / "CDNOW_master.txt",
        sep=r"\s+",
        names=["customer_id", "date", "cds", "dollars"],
        header=0,
        dtype={"customer_id": "int64"},
    )
    return pl.from_pandas(pdf).with_columns(pl.col("date").cast(pl.String).str.to_date("%Y%m%d"))


def _month_start_pandas(df: pl.DataFrame) -> pd.DataFrame:
    pdf = df.select("customer_id", "date", "dollars").to_pandas()
    pdf["date"] = pd.to_datetime(pdf["date"]).dt.to_period("M").dt.to_timestamp()
    return pdf


@pytest.mark.peer
def test_monthly_equals_lifetimes_on_cdnow(master: pl.DataFrame) -> None:
    """lifetimes' ``freq="M"`` buckets with pandas ``to_period("M")`` and measures recency/T as
    the day span between month starts divided by the mean month (30.44 days). On pandas >= 2 that
    division raises, so run lifetimes with ``freq="D"`` on pandas-computed month starts: the same
    buckets and day spans, frequency and monetary value exactly. The documented difference: we
    count whole calendar months (Jan 31 -> Mar 1 is 2), lifetimes gives 59/30.44 = 1.94."""
    import lifetimes.utils as lifetimes_utils

    theirs = lifetimes_utils.summary_data_from_transaction_data(
        _month_start_pandas(master), "customer_id", "date", monetary_value_col="dollars", freq="D"
    )
    theirs = pl.from_pandas(theirs.reset_index()).sort("customer_id")
    ours = summarize(master, customer="customer_id", time="date", amount="dollars", period="1mo")
    assert ours.height == theirs.height == 23570
    assert (ours["customer_id"] == theirs["customer_id"]).all()
    assert (ours["frequency"].cast(pl.Float64) == theirs["frequency"]).all()
    assert (ours["monetary_value"] - theirs["monetary_value"]).abs().max() < 1e-9
    for col in ("recency", "T"):
        avg_months = theirs[col] / AVG_MONTH_DAYS
        assert (ours[col] == avg_months.round(0)).all(), col
        assert (ours[col] - avg_months).abs().max() < 0.1, col
        assert (ours[col] != avg_months).any(), col  # the difference is real, not vacuous
    # both counts are non-trivial: CDNOW spans 18 months
    assert ours["T"].max() == 17.0 and ours["recency"].max() == 17.0


@pytest.mark.peer
def test_monthly_calibration_holdout_equals_lifetimes_on_cdnow(master: pl.DataFrame) -> None:
    import lifetimes.utils as lifetimes_utils

    # month totals first, so lifetimes' raw-row holdout mean equals our period-total mean
    monthly = _month_start_pandas(master).groupby(["customer_id", "date"], as_index=False).sum()
    theirs = lifetimes_utils.calibration_and_holdout_data(
        monthly,
        "customer_id",
        "date",
        calibration_period_end="1997-09-01",
        observation_period_end="1998-06-01",
        monetary_value_col="dollars",
        freq="D",
    )
    theirs = pl.from_pandas(theirs.reset_index()).sort("customer_id")
    ours = summarize(
        master,
        customer="customer_id",
        time="date",
        amount="dollars",
        period="1mo",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    assert (ours["customer_id"] == theirs["customer_id"]).all()
    for mine, their in [
        ("frequency", "frequency_cal"),
        ("monetary_value", "monetary_value_cal"),
        ("frequency_holdout", "frequency_holdout"),
        ("monetary_value_holdout", "monetary_value_holdout"),
    ]:
        assert (ours[mine].cast(pl.Float64) - theirs[their]).abs().max() < 1e-9, mine
    for mine, their in [
        ("recency", "recency_cal"),
        ("T", "T_cal"),
        ("duration_holdout", "duration_holdout"),
    ]:
        assert (ours[mine] == (theirs[their] / AVG_MONTH_DAYS).round(0)).all(), mine
    assert ours["duration_holdout"][0] == 9.0


# lifetimes' own freq="M" (pandas < 2 only) is compared in the legacy peer env:
# benches/legacy_peer_checks.py (README "Benchmarks").
