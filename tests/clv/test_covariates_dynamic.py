"""Time-varying covariates for the Pareto/NBD (truenorth.clv.covariates_dynamic): constant
covariates are the static-covariate model, zero coefficients the plain model, simulated
time-varying coefficients are recovered, and malformed tables are clear errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from truenorth import clv
from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates_dynamic import DynamicCovariateFit, fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic

END = datetime(2024, 1, 1) + timedelta(weeks=52)


@pytest.fixture(scope="module")
def vip_data():
    """Only the constant-over-time ``vip`` covariate has an effect."""
    return simulate_dynamic(
        1500, weeks=52, future_weeks=13, transaction={"vip": 0.8}, lifetime={"vip": -0.7}, seed=5
    )


@pytest.fixture(scope="module")
def vip_fit(vip_data):
    tr, cov = vip_data
    return fit_dynamic_covariates(
        tr, cov, transaction=["vip"], lifetime=["vip"], calibration_end=END
    )


def _static_frame(fit, tr, cov):
    summary = fit.predict(tr, cov, horizon=0)
    vip = cov.group_by("customer").agg(pl.col("vip").first())
    return summary.join(vip, on="customer", how="left", maintain_order="left")


def test_constant_covariates_reproduce_the_static_model(vip_data, vip_fit):
    tr, cov = vip_data
    frame = _static_frame(vip_fit, tr, cov)
    static = clv.ParetoNBD().fit(frame, transaction=["vip"], lifetime=["vip"])
    # same optimum of the same likelihood, reached by two optimisers to gtol 1e-9 on the mean
    # log-likelihood: LL to 1e-8 relative, estimates to 1e-4 relative
    assert vip_fit.converged and static.converged
    assert vip_fit.log_likelihood == pytest.approx(static.log_likelihood, rel=1e-8)
    for name, v in static.params.items():
        assert vip_fit.params[name] == pytest.approx(v, rel=1e-4), name
    got = vip_fit.coefficients()
    want = static.coefficients()
    assert got["coefficient"].to_list() == want["coefficient"].to_list()
    for a, b in zip(got.iter_rows(named=True), want.iter_rows(named=True), strict=True):
        assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-4, abs=1e-6)
        assert a["std_error"] == pytest.approx(b["std_error"], rel=1e-3)
    assert vip_fit.aic == pytest.approx(static.aic, rel=1e-8)
    assert vip_fit.bic == pytest.approx(static.bic, rel=1e-8)


def test_constant_covariates_reproduce_the_static_predictions(vip_data, vip_fit):
    tr, cov = vip_data
    pred = vip_fit.predict(tr, cov, horizon=13)
    frame = _static_frame(vip_fit, tr, cov)
    static = clv.ParetoNBD().fit(frame, transaction=["vip"], lifetime=["vip"])
    # evaluate the static model at the dynamic fit's estimates, so only the kernels differ
    doc = static.to_json()
    import json

    d = json.loads(doc)
    d["params"] = vip_fit.params
    d["covariates"]["coefficients"] = vip_fit.coefficient_values
    at = clv.load(json.dumps(d))
    pa = at.p_alive(frame).to_numpy()
    ex = at.expected_purchases(frame, 13).to_numpy()
    assert pred["p_alive"].to_numpy() == pytest.approx(pa, rel=1e-9, abs=1e-12)
    assert pred["expected_purchases"].to_numpy() == pytest.approx(ex, rel=1e-8, abs=1e-12)


def test_zero_coefficients_reproduce_the_plain_likelihood(vip_data, vip_fit):
    tr, cov = vip_data
    frame = _static_frame(vip_fit, tr, cov)
    plain = clv.ParetoNBD().fit(frame)
    zero = DynamicCovariateFit.from_json(vip_fit.to_json())
    zero.params = dict(plain.params)
    zero.coefficient_values = {k: 0.0 for k in zero.coefficient_values}
    assert zero.log_likelihood_at(tr, cov) == pytest.approx(plain.log_likelihood, rel=1e-10)


def test_time_varying_coefficients_are_recovered():
    truth = {"trans.promo": 0.7, "trans.season": 0.4, "life.promo": 0.5}
    base = {"r": 0.8, "alpha": 8.0, "s": 0.6, "beta": 20.0}
    tr, cov = simulate_dynamic(
        4000,
        weeks=52,
        params=base,
        transaction={"promo": 0.7, "season": 0.4},
        lifetime={"promo": 0.5},
        seed=11,
    )
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["promo", "season"], lifetime=["promo"], calibration_end=END
    )
    assert fit.converged
    se = fit.standard_errors
    assert se is not None
    # each estimate within 3 standard errors of the truth (fixed seed: a 3-SE band holds with
    # probability ~0.99 per estimate under correct ML; a wrong likelihood or a path off by a
    # period shifts the promo and season coefficients by many SEs)
    for name, v in {**base, **truth}.items():
        est = fit.params.get(name, fit.coefficient_values.get(name))
        assert abs(est - v) < 3 * se[name], (name, est, v, se[name])
    # the covariates matter: the fit beats the no-covariate likelihood clearly
    frame = fit.predict(tr, cov, horizon=0)
    assert fit.log_likelihood > clv.ParetoNBD().fit(frame).log_likelihood + 20


def test_persisted_model_predicts_the_same(tmp_path, vip_data, vip_fit):
    tr, cov = vip_data
    path = tmp_path / "m.json"
    vip_fit.to_json(path)
    back = DynamicCovariateFit.from_json(path)
    a = vip_fit.predict(tr, cov, horizon=4)
    b = back.predict(tr, cov, horizon=4)
    assert a.equals(b)
    assert back.coefficients().equals(vip_fit.coefficients())


def _small():
    return simulate_dynamic(40, weeks=12, future_weeks=2, seed=2)


def _err(match, tr, cov, **kw):
    kw.setdefault("transaction", ["promo"])
    with pytest.raises(ModelInputError, match=match):
        fit_dynamic_covariates(tr, cov, **kw)


def test_missing_customer_period_names_customer_and_period():
    tr, cov = _small()
    gap = cov.filter(~((pl.col("customer") == 7) & (pl.col("period") == datetime(2024, 3, 11))))
    end = datetime(2024, 1, 1) + timedelta(weeks=12)
    _err(r"customer 7 has no row for the period starting 2024-03-11", tr, gap, calibration_end=end)


def test_table_not_covering_the_calibration_window():
    tr, cov = _small()
    late = datetime(2024, 1, 1) + timedelta(weeks=15)
    _err(
        r"no row for the period starting 2024-04-08.*calibration end", tr, cov, calibration_end=late
    )


def test_null_covariate_names_column_and_row():
    tr, cov = _small()
    bad = cov.with_columns(
        pl.when(pl.int_range(pl.len()) == 9).then(None).otherwise(pl.col("promo")).alias("promo")
    )
    _err(r"column 'promo' is null at row 10", tr, bad)


def test_misaligned_and_duplicate_periods():
    tr, cov = _small()
    shifted = cov.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.col("period") + timedelta(days=2))
        .otherwise(pl.col("period"))
        .alias("period")
    )
    _err(r"'period' at row 4 .* is not a period start", tr, shifted)
    _err(r"row \d+ repeats customer 0", tr, pl.concat([cov, cov.head(1)]))


def test_customer_id_types_must_match():
    tr, cov = _small()
    _err(
        r"'customer' is String but the covariate table's is Int64",
        tr.with_columns(pl.col("customer").cast(pl.String)),
        cov,
    )


def test_unknown_column_and_no_covariates():
    tr, cov = _small()
    _err(r"no column 'spend'", tr, cov, transaction=["spend"])
    _err(r"at least one", tr, cov, transaction=[])
    _err(
        r"'vip' is a linear combination|constant",
        tr,
        cov.with_columns(pl.lit(1.0).alias("vip")),
        transaction=["vip"],
    )


def test_prediction_needs_the_future_periods():
    tr, cov = _small()
    end = datetime(2024, 1, 1) + timedelta(weeks=12)
    fit = fit_dynamic_covariates(tr, cov, transaction=["promo"], calibration_end=end)
    assert fit.predict(tr, cov, horizon=2).height == 40
    with pytest.raises(ModelInputError, match=r"predicting 3 periods after .* needs every period"):
        fit.predict(tr, cov, horizon=3)
    with pytest.raises(ModelInputError, match="horizon"):
        fit.predict(tr, cov, horizon=-1)


def test_expected_purchases_match_the_holdout():
    # purchases simulated through week 65, fitted on the first 52 weeks
    tr, cov = simulate_dynamic(3000, weeks=65, seed=21)
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["promo", "season"], lifetime=["promo"], calibration_end=END
    )
    pred = fit.predict(tr, cov, horizon=13)
    actual = tr.filter(pl.col("date") > END).group_by("customer").len()
    got = pred.join(actual, on="customer", how="left").with_columns(pl.col("len").fill_null(0))
    # the total over ~3,000 customers is a sum of overdispersed counts (sd ~ 4% here) plus
    # the estimation error: 10% tolerance; the plain model ignores the promotions and season
    # of the window and misses the total by more
    total = got["len"].sum()
    dyn = got["expected_purchases"].sum()
    assert dyn == pytest.approx(total, rel=0.10)
    plain = clv.ParetoNBD().fit(pred).expected_purchases(pred, 13).sum()
    assert abs(plain - total) > 2 * abs(dyn - total)
    corr = float(pl.select(pl.corr(got["expected_purchases"], got["len"])).item())
    assert corr > 0.5


@pytest.mark.parametrize(
    "name", ["truenorth.clv.covariates_dynamic", "truenorth.clv.covariates_dynamic_simulate"]
)
def test_docstring_examples(name):
    import doctest
    import importlib

    failures, tried = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert failures == 0 and tried > 0
