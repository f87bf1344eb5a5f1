"""CLVTools' published Pareto/NBD fits on its apparel example, reproduced.

Source of every expected number: CLVTools' ``vignettes/CLVTools_advanced_techniques.pdf``
(github.com/bachmannpatrick/CLVTools, commit 1b06356b, "September 21, 2025"), which fits
``apparelTrans`` with ``clvdata(time.unit = "week", estimation.split = 104)`` and the static
covariates Gender and Channel of ``apparelStaticCov`` for both processes. The data (GPL-3) is
in ``tests/data/clvtools`` (test-only, see its README).

Mapping of the setup:

- CLVTools merges a customer's purchases on one date, counts repeat purchases up to and
  including the estimation end (first date + 104 weeks = 2006-12-31) and measures time in
  days / 7: ``summarize(period="1d", unit="1w", calibration_end="2006-12-31")``.
- Links: CLVTools scales alpha by exp(−γ'x_trans) and beta by exp(−γ'x_life), as truenorth
  does, and names coefficients ``trans.X`` / ``life.X`` / ``constr.X`` as truenorth does: the
  coefficients compare as printed, no sign or scale mapping.
- L2 regularisation: CLVTools' ``summary`` of a regularised fit prints the *penalised mean*
  log-likelihood (LL/n − Σλγ²) as "LL", and standard errors from the Hessian of that mean,
  i.e. √n times the standard errors of the sum that truenorth reports. The test maps both.

Tolerances: estimates within 0.02 standard errors of the published ones (both optimisers stop
on the same flat ridge — beta's SE is ~70% of beta — so the last printed digits differ);
standard errors within 1%; LL, AIC, BIC within the printed rounding (4 decimals) and the
truenorth LL never below the published one. BG/NBD and GGom/NBD fits of this data are not
printed anywhere in CLVTools' sources at this commit, so they are not compared here.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from truenorth import clv

DATA = Path(__file__).parents[1] / "data" / "clvtools"
COVS = ["Gender", "Channel"]

# vignette section 4, summary(est.pnbd.full): estimate, std. error
FULL = {
    "r": (1.8378, 0.3455),
    "alpha": (92.9123, 16.9670),
    "s": (0.5920, 0.2609),
    "beta": (49.6227, 36.2509),
    "life.Gender": (-0.6430, 0.2955),
    "life.Channel": (0.7907, 0.3059),
    "trans.Gender": (0.2859, 0.1041),
    "trans.Channel": (0.6241, 0.1050),
}
FULL_FIT = {"LL": -5821.0627, "AIC": 11658.1254, "BIC": 11693.3009}
# section 4, summary(est.pnbd.constr): Gender constrained equal in both processes
CONSTR = {
    "r": (1.7939, 0.3318),
    "alpha": (94.7223, 17.2216),
    "s": (0.4287, 0.1418),
    "beta": (59.0743, 34.5098),
    "life.Channel": (1.0228, 0.3542),
    "trans.Channel": (0.6384, 0.1064),
    "constr.Gender": (0.3283, 0.1074),
}
CONSTR_FIT = {"LL": -5826.5342, "AIC": 11667.0684, "BIC": 11697.8469}
# section 4, lrtest(est.pnbd.constr, est.pnbd.full)
LRTEST = {"chisq": 10.943, "df": 1, "p": 0.0009396}
# section 2, summary(est.pnbd.regularization), reg.lambdas = c(trans = 0.1, life = 0.2)
REG = {
    "r": (1.73887, 8.07414),
    "alpha": (69.85288, 315.45779),
    "s": (0.53350, 5.81354),
    "beta": (39.68346, 704.57431),
    "life.Gender": (-0.04437, 1.54979),
    "life.Channel": (0.02465, 1.54501),
    "trans.Gender": (0.17178, 1.63462),
    "trans.Channel": (0.23676, 1.65635),
}
REG_FIT = {"LL": -9.7313, "AIC": 35.4626, "BIC": 70.6380}
# section 6, coef(summary(est.pnbd.noH)) after hessian(): the model without covariates
NOCOV = {
    "r": (1.4489768, 0.2434282),
    "alpha": (48.6360845, 7.4891816),
    "s": (0.5612598, 0.2710479),
    "beta": (46.8843633, 35.6114114),
}

PRINTED = 5e-5  # half a unit in the 4th decimal printed by CLVTools' summary


@pytest.fixture(scope="module")
def apparel() -> tuple[pl.DataFrame, pl.DataFrame]:
    trans = pl.read_csv(DATA / "apparelTrans.csv", schema_overrides={"Id": pl.String})
    trans = trans.with_columns(pl.col("Date").str.to_date())
    cov = pl.read_csv(DATA / "apparelStaticCov.csv", schema_overrides={"Id": pl.String})
    summary = clv.summarize(
        trans, customer="Id", time="Date", period="1d", unit="1w", calibration_end="2006-12-31"
    )
    return summary, cov


def estimates(model) -> dict[str, float]:
    out = dict(model.params)
    if model.covariates is not None:
        c = model.coefficients()
        out.update(zip(c["coefficient"], c["estimate"], strict=True))
    return out


def assert_matches(model, published, se_scale: float = 1.0) -> None:
    """Estimates within 0.02 SE and SEs within 1% of ``published`` (SEs divided by
    ``se_scale`` first)."""
    est, se = estimates(model), model.standard_errors
    assert set(est) == set(published)
    for name, (p_est, p_se) in published.items():
        p_se /= se_scale
        assert abs(est[name] - p_est) <= 0.02 * p_se, (name, est[name], p_est, p_se)
        assert se[name] == pytest.approx(p_se, rel=0.01), (name, se[name], p_se)


def fit(summary, cov, **options):
    return clv.ParetoNBD().fit(
        summary, covariates=cov, id="Id", transaction=COVS, lifetime=COVS, **options
    )


def test_the_estimation_split_is_clvtools_104_weeks(apparel):
    summary, _ = apparel
    # one cohort (first purchase 2005-01-02, CLVTools' "Estimation start"), 104 weeks to the
    # estimation end 2006-12-31 for every customer
    assert summary.height == 600
    assert summary["first_purchase"].unique().to_list() == [date(2005, 1, 2)]
    assert summary["T"].min() == summary["T"].max() == pytest.approx(104.0, abs=1e-12)
    assert summary["recency"].max() <= 104.0


def test_pareto_nbd_without_covariates(apparel):
    summary, _ = apparel
    assert_matches(clv.ParetoNBD().fit(summary), NOCOV)


def test_pareto_nbd_with_static_covariates(apparel):
    summary, cov = apparel
    m = fit(summary, cov)
    assert_matches(m, FULL)
    assert m.log_likelihood >= FULL_FIT["LL"] - PRINTED
    assert m.log_likelihood == pytest.approx(FULL_FIT["LL"], abs=PRINTED)
    assert m.aic == pytest.approx(FULL_FIT["AIC"], abs=2 * PRINTED)
    assert m.bic == pytest.approx(FULL_FIT["BIC"], abs=2 * PRINTED)
    # the Wald z CLVTools prints (z-val column): trans.Channel 5.946, life.Gender -2.176
    z = dict(zip(m.coefficients()["coefficient"], m.coefficients()["z"], strict=True))
    assert z["trans.Channel"] == pytest.approx(5.946, abs=0.01)
    assert z["life.Gender"] == pytest.approx(-2.176, abs=0.01)


def test_equality_constraint_and_likelihood_ratio_test(apparel):
    summary, cov = apparel
    full = fit(summary, cov)
    constr = fit(summary, cov, constrain=["Gender"])
    assert_matches(constr, CONSTR)
    assert constr.log_likelihood == pytest.approx(CONSTR_FIT["LL"], abs=PRINTED)
    assert constr.aic == pytest.approx(CONSTR_FIT["AIC"], abs=2 * PRINTED)
    assert constr.bic == pytest.approx(CONSTR_FIT["BIC"], abs=2 * PRINTED)
    lr = clv.lrtest(constr, full)
    assert lr.df == LRTEST["df"]
    assert lr.statistic == pytest.approx(LRTEST["chisq"], abs=5e-4)
    assert lr.p_value == pytest.approx(LRTEST["p"], rel=1e-3)


def test_l2_regularisation(apparel):
    summary, cov = apparel
    lambdas = {"transaction": 0.1, "lifetime": 0.2}
    m = fit(summary, cov, l2=lambdas)
    n = summary.height
    assert_matches(m, REG, se_scale=math.sqrt(n))
    est = estimates(m)
    penalty = sum(
        lambdas["transaction" if k.startswith("trans.") else "lifetime"] * v**2
        for k, v in est.items()
        if k.startswith(("trans.", "life."))
    )
    objective = m.log_likelihood / n - penalty
    assert objective == pytest.approx(REG_FIT["LL"], abs=PRINTED)
    # CLVTools' AIC/BIC of a regularised fit use that objective in place of the LL
    assert 2 * 8 - 2 * objective == pytest.approx(REG_FIT["AIC"], abs=2 * PRINTED)
    assert 8 * math.log(n) - 2 * objective == pytest.approx(REG_FIT["BIC"], abs=2 * PRINTED)
