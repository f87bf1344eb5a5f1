"""CLV intervals of the time-varying-covariate Pareto/NBD with a Gamma-Gamma spend model
(truenorth.clv._dyn_spend): the spend model's estimation error joins the purchase model's as
an independent block. Checks: the spend covariance zeroed gives the fixed-spend bounds; the
purchase covariance zeroed leaves the spend's alone, which are checked against a delta method
by finite differences of GammaGamma.expected_spend (delta) and against a numpy simulation of
the spend parameters (draws); with both, the delta method's log-scale variances add."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from truenorth import clv
from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic
from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value

END = datetime(2024, 1, 1) + timedelta(weeks=26)
PARAMS = {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 10.0}
KW = {"horizon": 6, "horizon_unit": "month", "discount_rate": 0.01}
Z90 = NormalDist().inv_cdf(0.95)


@pytest.fixture(scope="module")
def case():
    tr, cov = simulate_dynamic(
        500,
        weeks=26,
        future_weeks=30,
        params=PARAMS,
        transaction={"promo": 0.7},
        lifetime={"promo": 0.5},
        seed=1,
    )
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["promo"], lifetime=["promo"], calibration_end=END
    )
    x = fit.predict(tr, cov, horizon=0).select("customer", "frequency")
    m = clv.simulate_gamma_gamma(x["frequency"], p=6.25, q=3.74, v=15.44, seed=4)
    data = x.with_columns(monetary_value=m)
    gg = clv.GammaGamma().fit(data)
    spend = data.select("customer", gg.expected_spend(data).alias("spend"))
    return tr, cov, fit, gg, data, spend


def _with_cov(model, cov):
    """A copy of a fitted model (the purchase fit or the spend model) with another
    covariance."""
    if dataclasses.is_dataclass(model):
        return dataclasses.replace(model, covariance=cov)
    out = clv.load(model.to_json())
    out.covariance = cov
    return out


def _bounds(frame, name="clv"):
    return frame[f"{name}_lower"].to_numpy(), frame[f"{name}_upper"].to_numpy()


def test_the_spend_estimate_is_the_models_expected_spend(case):
    tr, cov, fit, gg, data, spend = case
    with_model = dynamic_lifetime_value(fit, tr, cov, gg, spend_data=data, **KW)
    fixed = dynamic_lifetime_value(fit, tr, cov, spend, **KW)
    assert with_model.equals(fixed)


def test_spend_covariance_zeroed_gives_the_fixed_spend_bounds(case):
    tr, cov, fit, gg, data, spend = case
    zero = _with_cov(gg, [[0.0] * 3 for _ in range(3)])
    got = dynamic_lifetime_value(fit, tr, cov, zero, spend_data=data, **KW, interval=0.9)
    want = dynamic_lifetime_value(fit, tr, cov, spend, **KW, interval=0.9)
    for a, b in zip(_bounds(got), _bounds(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # draws need a positive definite covariance: a vanishing one pins the spend draws
    tiny = _with_cov(gg, (np.asarray(gg.covariance) * 1e-24).tolist())
    got = dynamic_lifetime_value(
        fit, tr, cov, tiny, spend_data=data, **KW, interval=0.9, method="normal", draws=50
    )
    want = dynamic_lifetime_value(
        fit, tr, cov, spend, **KW, interval=0.9, method="normal", draws=50
    )
    for a, b in zip(_bounds(got), _bounds(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)


def _spend_log_sd(gg, data):
    """sd of ln E[spend] per customer by central differences of GammaGamma.expected_spend in
    the log-parameters (independent of the analytic gradient the code uses)."""
    theta = np.asarray(gg._p(), dtype=float)
    sigma = np.asarray(gg.covariance) / np.outer(theta, theta)
    h = 1e-5
    grads = []
    for j in range(3):
        vals = []
        for sign in (1, -1):
            t = theta.copy()
            t[j] *= math.exp(sign * h)
            model = clv.GammaGamma.from_params(dict(zip(("p", "q", "v"), t, strict=True)))
            vals.append(np.log(model.expected_spend(data).to_numpy()))
        grads.append((vals[0] - vals[1]) / (2 * h))
    g = np.stack(grads)
    return np.sqrt(np.einsum("ir,ij,jr->r", g, sigma, g))


def test_spend_only_delta_bounds_match_a_hand_computed_delta_method(case):
    tr, cov, fit, gg, data, _ = case
    k = 4 + len(fit.coefficient_values)
    fixed = _with_cov(fit, [[0.0] * k for _ in range(k)])
    got = dynamic_lifetime_value(fixed, tr, cov, gg, spend_data=data, **KW, interval=0.9)
    sd = _spend_log_sd(gg, data)
    clv_ = got["clv"].to_numpy()
    np.testing.assert_allclose(got["clv_lower"], clv_ * np.exp(-Z90 * sd), rtol=1e-6)
    np.testing.assert_allclose(got["clv_upper"], clv_ * np.exp(Z90 * sd), rtol=1e-6)
    # the purchase bounds collapse onto the point values
    np.testing.assert_allclose(got["expected_purchases_lower"], got["expected_purchases"])


def test_spend_only_draw_bounds_match_a_simulation_of_the_spend_parameters(case):
    tr, cov, fit, gg, data, _ = case
    k = 4 + len(fit.coefficient_values)
    fixed = _with_cov(fit, [[0.0] * k for _ in range(k)])
    draws = 4000
    got = dynamic_lifetime_value(
        fixed, tr, cov, gg, spend_data=data, **KW, interval=0.9, method="normal", draws=draws
    )
    # numpy's own draws of ln(p, q, v) from the spend fit's asymptotic normal
    theta = np.asarray(gg._p(), dtype=float)
    sigma = np.asarray(gg.covariance) / np.outer(theta, theta)
    rng = np.random.default_rng(7)
    pqv = np.exp(rng.multivariate_normal(np.log(theta), sigma, size=draws))
    x = data["frequency"].to_numpy()[None, :]
    m = data["monetary_value"].to_numpy()[None, :]
    p, q, v = pqv[:, :1], pqv[:, 1:2], pqv[:, 2:3]
    spend = p * (v + x * m) / (p * x + q - 1)
    ratio = got["clv"].to_numpy() / gg.expected_spend(data).to_numpy()
    lo, hi = np.quantile(spend, [0.05, 0.95], axis=0) * ratio
    # two independent sets of 4000 draws: the 5% and 95% quantiles agree to ~2% (Monte Carlo
    # error of a tail quantile at n = 4000, relative sd ~0.5-1% per set here)
    np.testing.assert_allclose(got["clv_lower"], lo, rtol=0.03)
    np.testing.assert_allclose(got["clv_upper"], hi, rtol=0.03)


def test_delta_variances_of_both_models_add_on_the_log_scale(case):
    tr, cov, fit, gg, data, spend = case
    both = dynamic_lifetime_value(fit, tr, cov, gg, spend_data=data, **KW, interval=0.9)
    purchase = dynamic_lifetime_value(fit, tr, cov, spend, **KW, interval=0.9)
    sd_p = np.log(purchase["clv_upper"].to_numpy() / purchase["clv"].to_numpy()) / Z90
    sd_s = _spend_log_sd(gg, data)
    want = both["clv"].to_numpy() * np.exp(Z90 * np.sqrt(sd_p**2 + sd_s**2))
    np.testing.assert_allclose(both["clv_upper"], want, rtol=1e-6)
    assert (both["clv_upper"] > purchase["clv_upper"]).all()
    assert (both["clv_lower"] < purchase["clv_lower"]).all()


def test_draws_with_spend_widen_the_bounds_as_the_delta_method_does(case):
    tr, cov, fit, gg, data, spend = case
    ratio = {}
    for method in ("delta", "normal"):
        # one seed: the purchase draws are the same with and without the spend model
        kw = {**KW, "horizon": 3, "interval": 0.9, "method": method, "draws": 200, "seed": 3}
        both = dynamic_lifetime_value(fit, tr, cov, gg, spend_data=data, **kw)
        purchase = dynamic_lifetime_value(fit, tr, cov, spend, **kw)
        width = both["clv_upper"] - both["clv_lower"]
        ratio[method] = (width / (purchase["clv_upper"] - purchase["clv_lower"])).mean()
        # the purchase bounds do not depend on the spend model
        assert both["expected_purchases_upper"].equals(purchase["expected_purchases_upper"])
    # the spend adds ~4% here (delta: 1.045); the draws' mean ratio carries the Monte Carlo
    # noise of 200 draws' tail quantiles (a few % per customer, averaged over 500)
    assert ratio["delta"] > 1.02
    assert ratio["normal"] == pytest.approx(ratio["delta"], abs=0.03)


def test_spend_model_needs_its_data(case):
    tr, cov, fit, gg, data, spend = case
    with pytest.raises(ModelInputError, match="spend_data"):
        dynamic_lifetime_value(fit, tr, cov, gg, **KW)
    with pytest.raises(ModelInputError, match="no column\\(s\\) 'monetary_value'"):
        dynamic_lifetime_value(fit, tr, cov, gg, spend_data=data.drop("monetary_value"), **KW)
    with pytest.raises(ModelInputError, match="no 'frequency' value for customer 0"):
        dynamic_lifetime_value(fit, tr, cov, gg, spend_data=data.filter(pl.col("customer") > 0))
    with pytest.raises(ModelInputError, match="spend_data is read only with a spend model"):
        dynamic_lifetime_value(fit, tr, cov, spend, spend_data=data, **KW)
