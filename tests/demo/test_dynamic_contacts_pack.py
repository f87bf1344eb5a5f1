"""The weekly contact table and the bundled time-varying covariate pack (clv-dynamic.yaml): the
table covers what the pack needs, and the pack's run equals the direct API on the same files."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth import clv
from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value

PACKS = Path(truenorth.__file__).parent / "packs"
DATA = PACKS / "data"


@pytest.fixture(scope="module")
def contacts() -> pl.DataFrame:
    return pl.read_csv(DATA / "weekly_contacts.csv", try_parse_dates=True)


def test_one_row_per_customer_and_monday(contacts):
    weeks = pl.date_range(date(1996, 12, 30), date(1998, 12, 28), "1w", eager=True)
    assert contacts["week"].dtype == pl.Date
    assert (contacts["week"].dt.weekday() == 1).all()
    assert contacts.select(pl.struct("customer_id", "week").is_unique().all()).item()
    assert contacts.height == 400 * weeks.len()
    assert set(contacts["customer_id"]) == set(range(1, 401))
    assert contacts["contacts"].min() == 0 and contacts["contacts"].max() <= 3

    # the five holiday-campaign weeks carry ~0.9 more contacts than five weeks of October (both
    # windows start on a newsletter week)
    def mean(first: date) -> float:
        last = first + timedelta(weeks=5)
        window = contacts.filter((pl.col("week") >= first) & (pl.col("week") < last))
        return float(window["contacts"].mean())

    assert mean(date(1997, 11, 17)) - mean(date(1997, 10, 6)) == pytest.approx(0.9, abs=0.1)


@pytest.fixture(scope="module")
def run() -> truenorth.RunResult:
    return truenorth.Engine.load(PACKS / "clv-dynamic.yaml").run()


def test_bundled_pack_equals_the_direct_api(run, contacts):
    rule = run.rule("value-with-contacts")
    assert rule.status == "ok", rule.error
    out = run.tables["customers_with_contacts"]
    assert out.height == 400
    tx = pl.read_csv(DATA / "transactions.csv", try_parse_dates=True).filter(
        (pl.col("amount") > 0) & (pl.col("customer_id") <= 400)
    )
    end = datetime(1998, 6, 30)
    fit = fit_dynamic_covariates(
        tx,
        contacts,
        transaction=["contacts"],
        lifetime=["contacts"],
        calibration_end=end,
        customer="customer_id",
        date="date",
        period="week",
    )
    summary = clv.summarize(
        tx, customer="customer_id", time="date", amount="amount", unit="1w", observation_end=end
    )
    gg = clv.GammaGamma(time_unit="1w").fit(summary)
    spend = summary.select("customer_id", gg.expected_spend(summary))
    direct = dynamic_lifetime_value(fit, tx, contacts, spend, horizon=6, discount_rate=0.01)
    assert out["customer"].to_list() == direct["customer_id"].to_list()
    for col in ("p_alive", "expected_purchases", "clv"):
        assert out[col].to_list() == pytest.approx(direct[col].to_list(), rel=1e-9), col
    assert (out["clv"] > 0).all() and out["clv"].is_finite().all()
    coef = next(n for n in rule.explain if n["step"] == "covariate coefficients")
    assert coef["trans.contacts"]["estimate"] == pytest.approx(
        fit.coefficient_values["trans.contacts"], rel=1e-9
    )


def test_the_plan_is_what_the_horizon_reads(contacts, tmp_path):
    """Without the planned weeks the six-month CLV cannot be computed: a data error naming the
    first missing week."""
    past = contacts.filter(pl.col("week") <= date(1998, 6, 29))
    engine = truenorth.Engine.load(PACKS / "clv-dynamic.yaml")
    result = engine.run(data={"weekly_contacts": past})
    rule = result.rule("value-with-contacts")
    assert rule.data_error
    first_missing = date(1998, 6, 29) + timedelta(weeks=1)
    assert f"no row for the period starting {first_missing} 00:00:00 ('week')" in (rule.error or "")
