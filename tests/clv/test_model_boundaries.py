"""Fits whose likelihood rises along a ridge to a limit model stop there and say so: BG/NBD
and MBG/NBD (r, alpha -> inf: one purchase rate; a/(a+b) -> 0: no dropout; a, b -> inf: one
dropout probability) and GGom/NBD (r, alpha -> inf; beta -> inf: no dropout). Each case is
provoked by data simulated from the limit itself. Pareto/NBD's beta -> inf is in
test_pareto_boundary.py."""

from __future__ import annotations

import warnings

import pytest

from truenorth import _core, clv

N = 20_000


def _fit(model, summary):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = model.fit(summary)
    return m, [str(w.message) for w in caught]


def _ll(m, summary, params) -> float:
    cols = [summary[c].cast(float) for c in ("frequency", "recency", "T")]
    return _core.log_likelihood(m.kind, params, *cols)


def _stopped_on_a_ridge(m, caught, summary, further):
    assert m.converged is False
    assert m.boundary is not None and m.message == m.boundary
    assert m.boundary.startswith("boundary: ")
    assert any(m.boundary in w for w in caught)  # the ConvergenceWarning carries it
    assert m.n_iterations < 100
    # a ridge, not an optimum: further out along it the likelihood does not fall
    assert _ll(m, summary, further) >= m.log_likelihood - 1e-6


def test_one_purchase_rate_for_everyone_is_the_poisson_limit():
    # lambda ~ Gamma(1e6, 2e7): every customer buys at 0.05 per day
    s = clv.simulate_bg_nbd(N, r=1e6, alpha=2e7, a=0.8, b=2.5, T=100.0, seed=3)
    m, caught = _fit(clv.BetaGeo(), s)
    p = m.params
    assert p["r"] > 1e4
    _stopped_on_a_ridge(m, caught, s, [10 * p["r"], 10 * p["alpha"], p["a"], p["b"]])
    assert "r and alpha grow without bound" in m.boundary and "Poisson" in m.boundary
    assert f"r/alpha -> {p['r'] / p['alpha']:.4g}" in m.boundary
    assert p["r"] / p["alpha"] == pytest.approx(0.05, rel=0.05)
    # the boundary survives save and load
    assert clv.load(m.to_json()).boundary == m.boundary


@pytest.mark.parametrize(
    ("model", "simulate"),
    [(clv.BetaGeo, clv.simulate_bg_nbd), (clv.ModifiedBetaGeo, clv.simulate_mbg_nbd)],
)
def test_no_dropout_is_the_nbd_limit(model, simulate):
    # p ~ Beta(1e-6, 1e6): nobody drops out. (Some samples of such data have an interior
    # optimum with a tiny a instead, a genuine local maximum the fit rightly converges to.)
    s = simulate(N, r=0.5, alpha=10.0, a=1e-6, b=1e6, T=365.0, seed=1)
    m, caught = _fit(model(), s)
    p = m.params
    assert p["a"] / (p["a"] + p["b"]) < 1e-6
    _stopped_on_a_ridge(m, caught, s, [p["r"], p["alpha"], p["a"] / 10, p["b"]])
    assert "no dropout" in m.boundary and "never drop out" in m.boundary
    assert m.boundary.count(m.label) == 1


def test_one_dropout_probability_for_everyone():
    # p ~ Beta(2e5, 8e5): every customer drops out after a purchase with probability 0.2
    s = clv.simulate_mbg_nbd(N, r=0.5, alpha=10.0, a=2e5, b=8e5, T=100.0, seed=3)
    m, caught = _fit(clv.ModifiedBetaGeo(), s)
    p = m.params
    q = p["a"] / (p["a"] + p["b"])
    _stopped_on_a_ridge(m, caught, s, [p["r"], p["alpha"], 10 * p["a"], 10 * p["b"]])
    assert "a and b grow without bound" in m.boundary and "MBG/NBD" in m.boundary
    assert f"a/(a+b) -> {q:.4g}" in m.boundary
    assert q == pytest.approx(0.2, abs=0.03)


def test_gompertz_fits_name_their_limits():
    one_rate = clv.simulate_model(
        clv.GammaGompertzNBD.from_params(
            {"r": 1e6, "alpha": 2e7, "b": 0.05, "s": 0.8, "beta": 5.0}
        ),
        4000,
        T=60.0,
        seed=4,
        resolution=1.0,
    )
    m, caught = _fit(clv.GammaGompertzNBD(), one_rate)
    p = m.params
    assert p["r"] > 1e4 and "Poisson" in m.boundary and "GGom/NBD" in m.boundary
    _stopped_on_a_ridge(
        m, caught, one_rate, [10 * p["r"], 10 * p["alpha"], p["b"], p["s"], p["beta"]]
    )
    # beta ~ 1e9: nobody drops out within the window
    base = {"r": 0.8, "alpha": 10.0, "b": 0.05}
    immortal = clv.simulate_model(
        clv.GammaGompertzNBD.from_params({**base, "s": 0.8, "beta": 1e9}),
        4000,
        T=60.0,
        seed=4,
        resolution=1.0,
    )
    m, caught = _fit(clv.GammaGompertzNBD(), immortal)
    assert m.converged is False and "no dropout" in m.boundary
    assert m.message == m.boundary and any(m.boundary in w for w in caught)
    # eta ~ Gamma(1e6, 2e7): one dropout hazard for every customer
    one_eta = clv.simulate_model(
        clv.GammaGompertzNBD.from_params({**base, "s": 1e6, "beta": 2e7}),
        4000,
        T=60.0,
        seed=4,
        resolution=1.0,
    )
    m, caught = _fit(clv.GammaGompertzNBD(), one_eta)
    p = m.params
    assert p["s"] > 1e4 and "s and beta grow without bound" in m.boundary
    assert f"s/beta -> {p['s'] / p['beta']:.4g}" in m.boundary
    assert p["s"] / p["beta"] == pytest.approx(0.05, rel=0.5)  # b = 0.06 trades off against it


def test_well_behaved_fits_name_no_boundary():
    s = clv.simulate_bg_nbd(N, r=0.243, alpha=4.414, a=0.793, b=2.426, T=39.0, seed=5)
    for model in (clv.BetaGeo(), clv.ModifiedBetaGeo()):
        m, _ = _fit(model, s)
        assert m.converged and m.boundary is None
