"""New-customer predictions of the time-varying-covariate Pareto/NBD
(``expected_purchases_new``, ``p_purchases``; truenorth.clv._dyn_new): constant covariates give
the static Pareto/NBD's new customer with α·exp(−z'γ_trans), β·exp(−z'γ_life); a path that
changes (a customer born mid-period) is checked against a Monte Carlo simulation of the model
itself; bad inputs are clear errors."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from truenorth import clv
from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic

ORIGIN = datetime(2024, 1, 1)
END = ORIGIN + timedelta(weeks=26)
P = {"r": 0.9, "alpha": 4.0, "s": 0.8, "beta": 12.0}
G = {"trans.promo": 0.8, "trans.season": 0.4, "life.promo": 0.6}


@pytest.fixture(scope="module")
def model():
    """A fitted model's coding and calendar at known parameters."""
    tr, cov = simulate_dynamic(200, weeks=26, future_weeks=30, seed=2)
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["promo", "season"], lifetime=["promo"], calibration_end=END
    )
    return dataclasses.replace(fit, params=P, coefficient_values=G)


def test_constant_covariates_give_the_static_models_new_customer(model):
    z = {"promo": 1.0, "season": 0.5}
    a = math.exp(G["trans.promo"] + 0.5 * G["trans.season"])
    b = math.exp(G["life.promo"])
    static = clv.ParetoNBD.from_params(
        {"r": P["r"], "alpha": P["alpha"] / a, "s": P["s"], "beta": P["beta"] / b}
    )
    ts = [0.0, 1.0, 6.5, 30.0]
    got = model.expected_purchases_new(ts, covariates=z)
    want = [static.expected_purchases_new(t) for t in ts]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-9, atol=1e-14)
    for n in (0, 1, 3):
        got_p = model.p_purchases(n, ts[1:], covariates=z)
        want_p = [static.p_purchases(n, t) for t in ts[1:]]
        np.testing.assert_allclose(got_p.to_numpy(), want_p, rtol=1e-7)
    # one t gives a number; born does not matter for a constant path
    one = model.expected_purchases_new(6.5, covariates=z, born=datetime(2024, 3, 5, 12))
    assert one == pytest.approx(want[2], rel=1e-9)


def _path():
    """Promo on in weeks 1 and 3-4 after the birth week, a seasonal wave, from the origin."""
    k = np.arange(30)
    return pl.DataFrame(
        {
            "period": [ORIGIN + timedelta(weeks=int(i)) for i in k],
            "promo": np.isin(k, [3, 5, 6]).astype(float),
            "season": np.sin(2 * np.pi * k / 52),
        }
    )


BORN = ORIGIN + timedelta(weeks=2, days=3)  # mid-way through week 2


def _simulate(n: int, t: float, seed: int) -> np.ndarray:
    """Repeat purchases in (born, born + t] of ``n`` new customers drawn from the model with
    the path of ``_path``: exact death time from the piecewise-constant hazard, purchases
    Poisson in each alive piece (independent of the code under test)."""
    path = _path()
    promo, season = path["promo"].to_numpy(), path["season"].to_numpy()
    start = (BORN - ORIGIN) / timedelta(weeks=1)
    edges = np.arange(len(promo) + 1, dtype=float)
    lo = np.clip(edges[:-1], start, start + t) - start
    hi = np.clip(edges[1:], start, start + t) - start
    length = hi - lo
    a = np.exp(G["trans.promo"] * promo + G["trans.season"] * season)
    b = np.exp(G["life.promo"] * promo)
    rng = np.random.default_rng(seed)
    lam = rng.gamma(P["r"], 1 / P["alpha"], n)
    mu = rng.gamma(P["s"], 1 / P["beta"], n)
    e = rng.exponential(1.0, n)
    hazard = mu[:, None] * (b * length)[None, :]
    before = np.cumsum(hazard, axis=1) - hazard
    # time alive in each piece: all of it before the death piece, the part up to death in it
    alive = np.clip((e[:, None] - before) / np.maximum(mu[:, None] * b[None, :], 1e-300), 0, None)
    alive = np.minimum(alive, length[None, :])
    return rng.poisson(lam[:, None] * a[None, :] * alive).sum(axis=1)


def test_a_changing_path_matches_a_simulation_of_the_model(model):
    n, t = 200_000, 6.0
    counts = _simulate(n, t, seed=3)
    mean = model.expected_purchases_new(t, covariates=_path(), born=BORN)
    # 4 standard errors of the simulated mean (sd ~1.3 -> se 0.003)
    assert mean == pytest.approx(counts.mean(), abs=4 * counts.std() / math.sqrt(n))
    for k in range(4):
        p = model.p_purchases(k, t, covariates=_path(), born=BORN)
        share = (counts == k).mean()
        assert p == pytest.approx(share, abs=4 * math.sqrt(share * (1 - share) / n))
    # the promo weeks matter: a path without them gives visibly fewer purchases
    flat = model.expected_purchases_new(
        t, covariates=_path().with_columns(promo=pl.lit(0.0)), born=BORN
    )
    assert flat < 0.8 * mean


def test_the_pmf_sums_to_one_and_its_mean_is_the_expectation(model):
    kw = {"covariates": _path(), "born": BORN}
    ps = np.array([model.p_purchases(k, 10.0, **kw) for k in range(200)])
    assert ps.sum() == pytest.approx(1.0, abs=1e-9)
    assert (ps * np.arange(200)).sum() == pytest.approx(
        model.expected_purchases_new(10.0, **kw), rel=1e-8
    )


def test_new_customer_inputs_are_checked(model):
    with pytest.raises(ModelInputError, match="born: a new customer with a covariate path"):
        model.expected_purchases_new(4.0, covariates=_path())
    with pytest.raises(ModelInputError, match="'season' missing"):
        model.expected_purchases_new(4.0, covariates={"promo": 1.0})
    short = _path().head(4)
    with pytest.raises(ModelInputError, match="customer 'new customer' has no row for the period"):
        model.expected_purchases_new(4.0, covariates=short, born=BORN)
    two = _path().with_columns(customer=pl.int_range(pl.len()) % 2)
    with pytest.raises(ModelInputError, match="the path of one new customer expected"):
        model.p_purchases(0, 4.0, covariates=two, born=BORN)
    with pytest.raises(ModelInputError, match="born must be a date or datetime"):
        model.expected_purchases_new(4.0, covariates=_path(), born="2024-01-17")
    with pytest.raises(ModelInputError, match="n must be a non-negative integer"):
        model.p_purchases(-1, 4.0, covariates={"promo": 1.0, "season": 0.0})
    with pytest.raises(ModelInputError, match="t must be a non-negative"):
        model.expected_purchases_new(-1.0, covariates={"promo": 1.0, "season": 0.0})
