"""Time-varying covariates in the ``clv`` rule (``covariates: {dynamic: <role>}``): load-time
errors with their file:line:column, the run against the direct API, and bad per-period data
as the rule's data error."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

import truenorth
from truenorth import clv
from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic
from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value

END = datetime(2024, 1, 1) + timedelta(weeks=52)


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Purchases (datetimes, several per day possible) with amounts, and 60 future weeks."""
    tr, cov = simulate_dynamic(400, weeks=52, future_weeks=60, seed=2)
    rng = np.random.default_rng(1)
    # each customer's own mean spend (Gamma-Gamma's story), so the spend model is identified
    mean = rng.gamma(6.0, 4.0, 400)
    tr = tr.with_columns(
        pl.Series("amount", rng.gamma(4.0, 1.0, tr.height) * mean[tr["customer"]] / 4.0)
    )
    return tr.rename({"date": "time"}), cov.rename({"period": "week"})


def pack(covariates: dict, **extra) -> dict:
    return {
        "truenorth": 1,
        "pack": "dyn",
        "datasets": {
            "transactions": {
                "columns": {"customer": "customer", "time": "time", "amount": "amount"}
            },
            "weekly": {
                "columns": {"customer": "customer", "week": "week", "promo": "promo"},
            },
        },
        "rules": [
            {
                "id": "value",
                "kind": "clv",
                "with": {
                    "model": "pareto_nbd",
                    "unit": "1w",
                    "horizon": 6,
                    "discount_rate": 0.02,
                    "observation_end": END.date().isoformat(),
                    "covariates": covariates,
                    **extra,
                },
            }
        ],
    }


COV = {
    "dynamic": "weekly",
    "period_start": "week",
    "transaction": ["promo"],
    "lifetime": ["promo"],
}


def test_rule_matches_the_direct_api(data):
    tr, cov = data
    result = truenorth.Engine.load(pack(COV)).run(data={"transactions": tr, "weekly": cov})
    run = result.rule("value")
    assert run.status == "ok", run.error
    out = result.tables["customers"]
    # the rule counts purchases once per day (period: 1d), as its summary does
    daily = tr.with_columns(pl.col("time").dt.truncate("1d"))
    fit = fit_dynamic_covariates(
        daily,
        cov,
        transaction=["promo"],
        lifetime=["promo"],
        calibration_end=END,
        customer="customer",
        date="time",
        period="week",
    )
    summary = clv.summarize(
        tr, customer="customer", time="time", amount="amount", unit="1w", observation_end=END.date()
    )
    gg = clv.GammaGamma(time_unit="1w").fit(summary)
    spend = summary.select("customer", gg.expected_spend(summary).alias("spend"))
    direct = dynamic_lifetime_value(fit, daily, cov, spend, horizon=6, discount_rate=0.02)
    assert out["customer"].to_list() == direct["customer"].to_list()
    for col in ("p_alive", "expected_purchases", "clv"):
        assert out[col].to_list() == pytest.approx(direct[col].to_list(), rel=1e-9), col
    # the summary's columns are the rule's usual ones (x counted per day, T in weeks)
    assert out["frequency"].to_list() == summary.sort("customer")["frequency"].to_list()
    assert out.columns[-4:] == ["p_alive", "expected_purchases", "expected_spend", "clv"]
    notes = {n["step"]: n for n in run.explain}
    coef = notes["covariate coefficients"]
    assert coef["trans.promo"]["estimate"] == pytest.approx(
        fit.coefficient_values["trans.promo"], rel=1e-9
    )
    assert notes["purchase model"]["covariates"] == "time-varying"
    assert notes["purchase model"]["log_likelihood"] == pytest.approx(fit.log_likelihood)


def _load_errors(tmp_path: Path, doc: dict) -> str:
    path = tmp_path / "dyn.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(truenorth.PackError) as err:
        truenorth.Engine.load(path)
    return str(err.value)


def _where(tmp_path: Path, needle: str) -> str:
    """file:line:column of the first line containing ``needle`` (its first non-blank)."""
    lines = (tmp_path / "dyn.yaml").read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if needle in line)
    col = lines[i].index(needle) + 1
    return f"{tmp_path / 'dyn.yaml'}:{i + 1}:{col}"


def test_load_time_errors_name_the_option_and_its_location(tmp_path):
    doc = pack(
        {**COV, "transaction": ["promo", "contacts"], "constrain": ["promo"]},
        model="bg_nbd",
        interval=0.9,
    )
    text = _load_errors(tmp_path, doc)
    # the YAML is dumped block style: the value of a key sits after "key: "
    at = {
        "contacts": _where(tmp_path, "- contacts"),
        "model": _where(tmp_path, "model: bg_nbd"),
        "interval": _where(tmp_path, "interval: 0.9"),
        "constrain": _where(tmp_path, "constrain:"),
    }
    line, col = (int(v) for v in at["contacts"].rsplit(":", 2)[1:])
    assert f"{at['contacts'].rsplit(':', 2)[0]}:{line}:{col + 2}" in text
    assert "no column 'contacts' in table 'weekly'" in text
    assert "time-varying covariates are fitted with the Pareto/NBD, not 'bg_nbd'" in text
    assert "prediction intervals are not available with time-varying covariates" in text
    assert "constrain is not available with time-varying covariates" in text
    for key in ("model", "interval"):
        file, line, col = at[key].rsplit(":", 2)
        assert f"{file}:{line}:{int(col) + len(key) + 2}" in text, key


def test_period_column_and_roles_are_checked(tmp_path):
    text = _load_errors(tmp_path, pack({**COV, "period_start": "weak"}))
    assert "no column 'weak' in table 'weekly'" in text
    text = _load_errors(tmp_path, pack({**COV, "attributes": "weekly"}))
    assert "name one dataset role, attributes or dynamic" in text
    static = {"attributes": "weekly", "transaction": ["promo"], "period_days": 7}
    text = _load_errors(tmp_path, pack(static))
    assert "period_days is an option of time-varying covariates" in text


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda c: c.filter(~((pl.col("customer") == 7) & (pl.col("week") == END))),
            r"table 'weekly': covariates: customer 7 has no row for the period starting "
            r"2024-12-30 .*predicting 26.0893 periods",
        ),
        (
            lambda c: c.filter(~((pl.col("customer") == 3) & (pl.col("week") < END))),
            r"table 'weekly': covariates: customer 3 has no row .* from a customer's first "
            r"purchase to the calibration end",
        ),
        (
            lambda c: c.with_columns(
                promo=pl.when(pl.int_range(pl.len()) == 41).then(None).otherwise("promo")
            ),
            r"table 'weekly': covariates: column 'promo' is null at row 42",
        ),
        (
            lambda c: c.filter(pl.col("week") < END + timedelta(weeks=10)),
            r"no row for the period starting 2025-03-10",
        ),
    ],
    ids=["missing-future-period", "missing-past-periods", "null", "window-not-covered"],
)
def test_bad_per_period_data_is_the_rules_data_error(data, damage, message):
    tr, cov = data
    result = truenorth.Engine.load(pack(COV)).run(data={"transactions": tr, "weekly": damage(cov)})
    run = result.rule("value")
    assert run.data_error, run.status
    assert run.error is not None
    assert re.search(message, run.error), run.error
    assert "Traceback" not in run.error
