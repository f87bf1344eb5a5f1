"""The clv rule kind with calendar periods (``period: 1mo``): the summary counts whole months,
the model's time unit is the month, and a horizon in months is exactly that many units."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import truenorth
import truenorth.clv as clv
from truenorth.errors import PackError

DATA = Path(truenorth.__file__).parent / "packs" / "data" / "transactions.csv"


def _pack(**with_: object) -> dict:
    return {
        "truenorth": 1,
        "pack": "monthly",
        "datasets": {
            "transactions": {
                "columns": {"customer": "customer_id", "time": "date", "amount": "amount"}
            },
        },
        "rules": [{"id": "value", "kind": "clv", "with": {"horizon": "12 months", **with_}}],
    }


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    return pl.read_csv(DATA, try_parse_dates=True)


def test_monthly_periods_in_a_pack_match_the_api(log):
    result = truenorth.Engine.load(_pack(period="1mo")).run(data={"transactions": log})
    assert not result.errors, result.errors
    got = result.tables["customers"].sort("customer")
    # the same computation through the public API, step by step
    summary = clv.summarize(
        log.rename({"customer_id": "customer", "date": "time"}),
        customer="customer",
        time="time",
        amount="amount",
        period="1mo",
    )
    bgf = clv.BetaGeo(time_unit="1mo").fit(summary)
    ggf = clv.GammaGamma(time_unit="1mo").fit(summary.filter(pl.col("monetary_value") > 0))
    expected = clv.lifetime_value(bgf, ggf, summary, horizon=12, horizon_unit="month")
    assert got["T"].to_list() == summary["T"].to_list()
    assert got["T"].max() == 17.0  # first purchases in Jan 1997, observation ends June 1998
    assert (got["T"] == got["T"].round()).all()  # whole months
    assert got["clv"].to_list() == pytest.approx(expected.to_list(), rel=1e-9)
    # 12 months ahead is 12 monthly units: expected purchases equal the model's at t=12
    assert got["expected_purchases"].to_list() == pytest.approx(
        bgf.expected_purchases(summary, 12.0).to_list(), rel=1e-12
    )


def test_a_calendar_period_with_a_fixed_unit_is_a_load_time_error():
    with pytest.raises(PackError, match=r"a calendar period \(mo, q, y\) needs a calendar unit"):
        truenorth.Engine.load(_pack(period="1mo", unit="1w"))
    with pytest.raises(PackError, match=r"a calendar period"):
        truenorth.Engine.load(_pack(period="1d", unit="1mo"))
