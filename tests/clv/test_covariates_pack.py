"""The ``covariates`` option of the ``clv`` rule: load-time checks against the attribute
dataset's declared columns, the run against the direct API, and data errors."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

import truenorth
from truenorth import clv


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Transactions of 400 customers from a covariate Pareto/NBD, and their attributes."""
    rng = np.random.default_rng(4)
    n = 400
    attrs = pl.DataFrame(
        {"customer": [f"c{i}" for i in range(n)], "plan": rng.choice(["basic", "pro"], n)}
    )
    sim = clv.simulate_with_covariates(
        "pareto_nbd",
        attrs,
        {"r": 0.9, "alpha": 20.0, "s": 0.8, "beta": 60.0},
        {"trans.plan[pro]": 0.8},
        transaction=["plan"],
        T=300,
        seed=1,
    )
    rows = []
    start = date(2024, 1, 1)
    for cid, x, rec in sim.select("customer", "frequency", "recency").iter_rows():
        rows.append((cid, start, 10.0))
        # x repeat purchases on distinct days up to the recency (the last at the recency)
        days = sorted(set(rng.integers(1, max(int(rec), 2), int(x)).tolist()) | {int(rec)})
        for d in days[-int(x) :] if x else []:
            rows.append((cid, start + timedelta(days=d), 20.0))
    tx = pl.DataFrame(rows, schema=["customer", "time", "amount"], orient="row")
    return tx, attrs


def pack(covariates: dict, **extra) -> dict:
    return {
        "truenorth": 1,
        "pack": "cov",
        "datasets": {
            "transactions": {
                "columns": {"customer": "customer", "time": "time", "amount": "amount"}
            },
            "attributes": {"columns": {"customer": "customer", "plan": "plan"}},
        },
        "rules": [
            {
                "id": "value",
                "kind": "clv",
                "with": {
                    "model": "pareto_nbd",
                    "spend": None,
                    "unit": "1d",
                    "observation_end": "2024-10-27",
                    "covariates": covariates,
                    **extra,
                },
            }
        ],
    }


def test_rule_fits_the_covariate_model_and_scores_each_profile(data):
    tx, attrs = data
    result = truenorth.Engine.load(
        pack({"attributes": "attributes", "transaction": ["plan"], "lifetime": ["plan"]})
    ).run(data={"transactions": tx, "attributes": attrs})
    out = result.tables["customers"].sort("customer")
    summary = clv.summarize(
        tx,
        customer="customer",
        time="time",
        amount="amount",
        unit="1d",
        observation_end="2024-10-27",
    )
    direct = clv.ParetoNBD(time_unit="1d").fit(
        summary, covariates=attrs, transaction=["plan"], lifetime=["plan"]
    )
    joined = clv.with_covariates(summary, attrs).sort("customer")
    assert out["p_alive"].to_list() == pytest.approx(direct.p_alive(joined).to_list(), rel=1e-9)
    assert "plan" not in out.columns  # the output keeps the summary's columns
    notes = next(n for n in result.rule("value").explain if n["step"] == "covariate coefficients")
    assert set(notes) == {"step", "trans.plan[pro]", "life.plan[pro]"}
    assert notes["trans.plan[pro]"]["estimate"] == pytest.approx(0.8, abs=0.35)


def test_undeclared_columns_are_pack_errors_with_locations():
    with pytest.raises(truenorth.PackError) as err:
        truenorth.Engine.load(
            pack(
                {"attributes": "attributes", "transaction": ["plan", "region"]},
                interval=0.9,
                interval_method="bootstrap",
            )
        )
    text = str(err.value)
    assert "no column 'region' in table 'attributes'" in text
    assert "prediction intervals with covariates use the delta method only" in text
    with pytest.raises(truenorth.PackError, match="constrain names 'plan'"):
        truenorth.Engine.load(
            pack({"attributes": "attributes", "transaction": ["plan"], "constrain": ["plan"]})
        )


def test_customer_without_attributes_is_a_data_error(data):
    tx, attrs = data
    engine = truenorth.Engine.load(pack({"attributes": "attributes", "transaction": ["plan"]}))
    result = engine.run(
        data={"transactions": tx, "attributes": attrs.filter(pl.col("customer") != "c7")}
    )
    run = result.rule("value")
    assert run.data_error
    assert "customer 'c7'" in (run.error or "") and "has no row" in (run.error or "")


def test_rule_intervals_with_covariates_are_the_api_delta_intervals(data):
    tx, attrs = data
    cov = {"attributes": "attributes", "transaction": ["plan"], "lifetime": ["plan"]}
    result = truenorth.Engine.load(pack(cov, interval=0.9)).run(
        data={"transactions": tx, "attributes": attrs}
    )
    out = result.tables["customers"].sort("customer")
    summary = clv.summarize(
        tx,
        customer="customer",
        time="time",
        amount="amount",
        unit="1d",
        observation_end="2024-10-27",
    )
    direct = clv.ParetoNBD(time_unit="1d").fit(
        summary, covariates=attrs, transaction=["plan"], lifetime=["plan"]
    )
    band = direct.p_alive(clv.with_covariates(summary, attrs).sort("customer"), interval=0.9)
    for col in ("p_alive_lower", "p_alive_upper"):
        assert out[col].to_list() == pytest.approx(band[col].to_list(), rel=1e-9)
    assert (out["p_alive_lower"] <= out["p_alive"]).all()
    assert (out["p_alive_lower"] < out["p_alive_upper"]).any()
