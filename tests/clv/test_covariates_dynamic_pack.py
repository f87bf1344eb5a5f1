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


def _direct(tr, cov, interval=None, band=None, **fit_options):
    """The rule's result by hand through the Python API: (fit, per-customer values)."""
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
        **fit_options,
    )
    summary = clv.summarize(
        tr, customer="customer", time="time", amount="amount", unit="1w", observation_end=END.date()
    )
    gg = clv.GammaGamma(time_unit="1w").fit(summary)
    spend = summary.select("customer", gg.expected_spend(summary).alias("spend"))
    if interval is None:
        value = dynamic_lifetime_value(fit, daily, cov, spend, horizon=6, discount_rate=0.02)
        return fit, value
    # with an interval the rule values spend with the model, so its error is in the bounds
    data = summary.select("customer", "frequency", "monetary_value")
    value = dynamic_lifetime_value(
        fit,
        daily,
        cov,
        gg,
        spend_data=data,
        horizon=6,
        discount_rate=0.02,
        interval=interval,
        **(band or {}),
    )
    return fit, value


@pytest.mark.parametrize(
    ("options", "fit_options"),
    [
        ({"constrain": ["promo"]}, {"constrain": ["promo"]}),
        (
            {"l2": {"transaction": 0.5, "lifetime": 2.0}},
            {"l2": {"transaction": 0.5, "lifetime": 2.0}},
        ),
    ],
    ids=["constrain", "l2"],
)
def test_constrain_and_l2_reach_the_fit(data, options, fit_options):
    tr, cov = data
    result = truenorth.Engine.load(pack({**COV, **options})).run(
        data={"transactions": tr, "weekly": cov}
    )
    run = result.rule("value")
    assert run.status == "ok", run.error
    out = result.tables["customers"]
    fit, direct = _direct(tr, cov, **fit_options)
    plain, _ = _direct(tr, cov)
    # the option changed the fit (so the comparison below is not the default fit's)
    assert set(fit.coefficient_values) != set(plain.coefficient_values) or any(
        abs(fit.coefficient_values[k] - plain.coefficient_values[k]) > 1e-4
        for k in fit.coefficient_values
    )
    coef = {n["step"]: n for n in run.explain}["covariate coefficients"]
    assert set(coef) - {"step"} == set(fit.coefficient_values)
    for name, value in fit.coefficient_values.items():
        assert coef[name]["estimate"] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    for col in ("p_alive", "expected_purchases", "clv"):
        assert out[col].to_list() == pytest.approx(direct[col].to_list(), rel=1e-9), col


def test_interval_gives_the_apis_delta_bounds_with_the_spend_models_error(data):
    tr, cov = data
    result = truenorth.Engine.load(pack(COV, interval=0.8)).run(
        data={"transactions": tr, "weekly": cov}
    )
    run = result.rule("value")
    assert run.status == "ok", run.error
    out = result.tables["customers"]
    fit, direct = _direct(tr, cov, interval=0.8)
    names = [
        f"{c}{end}" for c in ("p_alive", "expected_purchases") for end in ("", "_lower", "_upper")
    ]
    clv_cols = ["clv", "clv_lower", "clv_upper"]
    assert out.columns[-10:] == [*names, "expected_spend", *clv_cols]
    for col in names + clv_cols:
        assert out[col].to_list() == pytest.approx(direct[col].to_list(), rel=1e-9), col
    # P(alive) and expected-purchase bounds are predict's over the same window (6 months)
    weeks = 6 * 30.4375 / 7
    daily = tr.with_columns(pl.col("time").dt.truncate("1d"))
    pred = fit.predict(daily, cov, horizon=weeks, interval=0.8)
    for col in names:
        assert out[col].to_list() == pytest.approx(pred[col].to_list(), rel=1e-9), col
    for c in ("p_alive", "expected_purchases", "clv"):
        assert (out[f"{c}_lower"] <= out[c]).all() and (out[c] <= out[f"{c}_upper"]).all(), c
    assert (out["clv_upper"] > out["clv_lower"]).any()
    # the spend model's error widens the CLV bounds beyond the purchase model's alone
    _, fixed = _direct_fixed_spend(tr, cov, 0.8)
    assert (out["clv_upper"] - out["clv_lower"] > fixed["clv_upper"] - fixed["clv_lower"]).all()


def _direct_fixed_spend(tr, cov, interval):
    fit, _ = _direct(tr, cov)
    daily = tr.with_columns(pl.col("time").dt.truncate("1d"))
    summary = clv.summarize(
        tr, customer="customer", time="time", amount="amount", unit="1w", observation_end=END.date()
    )
    gg = clv.GammaGamma(time_unit="1w").fit(summary)
    spend = summary.select("customer", gg.expected_spend(summary).alias("spend"))
    return fit, dynamic_lifetime_value(
        fit, daily, cov, spend, horizon=6, discount_rate=0.02, interval=interval
    )


def test_interval_method_draws_and_seed_reach_the_bounds(data):
    tr, cov = data
    band = {"interval_method": "normal", "draws": 60, "seed": 4}
    result = truenorth.Engine.load(pack(COV, interval=0.8, **band)).run(
        data={"transactions": tr, "weekly": cov}
    )
    run = result.rule("value")
    assert run.status == "ok", run.error
    out = result.tables["customers"]
    _, direct = _direct(tr, cov, interval=0.8, band={"method": "normal", "draws": 60, "seed": 4})
    for col in ("p_alive_lower", "expected_purchases_upper", "clv_lower", "clv_upper"):
        assert out[col].to_list() == pytest.approx(direct[col].to_list(), rel=1e-9), col


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
        {
            **COV,
            "transaction": ["promo", "contacts"],
            "constrain": ["week"],
            "l2": {"transaction": 0.1, "life": 0.2},
        },
        model="bg_nbd",
        interval=0.9,
        interval_method="normal",
    )
    text = _load_errors(tmp_path, doc)
    # time-varying covariates take every interval method (static ones: delta only)
    assert "interval_method" not in text
    # the YAML is dumped block style: the value of a key sits after "key: "
    at = {
        "contacts": _where(tmp_path, "- contacts"),
        "model": _where(tmp_path, "model: bg_nbd"),
        "constrain": _where(tmp_path, "constrain:"),
        "life": _where(tmp_path, "life: 0.2"),
    }
    line, col = (int(v) for v in at["contacts"].rsplit(":", 2)[1:])
    assert f"{at['contacts'].rsplit(':', 2)[0]}:{line}:{col + 2}" in text
    assert "no column 'contacts' in table 'weekly'" in text
    assert "time-varying covariates are fitted with the Pareto/NBD, not 'bg_nbd'" in text
    assert "constrain names 'week', which is not in both processes" in text
    assert "l2 life: 0.2 is not a penalty of a process" in text
    for key in ("model", "life"):
        file, line, col = at[key].rsplit(":", 2)
        assert f"{file}:{line}:{int(col) + len(key) + 2}" in text, key
    # the constrain list is a block under its key: the error points at the list (next line)
    file, line, col = at["constrain"].rsplit(":", 2)
    assert f"{file}:{int(line) + 1}:{col}: rule 'value': covariates: constrain names" in text
    # interval, constrain and l2 themselves are accepted with time-varying covariates
    assert text.startswith("4 problems:"), text


def test_period_column_and_roles_are_checked(tmp_path):
    text = _load_errors(tmp_path, pack({**COV, "period_start": "weak"}))
    assert "no column 'weak' in table 'weekly'" in text
    doc = pack({**COV, "attributes": "attrs", "transaction": ["promo", "gold"]})
    doc["datasets"]["attrs"] = {"columns": {"customer": "customer", "promo": "promo"}}
    text = _load_errors(tmp_path, doc)
    file, line, col = _where(tmp_path, "- promo").rsplit(":", 2)
    # the list item's value, after its "- "
    assert (
        f"{file}:{line}:{int(col) + 2}: rule 'value': covariates: column 'promo' is in both "
        "'weekly' and 'attrs'" in text
    ), text
    file, line, col = _where(tmp_path, "- gold").rsplit(":", 2)
    assert (
        f"{file}:{line}:{int(col) + 2}: rule 'value': covariates: no column 'gold' in table "
        "'weekly' or 'attrs'" in text
    ), text
    text = _load_errors(tmp_path, pack({k: v for k, v in COV.items() if k != "dynamic"}))
    assert "name a dataset role, attributes or dynamic" in text
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


def _with_attributes(data):
    """The per-period data plus a static customer table (gold, a level, an unused column)."""
    tr, cov = data
    rng = np.random.default_rng(3)
    attrs = pl.DataFrame(
        {
            "customer": np.arange(400),
            "gold": rng.integers(0, 2, 400).astype(float),
            "tier": rng.choice(["a", "b", "c"], 400),
            "unused": np.ones(400),
        }
    )
    doc = pack(
        {**COV, "attributes": "attrs", "transaction": ["promo", "gold"], "lifetime": ["tier"]}
    )
    doc["datasets"]["attrs"] = {
        "columns": {"customer": "customer", "gold": "gold", "tier": "tier", "unused": "unused"}
    }
    return tr, cov, attrs, doc


def test_static_attributes_are_broadcast_onto_every_period(data):
    tr, cov, attrs, doc = _with_attributes(data)
    result = truenorth.Engine.load(doc).run(
        data={"transactions": tr, "weekly": cov, "attrs": attrs}
    )
    run = result.rule("value")
    assert run.status == "ok", run.error
    out = result.tables["customers"]
    # by hand: every period row of a customer gets the customer's attributes
    by_hand = cov.join(attrs.select("customer", "gold", "tier"), on="customer", how="left")
    daily = tr.with_columns(pl.col("time").dt.truncate("1d"))
    fit = fit_dynamic_covariates(
        daily,
        by_hand,
        transaction=["promo", "gold"],
        lifetime=["tier"],
        calibration_end=END,
        customer="customer",
        date="time",
        period="week",
    )
    assert len(fit.coefficient_values) == 4  # promo, gold, and tier's two non-reference levels
    coef = {n["step"]: n for n in run.explain}["covariate coefficients"]
    for name, value in fit.coefficient_values.items():
        assert coef[name]["estimate"] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    summary = clv.summarize(
        tr, customer="customer", time="time", amount="amount", unit="1w", observation_end=END.date()
    )
    gg = clv.GammaGamma(time_unit="1w").fit(summary)
    spend = summary.select("customer", gg.expected_spend(summary).alias("spend"))
    direct = dynamic_lifetime_value(fit, daily, by_hand, spend, horizon=6, discount_rate=0.02)
    for col in ("p_alive", "expected_purchases", "clv"):
        assert out[col].to_list() == pytest.approx(direct[col].to_list(), rel=1e-9), col


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda a: a.filter(pl.col("customer") != 11),
            r"table 'attrs': no row for customer 11 \(1 customer\(s\) of 'weekly' without one\)",
        ),
        (
            lambda a: pl.concat([a, a.head(1)]),
            r"table 'attrs': customer 0 has more than one row",
        ),
        (
            lambda a: a.with_columns(promo=pl.lit(1.0)),
            r"tables 'weekly' and 'attrs' both have column\(s\) promo",
        ),
    ],
    ids=["missing-customer", "repeated-customer", "undeclared-clash"],
)
def test_bad_attributes_with_periods_are_data_errors(data, damage, message):
    tr, cov, attrs, doc = _with_attributes(data)
    result = truenorth.Engine.load(doc).run(
        data={"transactions": tr, "weekly": cov, "attrs": damage(attrs)}
    )
    run = result.rule("value")
    assert run.data_error, run.status
    assert run.error is not None and re.search(message, run.error), run.error
