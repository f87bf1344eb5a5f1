"""Static covariates (truenorth.clv.covariates): zero coefficients are the base model, the
gradient is exact, simulated coefficients are recovered, and the options (constraint, L2,
start values, persistence, lrtest) do what they say."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from truenorth import _core, clv
from truenorth.clv.covariates import LINKS, CovariateSpec

BASE = {
    "pareto_nbd": {"r": 0.8, "alpha": 6.0, "s": 0.6, "beta": 10.0},
    "bg_nbd": {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 2.5},
    "ggom_nbd": {"r": 0.8, "alpha": 6.0, "b": 0.05, "s": 0.6, "beta": 3.0},
}
CLASSES = {"pareto_nbd": clv.ParetoNBD, "bg_nbd": clv.BetaGeo, "ggom_nbd": clv.GammaGompertzNBD}
TRUTH = {
    "trans.vip": 0.7,
    "trans.channel[shop]": -0.4,
    "trans.age": 0.3,
    "life.vip": -0.8,
    "life.age": 0.4,
}
TRANS, LIFE = ["vip", "channel", "age"], ["vip", "age"]


def attributes(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "customer": range(n),
            "vip": rng.integers(0, 2, n),
            "channel": rng.choice(["shop", "web", "app"], n),
            "age": rng.choice([-1.0, 0.0, 1.0], n),
        }
    )


def simulated(kind: str, n: int = 3000, seed: int = 3) -> pl.DataFrame:
    return clv.simulate_with_covariates(
        kind, attributes(n), BASE[kind], TRUTH, transaction=TRANS, lifetime=LIFE, T=52, seed=seed
    )


def cov_doc(model, coefficients: dict[str, float], spec) -> dict:
    """A persisted document of ``model`` with covariates ``spec`` at ``coefficients``."""
    doc = json.loads(model.to_json())
    doc["covariates"] = {"spec": spec.to_dict(), "coefficients": coefficients}
    return doc


@pytest.mark.parametrize("kind", list(LINKS))
def test_zero_coefficients_reproduce_the_base_model_exactly(kind):
    s = simulated(kind, n=600)
    base = CLASSES[kind]().fit(s)
    spec = CovariateSpec.build(s, TRANS, LIFE, [], {}, {})
    zero = clv.load(cov_doc(base, dict.fromkeys(spec.coefficient_names(), 0.0), spec))
    # likelihood: the native covariate likelihood at zero coefficients
    zt, zl, ti, li, _ = spec.design(s)
    ll, _ = _core.cov_log_likelihood(
        kind,
        list(base.params.values()) + [0.0] * len(spec.coefficient_names()),
        s["frequency"],
        s["recency"],
        s["T"],
        [pl.Series(z) for z in zt],
        [pl.Series(z) for z in zl],
        ti,
        li,
    )
    assert ll == pytest.approx(base.log_likelihood, rel=1e-12)
    # predictions: exactly equal, every one
    assert zero.p_alive(s).equals(base.p_alive(s))
    assert zero.expected_purchases(s, 20).equals(base.expected_purchases(s, 20))
    assert zero.conditional_p_purchases(s, 1, 10).equals(base.conditional_p_purchases(s, 1, 10))
    assert zero.log_likelihood_rows(s).equals(base.log_likelihood_rows(s))
    profile = {"vip": 1, "channel": "web", "age": 0.0}
    assert zero.expected_purchases_new([5, 20], covariates=profile).equals(
        base.expected_purchases_new([5, 20])
    )
    assert zero.p_purchases(2, 10, covariates=profile) == base.p_purchases(2, 10)
    v0 = clv.lifetime_value(zero, 10.0, s, time_unit="1w", horizon=12)
    v1 = clv.lifetime_value(base, 10.0, s, time_unit="1w", horizon=12)
    assert v0.equals(v1)


@pytest.mark.parametrize("kind", list(LINKS))
def test_gradient_matches_finite_differences(kind):
    s = simulated(kind, n=300)
    spec = CovariateSpec.build(s, TRANS, LIFE, [], {}, {})
    zt, zl, ti, li, _ = spec.design(s)
    names = spec.coefficient_names()
    params = list(BASE[kind].values()) + [0.3 - 0.1 * j for j in range(len(names))]
    k = len(BASE[kind])

    def ll(p):
        return _core.cov_log_likelihood(
            kind,
            p,
            s["frequency"],
            s["recency"],
            s["T"],
            [pl.Series(z) for z in zt],
            [pl.Series(z) for z in zl],
            ti,
            li,
        )

    _, grad = ll(params)
    for j in range(len(params)):
        h = 1e-6

        def bumped(e, j=j):
            q = list(params)
            q[j] = q[j] * math.exp(e) if j < k else q[j] + e
            return ll(q)[0]

        fd = (bumped(h) - bumped(-h)) / (2 * h)
        assert grad[j] == pytest.approx(fd, rel=2e-5, abs=1e-5), (kind, j)


@pytest.mark.parametrize("kind", ["pareto_nbd", "bg_nbd"])
def test_known_coefficients_are_recovered(kind):
    s = simulated(kind, n=4000, seed=3)
    m = CLASSES[kind]().fit(s, transaction=TRANS, lifetime=LIFE)
    assert m.converged
    co = m.coefficients()
    assert co["coefficient"].to_list() == [
        "trans.vip",
        "trans.channel[shop]",
        "trans.channel[web]",
        "trans.age",
        "life.vip",
        "life.age",
    ]
    for name, est, se in co.select("coefficient", "estimate", "std_error").iter_rows():
        truth = TRUTH.get(name, 0.0)
        assert 0 < se < 0.2, name
        assert abs(est - truth) < 3.5 * se, (name, est, truth, se)
    # the big effects are detected
    assert co.filter(pl.col("coefficient") == "trans.vip")["p_value"][0] < 1e-6
    for name, v in m.params.items():
        assert v == pytest.approx(BASE[kind][name], rel=0.35), name


def test_ggom_nbd_recovers_its_transaction_coefficients():
    s = simulated("ggom_nbd", n=2000, seed=5)
    m = clv.GammaGompertzNBD().fit(s, transaction=["vip"], lifetime=["vip"])
    co = dict(m.coefficients().select("coefficient", "estimate").iter_rows())
    se = m.standard_errors or {}
    assert abs(co["trans.vip"] - 0.7) < 3.5 * se["trans.vip"]


@pytest.mark.filterwarnings("ignore:.*did not converge")
def test_fitted_likelihood_is_the_sum_of_per_row_likelihoods():
    """The Python link table (predictions) and the native one (fit) agree."""
    for kind in LINKS:
        s = simulated(kind, n=500)
        m = CLASSES[kind]().fit(s, transaction=TRANS, lifetime=LIFE, max_iter=20)
        assert float(m.log_likelihood_rows(s).sum()) == pytest.approx(m.log_likelihood, rel=1e-10)


def test_compression_merges_equal_rows_and_weights_match():
    s = simulated("pareto_nbd", n=1500)
    m = clv.ParetoNBD().fit(s, transaction=["vip", "channel"], lifetime=["vip"])
    assert m.n_patterns < s.height
    doubled = clv.ParetoNBD().fit(
        pl.concat([s, s]), transaction=["vip", "channel"], lifetime=["vip"]
    )
    weighted = clv.ParetoNBD().fit(
        s.with_columns(w=pl.lit(2.0)), "w", transaction=["vip", "channel"], lifetime=["vip"]
    )
    assert doubled.n_patterns == m.n_patterns == weighted.n_patterns
    assert doubled.log_likelihood == pytest.approx(weighted.log_likelihood, rel=1e-9)
    assert doubled.log_likelihood == pytest.approx(2 * m.log_likelihood, rel=1e-6)


def test_separate_attribute_table_is_joined_on_the_customer_id():
    a = attributes(1200)
    s = simulated("pareto_nbd", n=1200).select("customer", "frequency", "recency", "T")
    shuffled = a.sample(fraction=1.0, shuffle=True, seed=1)
    m1 = clv.ParetoNBD().fit(s, covariates=shuffled, transaction=["vip"], lifetime=["age"])
    m2 = clv.ParetoNBD().fit(s.join(a, on="customer"), transaction=["vip"], lifetime=["age"])
    assert m1.log_likelihood == pytest.approx(m2.log_likelihood, rel=1e-12)
    joined = clv.with_covariates(s, shuffled)
    assert m1.p_alive(joined).equals(m2.p_alive(s.join(a, on="customer")))


def test_constraint_shares_one_coefficient_and_nests_for_lrtest():
    s = simulated("pareto_nbd", n=2500)
    free = clv.ParetoNBD().fit(s, transaction=["vip"], lifetime=["vip"])
    tied = clv.ParetoNBD().fit(s, transaction=["vip"], lifetime=["vip"], constrain=["vip"])
    none = clv.ParetoNBD().fit(s)
    assert tied.coefficients()["coefficient"].to_list() == ["constr.vip"]
    assert tied.log_likelihood <= free.log_likelihood + 1e-6
    t = clv.lrtest(tied, free)
    assert t.df == 1 and not t.boundary
    # truth: +0.7 and -0.8, far from equal: the constraint is rejected
    assert t.p_value < 1e-3
    t0 = clv.lrtest(none, free)
    assert t0.df == 2 and t0.p_value < 1e-6
    assert free.aic < none.aic and free.bic == pytest.approx(
        6 * math.log(2500) - 2 * free.log_likelihood
    )
    with pytest.raises(clv.ModelInputError, match="not nested"):
        clv.lrtest(free, tied)


def test_l2_shrinks_the_penalised_process_only():
    s = simulated("pareto_nbd", n=2000)
    plain = clv.ParetoNBD().fit(s, transaction=["vip"], lifetime=["vip"])
    pen = clv.ParetoNBD().fit(
        s, transaction=["vip"], lifetime=["vip"], l2={"transaction": 0.5, "lifetime": 0.0}
    )
    c0 = dict(plain.coefficients().select("coefficient", "estimate").iter_rows())
    c1 = dict(pen.coefficients().select("coefficient", "estimate").iter_rows())
    assert abs(c1["trans.vip"]) < 0.5 * abs(c0["trans.vip"])
    assert pen.log_likelihood < plain.log_likelihood
    with pytest.raises(clv.ModelInputError, match="L2 penalty"):
        clv.lrtest(clv.ParetoNBD().fit(s), pen)


def test_start_values_name_coefficients():
    s = simulated("bg_nbd", n=1500)
    m = clv.BetaGeo().fit(s, transaction=["vip"], lifetime=["vip"])
    again = clv.BetaGeo().fit(
        s,
        transaction=["vip"],
        lifetime=["vip"],
        start={**m.params, "trans.vip": 0.5, "life.vip": -0.5},
    )
    assert again.log_likelihood == pytest.approx(m.log_likelihood, abs=1e-6)
    with pytest.raises(clv.ModelInputError, match="unknown coefficient"):
        clv.BetaGeo().fit(s, transaction=["vip"], start={**m.params, "trans.nope": 1.0})


def test_persisted_model_keeps_names_coding_and_predictions(tmp_path):
    s = simulated("pareto_nbd", n=1500)
    m = clv.ParetoNBD().fit(
        s, transaction=["vip", "channel"], lifetime=["age"], reference={"channel": "web"}
    )
    assert "trans.channel[app]" in m.coefficients()["coefficient"].to_list()
    path = tmp_path / "m.json"
    m.to_json(str(path))
    back = clv.load(path)
    assert back.covariates == m.covariates
    assert back.p_alive(s).equals(m.p_alive(s))
    assert back.expected_purchases(s, 10).equals(m.expected_purchases(s, 10))
    assert back.coefficients().equals(m.coefficients())
    v = back.vcov()
    assert v["parameter"].to_list() == back._all_names()
    assert v["trans.vip"][v["parameter"].to_list().index("trans.vip")] == pytest.approx(
        m.coefficients()["std_error"][0] ** 2
    )
