"""Draws intervals of the time-varying-covariate Pareto/NBD (``method="normal"`` and
``"bootstrap"``, truenorth.clv._dyn_draws), and the coverage of its intervals.

Coverage: as ``test_interval_coverage.py`` for the static models. Three reference customers
with fixed histories and covariate paths (customers 0, 1, 2 of one simulated sample: an
early buyer who looks gone, P(alive) 0.03; a heavy buyer, x = 16; a moderate one, x = 2) have
a true expected holdout purchases E[X(T, T+13] | history, path; θ) at the true parameters.
Each of R replicates simulates a fresh population of N customers from θ (seed 1000 + i),
fits the model (started at θ: the optimum does not depend on the start, the fit only gets
there sooner) and asks for the nominal 90% interval of that expectation (delta, and 200
normal draws with seed i); the test counts how often each covers the truth.

Tolerance: an exact method's hit count is Binomial(R, 0.9), sd = √(0.9·0.1/R) = 0.027 at
R = 120; the band [0.9 − 3·sd − 0.04, 0.9 + 3·sd] = [0.78, 0.98] is the static models' (3 sd
either side, plus 0.04 below for the finite-sample under-coverage of asymptotic intervals at
small N). A method 1.5× too narrow covers ≈ 0.73 and fails; one 1.5× too wide covers
≈ 0.986 and fails. Measured with R = 200, N = 300: delta 0.885/0.925/0.915, normal
0.88/0.91/0.91; at the test's own R = 120: delta 0.867/0.958/0.950, normal
0.850/0.933/0.933. The seeds are fixed, so the test is deterministic; R = 120 fits of 300
customers run in ~20 s on a loaded 2-core machine.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from truenorth import _core
from truenorth.clv._dyn_draws import quantile_bounds
from truenorth.clv._dynpath import native_args, subset
from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates_dynamic import DynamicCovariateFit, fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic
from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value

P = {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 10.0}
G = {"trans.promo": 0.7, "life.promo": 0.5}
WEEKS, H = 26, 13
END = datetime(2024, 1, 1) + timedelta(weeks=WEEKS)
SIM = {
    "weeks": WEEKS,
    "future_weeks": H,
    "params": P,
    "transaction": {"promo": 0.7},
    "lifetime": {"promo": 0.5},
    "acquisition": 4,
}
R, N, LEVEL = 120, 300, 0.9


def _fit(tr, cov, **kw):
    return fit_dynamic_covariates(
        tr, cov, transaction=["promo"], lifetime=["promo"], calibration_end=END, **kw
    )


@pytest.fixture(scope="module")
def sample():
    tr, cov = simulate_dynamic(400, seed=11, **SIM)
    return tr, cov, _fit(tr, cov)


def _widths(got, ref):
    """Per customer, the width of ``got``'s expected-purchases interval over ``ref``'s."""
    w = got["expected_purchases_upper"] - got["expected_purchases_lower"]
    return w / (ref["expected_purchases_upper"] - ref["expected_purchases_lower"])


def test_normal_draws_agree_with_the_delta_method_on_a_well_identified_fit():
    # 1500 customers over a year: relative standard errors of s and beta ~0.1-0.2, where the
    # predictions are near log-linear over the parameters' uncertainty
    tr, cov = simulate_dynamic(1500, seed=11, **SIM | {"weeks": 52})
    fit = fit_dynamic_covariates(
        tr,
        cov,
        transaction=["promo"],
        lifetime=["promo"],
        calibration_end=END + timedelta(weeks=26),
    )
    delta = fit.predict(tr, cov, horizon=H, interval=0.9)
    got = fit.predict(tr, cov, horizon=H, interval=0.9, method="normal", draws=200, seed=1)
    assert got.select("p_alive", "expected_purchases").equals(
        delta.select("p_alive", "expected_purchases")
    )
    # measured with 400 draws: quartiles 0.97-1.03 of the per-customer ratio, median 1.00
    assert _widths(got, delta).median() == pytest.approx(1.0, abs=0.08)
    for name in ("p_alive", "expected_purchases"):
        lo, hi = got[f"{name}_lower"], got[f"{name}_upper"]
        assert (lo <= got[name]).all() and (got[name] <= hi).all()


def test_bootstrap_refits_give_bounds_like_the_normal_draws(sample):
    tr, cov, fit = sample
    normal = fit.predict(tr, cov, horizon=H, interval=0.9, method="normal", draws=400, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a refit or two may not converge
        boot = fit.predict(tr, cov, horizon=H, interval=0.9, method="bootstrap", draws=40, seed=1)
    for name in ("p_alive", "expected_purchases"):
        lo, hi = boot[f"{name}_lower"], boot[f"{name}_upper"]
        assert (lo <= boot[name] * 1.05).all() and (hi >= boot[name] * 0.95).all()
    # this 400-customer fit is skewed (s and beta ~60-80% standard errors), which both
    # follow; 40 refits' 5%/95% quantiles are noisy (~20%)
    assert _widths(boot, normal).median() == pytest.approx(1.0, abs=0.35)


def test_draws_are_seeded_and_shared_by_the_outputs(sample):
    tr, cov, fit = sample
    kw = {"horizon": H, "interval": 0.8, "method": "normal", "draws": 50}
    a = fit.predict(tr, cov, **kw, seed=5)
    b = fit.predict(tr, cov, **kw, seed=5)
    c = fit.predict(tr, cov, **kw, seed=6)
    assert a.equals(b)
    assert not a.equals(c)
    pmf = fit.conditional_p_purchases(tr, cov, 0, **kw, seed=5)
    assert (pmf["conditional_p_purchases_lower"] <= pmf["conditional_p_purchases"]).all()
    assert (pmf["conditional_p_purchases_upper"] >= pmf["conditional_p_purchases"]).all()
    value = dynamic_lifetime_value(
        fit,
        tr,
        cov,
        10.0,
        horizon=3,
        horizon_unit="week",
        interval=0.8,
        method="normal",
        draws=50,
        seed=5,
    )
    assert (value["clv_lower"] <= value["clv"]).all() and (value["clv"] <= value["clv_upper"]).all()


def test_quantiles_are_numpys_type_7_over_the_finite_draws():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(101, 4))
    lo, hi = quantile_bounds(v, 0.9)
    np.testing.assert_allclose(lo, np.quantile(v, 0.05, axis=0))
    np.testing.assert_allclose(hi, np.quantile(v, 0.95, axis=0))
    v[:60, 0] = np.nan  # fewer than half finite: no bound
    v[:10, 1] = np.inf  # a few failed draws: left out
    lo, hi = quantile_bounds(v, 0.9)
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert lo[1] == pytest.approx(np.quantile(v[10:, 1], 0.05))


def test_a_bootstrap_resample_is_whole_customer_paths(sample):
    fit = sample[2]
    paths = fit.__dict__["_refit"].paths
    vec = fit._vector()
    one, _ = _core.dyncov_log_likelihood(vec, *native_args(subset(paths, np.array([3]))))
    two, _ = _core.dyncov_log_likelihood(vec, *native_args(subset(paths, np.array([3, 3]))))
    assert two == pytest.approx(2 * one, rel=1e-12)
    n = len(paths.x)
    all_, _ = _core.dyncov_log_likelihood(vec, *native_args(subset(paths, np.arange(n))))
    assert all_ == pytest.approx(fit.log_likelihood, rel=1e-12)


def test_bad_interval_options_are_clear_errors(sample):
    tr, cov, fit = sample
    with pytest.raises(ModelInputError, match="method must be 'delta', 'normal' or 'bootstrap'"):
        fit.predict(tr, cov, horizon=H, interval=0.9, method="jackknife")  # type: ignore[arg-type]
    with pytest.raises(ModelInputError, match="draws must be a whole number"):
        fit.predict(tr, cov, horizon=H, interval=0.9, method="normal", draws=1)
    loaded = DynamicCovariateFit.from_json(fit.to_json())
    with pytest.raises(ModelInputError, match="not fitted in this session"):
        loaded.predict(tr, cov, horizon=H, interval=0.9, method="bootstrap", draws=5)
    # a loaded model still has its covariance: normal draws work
    got = loaded.predict(tr, cov, horizon=H, interval=0.9, method="normal", draws=20)
    assert got["expected_purchases_upper"].is_finite().all()


def test_nominal_90_percent_intervals_cover_the_true_expectation():
    ref_tr, ref_cov = simulate_dynamic(40, seed=0, **SIM)
    ids = [0, 1, 2]
    ref_tr = ref_tr.filter(pl.col("customer").is_in(ids))
    ref_cov = ref_cov.filter(pl.col("customer").is_in(ids))
    truth = None
    hits = {m: [0] * len(ids) for m in ("delta", "normal")}
    for i in range(R):
        tr, cov = simulate_dynamic(N, seed=1000 + i, **SIM)
        fit = _fit(tr, cov, start={**P, **G})
        assert fit.converged, fit.message
        if truth is None:
            true_fit = dataclasses.replace(fit, params=P, coefficient_values=G)
            truth = true_fit.predict(ref_tr, ref_cov, horizon=H)["expected_purchases"]
        for method in hits:
            band = fit.predict(
                ref_tr, ref_cov, horizon=H, interval=LEVEL, method=method, draws=200, seed=i
            )
            lo, hi = band["expected_purchases_lower"], band["expected_purchases_upper"]
            for j in range(len(ids)):
                hits[method][j] += lo[j] <= truth[j] <= hi[j]
    sd = (LEVEL * (1 - LEVEL) / R) ** 0.5
    low, high = LEVEL - 3 * sd - 0.04, LEVEL + 3 * sd
    cover = {m: [h / R for h in v] for m, v in hits.items()}
    assert all(low <= c <= high for v in cover.values() for c in v), cover
