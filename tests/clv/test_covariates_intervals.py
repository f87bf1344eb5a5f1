"""Delta-method prediction intervals of covariate models (truenorth.clv._cov_intervals): at
zero coefficients with no coefficient uncertainty they are the no-covariate intervals; with
it they match the quantiles of predictions over parameter draws; only method='delta'."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_covariates import LIFE, TRANS, cov_doc, simulated

from truenorth import _core, clv
from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates import CovariateSpec

PREDICTIONS = {
    "p_alive": lambda m, s: m.p_alive(s, interval=0.9),
    "expected_purchases": lambda m, s: m.expected_purchases(s, 20, interval=0.9),
    "conditional_p_purchases": lambda m, s: m.conditional_p_purchases(s, 1, 20, interval=0.9),
}


@pytest.fixture(scope="module")
def s() -> pl.DataFrame:
    return simulated("pareto_nbd", n=3000)


@pytest.fixture(scope="module")
def fitted(s):
    return clv.ParetoNBD().fit(s, transaction=TRANS, lifetime=LIFE)


def without_coefficient_uncertainty(model, k: int):
    cov = np.asarray(model.covariance, dtype=float)
    cov[k:, :] = 0.0
    cov[:, k:] = 0.0
    model.covariance = cov.tolist()
    return model


@pytest.mark.parametrize("what", list(PREDICTIONS))
def test_zero_coefficients_give_the_no_covariate_intervals(s, what):
    base = clv.ParetoNBD().fit(s)
    spec = CovariateSpec.build(s, TRANS, LIFE, [], {}, {})
    zero = clv.load(cov_doc(base, dict.fromkeys(spec.coefficient_names(), 0.0), spec))
    # the base model's covariance, none for the coefficients
    cov = np.zeros((4 + len(spec.coefficient_names()),) * 2)
    cov[:4, :4] = np.asarray(base.covariance)
    zero.covariance = cov.tolist()
    a, b = PREDICTIONS[what](zero, s), PREDICTIONS[what](base, s)
    assert a[what].to_list() == b[what].to_list()
    for side in ("lower", "upper"):
        got, want = a[f"{what}_{side}"].to_numpy(), b[f"{what}_{side}"].to_numpy()
        # both are central differences with the same step: equal to rounding
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("what", ["p_alive", "expected_purchases"])
def test_intervals_match_quantiles_over_parameter_draws(s, fitted, what):
    out = PREDICTIONS[what](fitted, s)
    lo, point, hi = (out[c].to_numpy() for c in (f"{what}_lower", what, f"{what}_upper"))
    assert (lo <= point).all() and (point <= hi).all() and (lo < hi).any()
    base, coef = fitted._p(), list(fitted._coef)
    k = len(base)
    d = np.array(base + [1.0] * len(coef))
    sigma = np.asarray(fitted.covariance) / np.outer(d, d)
    psi = np.r_[np.log(base), coef]
    draws = np.random.default_rng(0).multivariate_normal(psi, sigma, 400)
    horizon = 20.0 if what == "expected_purchases" else 0.0
    vals = np.array(
        [
            pl.Series(
                _core.predict_rows(
                    "pareto_nbd",
                    what,
                    fitted.covariates.row_params("pareto_nbd", list(np.exp(p[:k])), list(p[k:]), s),
                    s["frequency"],
                    s["recency"],
                    s["T"],
                    horizon,
                )
            ).to_numpy()
            for p in draws
        ]
    )

    def link(v):
        return np.log(v) if what == "expected_purchases" else np.log(v / (1 - v))

    ok = (point > 1e-6) & (point < 1 - 1e-6)  # rows the link scale resolves
    mc = link(np.quantile(vals, 0.95, 0)[ok]) - link(np.quantile(vals, 0.05, 0)[ok])
    delta = link(hi[ok]) - link(lo[ok])
    assert np.median(np.abs(delta / mc - 1)) < 0.04
    # the coefficients' uncertainty is part of it: without it the intervals are narrower
    narrow = PREDICTIONS[what](without_coefficient_uncertainty(_refit(s), k), s)
    nd = link(narrow[f"{what}_upper"].to_numpy()[ok]) - link(narrow[f"{what}_lower"].to_numpy()[ok])
    assert np.median(nd / delta) < 0.97


def _refit(s):
    return clv.ParetoNBD().fit(s, transaction=TRANS, lifetime=LIFE)


def test_other_methods_are_refused_by_name(s, fitted):
    with pytest.raises(ModelInputError, match="method='delta' only"):
        fitted.p_alive(s, interval=0.9, method="bootstrap")
    with pytest.raises(ModelInputError, match="no column 'vip'"):
        fitted.p_alive(s.drop("vip"), interval=0.9)


def test_clv_interval_with_gamma_gamma_spend(s):
    """CLV: at zero coefficients the no-covariate CLV interval, Gamma-Gamma spend
    uncertainty included; fitted, the bounds bracket the estimate."""
    rng = np.random.default_rng(1)
    spend = np.where(s["frequency"].to_numpy() > 0, rng.gamma(4.0, 10.0, s.height), 0.0)
    s2 = s.with_columns(pl.Series("monetary_value", spend))
    gg = clv.GammaGamma().fit(s2.filter(pl.col("frequency") > 0))
    base = clv.ParetoNBD(time_unit="1w").fit(s2)
    spec = CovariateSpec.build(s2, TRANS, LIFE, [], {}, {})
    zero = clv.load(cov_doc(base, dict.fromkeys(spec.coefficient_names(), 0.0), spec))
    cov = np.zeros((4 + len(spec.coefficient_names()),) * 2)
    cov[:4, :4] = np.asarray(base.covariance)
    zero.covariance = cov.tolist()
    a = clv.lifetime_value(zero, gg, s2, horizon=12, interval=0.9)
    b = clv.lifetime_value(base, gg, s2, horizon=12, interval=0.9)
    for col in ("clv", "clv_lower", "clv_upper"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-7)
    fitted = clv.ParetoNBD(time_unit="1w").fit(s2, transaction=TRANS, lifetime=LIFE)
    out = clv.lifetime_value(fitted, gg, s2, horizon=12, interval=0.9)
    assert (out["clv_lower"] < out["clv"]).all() and (out["clv"] < out["clv_upper"]).all()
    with pytest.raises(ModelInputError, match="method='delta' only"):
        clv.lifetime_value(fitted, gg, s2, horizon=12, interval=0.9, method="bootstrap")
