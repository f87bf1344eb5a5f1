"""Conditional PMF P(X(T, T+t] = n | frequency, recency, T) of BG/NBD, MBG/NBD, Pareto/NBD.

Checks: lifetimes' Pareto/NBD conditional PMF (Fader & Hardie note 028, eq. 16) at equal
parameters; Σ_n P(n | ·) = 1 and Σ_n n·P(n | ·) = expected_purchases (itself checked against
lifetimes); and for BG/NBD and MBG/NBD a Monte Carlo over the model's own definition (prior
draws of (λ, p) weighted by the likelihood of an exact history), which checks the posterior
restart — in particular MBG/NBD's Beta(a, b+x+1) and BG/NBD-type restart — independently.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from truenorth.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    ModelInputError,
    ModifiedBetaGeo,
    ParetoNBD,
)

DATA = Path(__file__).parent.parent / "data"
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture(scope="module")
def fitted(cdnow):
    return {
        "bg": BetaGeo(time_unit="1w").fit(cdnow),
        "mbg": ModifiedBetaGeo(time_unit="1w").fit(cdnow),
        "pnbd": ParetoNBD(time_unit="1w").fit(cdnow),
    }


@pytest.mark.peer
@pytest.mark.parametrize("t", [10.0, 39.0])
def test_pareto_nbd_matches_lifetimes(cdnow, fitted, t):
    import pandas as pd

    m = fitted["pnbd"]
    x, tx, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

        f = lifetimes.ParetoNBDFitter()
        f.params_ = pd.Series(m.params)
        for n in (0, 1, 2, 5, 10):
            ref = np.asarray(f.conditional_probability_of_n_purchases_up_to_time(n, t, x, tx, T))
            ours = m.conditional_p_purchases(cdnow, n, t).to_numpy()
            np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-12, err_msg=f"n={n}")


@pytest.mark.parametrize("key", ["bg", "mbg", "pnbd"])
@pytest.mark.parametrize("t", [5.0, 39.0])
def test_sums_to_one_and_mean_is_conditional_expectation(cdnow, fitted, key, t):
    m = fitted[key]
    probs = np.column_stack([m.conditional_p_purchases(cdnow, n, t).to_numpy() for n in range(121)])
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    mean = probs @ np.arange(121)
    np.testing.assert_allclose(
        mean, m.expected_purchases(cdnow, t).to_numpy(), rtol=1e-8, atol=1e-10
    )


def _mc_bg(p, mbg, x, tx, T, t, nmax, draws=400_000, seed=1):
    """P(n | x, t_x, T) by importance sampling from the model's definition.

    λ ~ Gamma(r+x, α+t_x) (proposal), p ~ Beta(a, b) (prior); weight ∝ prior·likelihood /
    proposal = alive-term + dead-term with alive-term (1−p)^(x[+1]) e^(−λ(T−t_x)) and
    dead-term p(1−p)^(x−1) (BG, x > 0) or p(1−p)^x (MBG). Given (λ, p) and alive at T, the
    future count is min(K, Poisson(λt)), K ~ Geometric(p) on {1, 2, …} (drop out after a
    purchase). Rao-Blackwellised: exact probabilities per draw.
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    lam = rng.gamma(r + x, 1.0 / (alpha + tx), draws)
    q = rng.beta(a, b, draws)
    surv = (1 - q) ** (x + (1 if mbg else 0))
    alive_w = surv * np.exp(-lam * (T - tx))
    if mbg:
        dead_w = q * (1 - q) ** x
    elif x > 0:
        dead_w = q * (1 - q) ** (x - 1)
    else:
        dead_w = np.zeros(draws)
    w = alive_w + dead_w
    out = []
    for n in range(nmax):
        pois = stats.poisson(lam * t)
        if n == 0:
            fut = pois.pmf(0)
        else:
            fut = pois.pmf(n) * (1 - q) ** n + q * (1 - q) ** (n - 1) * pois.sf(n - 1)
        f = (alive_w * fut + dead_w * (n == 0)) / w
        est = np.sum(w * f) / w.sum()
        se = np.sqrt(np.sum(w**2 * (f - est) ** 2)) / w.sum()
        out.append((est, se))
    return out


@pytest.mark.parametrize("mbg", [False, True])
@pytest.mark.parametrize(
    ("x", "tx", "T"), [(0, 0.0, 30.0), (1, 3.0, 39.0), (2, 30.43, 38.86), (6, 20.0, 39.0)]
)
def test_bg_and_mbg_match_monte_carlo_of_exact_histories(mbg, x, tx, T):
    m = (ModifiedBetaGeo if mbg else BetaGeo).from_params(BG, time_unit="1w")
    row = pl.DataFrame({"frequency": [x], "recency": [tx], "T": [T]})
    t = 20.0
    for n, (est, se) in enumerate(_mc_bg(BG, mbg, x, tx, T, t, 6)):
        ours = m.conditional_p_purchases(row, n, t)[0]
        assert abs(ours - est) < 5 * se + 1e-6, (n, ours, est, se)


def test_high_frequency_is_finite_and_normalised():
    row = pl.DataFrame(
        {"frequency": [500, 300], "recency": [9999.0, 50.0], "T": [10_000.0, 10_000.0]}
    )
    for cls, p in (
        (BetaGeo, BG),
        (ModifiedBetaGeo, BG),
        (ParetoNBD, [0.553, 10.578, 0.606, 11.669]),
    ):
        m = cls.from_params(p, time_unit="1w")
        probs = np.column_stack(
            [m.conditional_p_purchases(row, n, 52.0).to_numpy() for n in range(60)]
        )
        assert np.isfinite(probs).all()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-8)
        # The dead-looking customer (last purchase long ago) puts its mass on 0.
        assert probs[1, 0] > 0.999


def test_zero_horizon_and_bad_input(cdnow):
    m = BetaGeo.from_params(BG, time_unit="1w")
    assert (m.conditional_p_purchases(cdnow, 0, 0.0) == 1.0).all()
    assert (m.conditional_p_purchases(cdnow, 3, 0.0) == 0.0).all()
    for bad_n in (-1, 1.5, True):
        with pytest.raises(ModelInputError, match="n must be"):
            m.conditional_p_purchases(cdnow, bad_n, 1.0)
    with pytest.raises(ModelInputError, match="t must be"):
        m.conditional_p_purchases(cdnow, 1, -1.0)
    with pytest.raises(ModelInputError, match="whole number of opportunities"):
        BetaGeoBetaBinom.from_params(BGBB).conditional_p_purchases(BGBB_DATA, 1, 2.5)
    with pytest.raises(ModelInputError, match="n must be"):
        BetaGeoBetaBinom.from_params(BGBB).conditional_p_purchases(BGBB_DATA, -1, 2)


# --------------------------------------------------------------------------------------
# BG/BB (Fader, Hardie & Shang 2010): P(X(n, n+n*) = x* | α, β, γ, δ, x, t_x, n)
# --------------------------------------------------------------------------------------

BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}  # FHS 2010 donors
BGBB_DATA = pl.DataFrame(
    {
        "frequency": [0, 0, 1, 3, 3, 6, 2, 5],
        "recency": [0, 0, 1, 4, 6, 6, 2, 5],
        "T": [6, 3, 6, 6, 6, 6, 10, 12],
    }
)


def _bgbb_reference(p: dict, x: int, tx: int, n: int, m: int) -> np.ndarray:
    """P(x* | history), x* = 0..m, straight from the model's definition: for each (p, θ) a
    dynamic programme over the next m opportunities (drop out with θ, else transact with p)
    for the alive-through-n part of the history's likelihood, the dead part putting its
    mass on 0; then both the joint and the likelihood are integrated over the Beta priors by
    Gauss-Jacobi quadrature (the integrands are polynomials in p and θ of degree <= n + m,
    so 40 nodes per axis integrate them exactly up to rounding)."""
    from scipy.special import roots_jacobi

    def beta_nodes(a: float, b: float, k: int = 40):
        # ∫ f(u) u^(a−1) (1−u)^(b−1) du / B(a, b) with u = (1+s)/2 and Jacobi weight
        # (1−s)^(b−1) (1+s)^(a−1); the normalisation cancels in the ratio below.
        s, w = roots_jacobi(k, b - 1.0, a - 1.0)
        return (1.0 + s) / 2.0, w

    pu, pw = beta_nodes(p["alpha"], p["beta"])
    tu, tw = beta_nodes(p["gamma"], p["delta"])
    joint = np.zeros(m + 1)
    like = 0.0
    for pi, wp in zip(pu, pw, strict=True):
        for th, wt in zip(tu, tw, strict=True):
            alive = pi**x * (1 - pi) ** (n - x) * (1 - th) ** n
            dead = sum(
                pi**x * (1 - pi) ** (tx - x + i) * th * (1 - th) ** (tx + i) for i in range(n - tx)
            )
            # dist[k]: alive with k transactions so far; gone: dropped out, by count.
            dist = np.zeros(m + 1)
            dist[0] = 1.0
            gone = np.zeros(m + 1)
            for _ in range(m):
                gone += th * dist
                stay = (1 - th) * dist
                dist = stay * (1 - pi)
                dist[1:] += stay[:-1] * pi
            future = dist + gone
            weight = wp * wt
            joint += weight * alive * future
            joint[0] += weight * dead
            like += weight * (alive + dead)
    return joint / like


@pytest.mark.parametrize(("x", "tx", "n"), [(0, 0, 6), (3, 4, 6), (3, 6, 6), (2, 2, 10)])
@pytest.mark.parametrize("m", [1, 5, 12])
def test_bg_bb_matches_quadrature_over_the_model_definition(x, tx, n, m):
    model = BetaGeoBetaBinom.from_params(BGBB)
    row = pl.DataFrame({"frequency": [x], "recency": [tx], "T": [n]})
    ours = np.array([model.conditional_p_purchases(row, k, m)[0] for k in range(m + 1)])
    ref = _bgbb_reference(BGBB, x, tx, n, m)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("params", [BGBB, {"alpha": 0.3, "beta": 4.0, "gamma": 2.5, "delta": 0.4}])
@pytest.mark.parametrize("m", [0, 1, 7, 40])
def test_bg_bb_sums_to_one_and_mean_is_conditional_expectation(params, m):
    model = BetaGeoBetaBinom.from_params(params)
    probs = np.column_stack(
        [model.conditional_p_purchases(BGBB_DATA, k, m).to_numpy() for k in range(m + 2)]
    )
    assert (probs >= 0).all() and (probs[:, m + 1] == 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    mean = probs @ np.arange(m + 2)
    expect = model.expected_purchases(BGBB_DATA, m).to_numpy()
    np.testing.assert_allclose(mean, expect, rtol=1e-10, atol=1e-14)


def test_bg_bb_fitted_on_simulated_data_is_vectorised_per_row():
    from truenorth.clv import simulate_bg_bb

    sim = simulate_bg_bb(3000, **BGBB, T=6, seed=11)
    model = BetaGeoBetaBinom().fit(sim)
    p0 = model.conditional_p_purchases(sim, 0, 5)
    assert p0.len() == sim.height
    # Rows with the same history get the same probability; more recent activity lowers P(0).
    by = sim.with_columns(p0=p0).group_by("frequency", "recency", "T").agg(pl.col("p0").n_unique())
    assert (by["p0"] == 1).all()
    q = sim.with_columns(p0=p0).filter(pl.col("frequency") == 2).sort("recency")["p0"]
    assert q.is_sorted(descending=True)
