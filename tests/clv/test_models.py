"""BTYD models: published estimates, agreement with lifetimes, recovery, extremes, bad input."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import truenorth.clv as clv
from truenorth.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModelInputError,
    ModifiedBetaGeo,
    ParetoNBD,
)

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    """Hardie's CDNOW calibration summary: 2,357 customers, 39 weeks, times in weeks."""
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture(scope="module")
def donations() -> pl.DataFrame:
    return pl.read_csv(DATA / "donations.csv").rename({"periods": "T"})


def lifetimes_quiet():
    """lifetimes (archived) warns on import and use under pandas 3: silence the peer only."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")
    return ctx


def peer():
    ctx = lifetimes_quiet()
    import lifetimes

    return lifetimes, ctx


# --------------------------------------------------------------------------------------
# Published estimates
# --------------------------------------------------------------------------------------


def test_bg_nbd_reproduces_fader_hardie_lee_2005(cdnow):
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
    # 24(2): r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4 (CDNOW, 39 weeks).
    m = BetaGeo(time_unit="1w").fit(cdnow)
    p = m.params
    assert m.converged and m.n_iterations > 0
    assert p["r"] == pytest.approx(0.243, abs=5e-4)
    assert p["alpha"] == pytest.approx(4.414, abs=5e-3)
    assert p["a"] == pytest.approx(0.793, abs=5e-4)
    assert p["b"] == pytest.approx(2.426, abs=5e-3)
    assert m.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert m.n_observations == 2357
    assert m.n_patterns < 2357  # compressed
    # Not the start values: the optimiser moved.
    assert p["r"] != pytest.approx(1.0)


def test_pareto_nbd_reproduces_published_cdnow(cdnow):
    # Fader, Hardie & Lee (2005) report for the Pareto/NBD on the same data:
    # r = 0.553, α = 10.578, s = 0.606, β = 11.669, LL = −9595.0.
    m = ParetoNBD(time_unit="1w").fit(cdnow)
    p = m.params
    assert m.converged
    assert p["r"] == pytest.approx(0.553, abs=5e-4)
    assert p["alpha"] == pytest.approx(10.578, abs=5e-3)
    assert p["s"] == pytest.approx(0.606, abs=5e-4)
    assert p["beta"] == pytest.approx(11.669, abs=5e-3)
    assert m.log_likelihood == pytest.approx(-9595.0, abs=0.05)


def test_gamma_gamma_reproduces_fader_hardie_note(cdnow):
    # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": p = 6.25, q = 3.74,
    # γ = 15.44 on the 946 repeat customers of the CDNOW sample.
    m = GammaGamma().fit(cdnow)
    assert m.converged
    assert m.n_observations == 946
    assert m.params["p"] == pytest.approx(6.25, abs=5e-3)
    assert m.params["q"] == pytest.approx(3.74, abs=5e-3)
    assert m.params["v"] == pytest.approx(15.44, abs=1e-2)
    # Independence check is reported (weak positive correlation on CDNOW).
    assert m.frequency_spend_correlation == pytest.approx(
        np.corrcoef(
            cdnow.filter(pl.col("frequency") > 0)["frequency"],
            cdnow.filter(pl.col("frequency") > 0)["monetary_value"],
        )[0, 1],
        rel=1e-12,
    )


def test_bg_bb_reproduces_fader_hardie_shang_2010(donations):
    # Fader, Hardie & Shang (2010), Marketing Science 29(6), donations data (11,104 donors, 6
    # annual opportunities): α = 1.204, β = 0.750, γ = 0.657, δ = 2.783, LL = −33,225.6.
    m = BetaGeoBetaBinom().fit(donations, weights="weights")
    p = m.params
    assert m.converged
    assert m.n_observations == 11104
    assert p["alpha"] == pytest.approx(1.204, abs=5e-4)
    assert p["beta"] == pytest.approx(0.750, abs=5e-4)
    assert p["gamma"] == pytest.approx(0.657, abs=5e-4)
    assert p["delta"] == pytest.approx(2.783, abs=5e-3)
    assert m.log_likelihood == pytest.approx(-33225.6, abs=0.05)


def test_mbg_nbd_matches_lifetimes_fit(cdnow):
    # No published Batislam et al. (2007) estimate for the CDNOW sample was found (their
    # paper uses a Turkish grocery panel), so the peer is lifetimes' ModifiedBetaGeoFitter.
    m = ModifiedBetaGeo(time_unit="1w").fit(cdnow)
    lifetimes, ctx = peer()
    try:
        f = lifetimes.ModifiedBetaGeoFitter().fit(
            cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
        )
        ref = dict(f.params_)
    finally:
        ctx.__exit__(None, None, None)
    for k, v in ref.items():
        assert m.params[k] == pytest.approx(v, rel=2e-4), k
    # Our maximum is at least as high as the peer's (log-likelihood in data units).
    ll_peer = float(m.from_params(ref).log_likelihood_rows(cdnow).sum())
    assert m.log_likelihood >= ll_peer - 1e-6


def test_log_likelihood_rows_sum_to_fit_value(cdnow):
    m = BetaGeo().fit(cdnow)
    assert float(m.log_likelihood_rows(cdnow).sum()) == pytest.approx(m.log_likelihood, rel=1e-12)


def test_weights_equal_repeated_rows(cdnow):
    small = cdnow.head(300)
    doubled = pl.concat([small, small])
    a = BetaGeo().fit(doubled)
    b = BetaGeo().fit(small, weights=pl.Series([2.0] * 300))
    for k in a.params:
        assert a.params[k] == pytest.approx(b.params[k], rel=1e-7)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-10)


def test_standard_errors_match_inverse_hessian_of_data_ll(cdnow):
    """SEs vs an independent numeric Hessian of the total LL in natural parameters."""
    m = BetaGeo().fit(cdnow)
    names = list(m.params)
    theta = np.array([m.params[k] for k in names])

    def ll(v):
        return float(
            BetaGeo.from_params(dict(zip(names, v, strict=True))).log_likelihood_rows(cdnow).sum()
        )

    h = np.zeros((4, 4))
    eps = 1e-4 * theta
    for i in range(4):
        for j in range(4):

            def f(di, dj, i=i, j=j):
                v = theta.copy()
                v[i] += di * eps[i]
                v[j] += dj * eps[j]
                return ll(v)

            h[i, j] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * eps[i] * eps[j])
    se = np.sqrt(np.diag(np.linalg.inv(-h)))
    for k, s in zip(names, se, strict=True):
        assert m.standard_errors[k] == pytest.approx(s, rel=2e-3), k


# --------------------------------------------------------------------------------------
# Agreement with lifetimes at equal parameters
# --------------------------------------------------------------------------------------

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def _np(df: pl.DataFrame):
    return df["frequency"].to_numpy(), df["recency"].to_numpy(), df["T"].to_numpy()


@pytest.mark.peer
@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 52.0])
def test_bg_nbd_predictions_match_lifetimes(cdnow, t):
    import pandas as pd

    ours = BetaGeo.from_params(BG, time_unit="1w")
    lifetimes, ctx = peer()
    try:
        f = lifetimes.BetaGeoFitter()
        f.params_ = pd.Series(BG)
        x, tx, T = _np(cdnow)
        e_ref = np.asarray(f.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T))
        pa_ref = np.asarray(f.conditional_probability_alive(x, tx, T))
        new_ref = float(f.expected_number_of_purchases_up_to_time(t))
        pn_ref = [float(f.probability_of_n_purchases_up_to_time(t, n)) for n in range(5)]
    finally:
        ctx.__exit__(None, None, None)
    np.testing.assert_allclose(ours.expected_purchases(cdnow, t).to_numpy(), e_ref, rtol=1e-8)
    np.testing.assert_allclose(ours.p_alive(cdnow).to_numpy(), pa_ref, rtol=1e-10)
    assert ours.expected_purchases_new(t) == pytest.approx(new_ref, rel=1e-9)
    for n in range(5):
        assert ours.p_purchases(n, t) == pytest.approx(pn_ref[n], rel=1e-9)


@pytest.mark.peer
def test_mbg_nbd_predictions_match_lifetimes(cdnow):
    import pandas as pd

    ours = ModifiedBetaGeo.from_params(BG)
    lifetimes, ctx = peer()
    try:
        f = lifetimes.ModifiedBetaGeoFitter()
        f.params_ = pd.Series(BG)
        x, tx, T = _np(cdnow)
        e_ref = np.asarray(f.conditional_expected_number_of_purchases_up_to_time(10.0, x, tx, T))
        pa_ref = np.asarray(f.conditional_probability_alive(x, tx, T))
        new_ref = float(f.expected_number_of_purchases_up_to_time(10.0))
        pn_ref = [float(f.probability_of_n_purchases_up_to_time(10.0, n)) for n in range(4)]
    finally:
        ctx.__exit__(None, None, None)
    np.testing.assert_allclose(ours.expected_purchases(cdnow, 10.0).to_numpy(), e_ref, rtol=1e-8)
    np.testing.assert_allclose(ours.p_alive(cdnow).to_numpy(), pa_ref, rtol=1e-10)
    assert ours.expected_purchases_new(10.0) == pytest.approx(new_ref, rel=1e-9)
    for n in range(4):
        assert ours.p_purchases(n, 10.0) == pytest.approx(pn_ref[n], rel=1e-9)


@pytest.mark.peer
def test_pareto_nbd_predictions_match_lifetimes(cdnow):
    import pandas as pd

    ours = ParetoNBD.from_params(PNBD)
    lifetimes, ctx = peer()
    try:
        f = lifetimes.ParetoNBDFitter()
        f.params_ = pd.Series(PNBD)
        x, tx, T = _np(cdnow)
        pa_ref = np.asarray(f.conditional_probability_alive(x, tx, T))
        e_ref = np.asarray(f.conditional_expected_number_of_purchases_up_to_time(10.0, x, tx, T))
        new_ref = float(f.expected_number_of_purchases_up_to_time(10.0))
    finally:
        ctx.__exit__(None, None, None)
    np.testing.assert_allclose(ours.p_alive(cdnow).to_numpy(), pa_ref, rtol=1e-8)
    np.testing.assert_allclose(ours.expected_purchases(cdnow, 10.0).to_numpy(), e_ref, rtol=1e-8)
    assert ours.expected_purchases_new(10.0) == pytest.approx(new_ref, rel=1e-9)


@pytest.mark.peer
def test_bg_bb_predictions_match_lifetimes(donations):
    import pandas as pd

    params = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    ours = BetaGeoBetaBinom.from_params(params)
    lifetimes, ctx = peer()
    try:
        f = lifetimes.BetaGeoBetaBinomFitter()
        f.params_ = pd.Series(params)
        x, tx, n = _np(donations)
        pa_ref = np.asarray(f.conditional_probability_alive(1, x, tx, n))
        e_ref = np.asarray(f.conditional_expected_number_of_purchases_up_to_time(5, x, tx, n))
    finally:
        ctx.__exit__(None, None, None)
    # FHS (2010) eq. 11 defines P(alive) as alive at opportunity n + 1 (B(γ, δ+n+1));
    # lifetimes parameterises it as alive at n + m, so ours is its m = 1.
    np.testing.assert_allclose(ours.p_alive(donations).to_numpy(), pa_ref, rtol=1e-10)
    np.testing.assert_allclose(ours.expected_purchases(donations, 5).to_numpy(), e_ref, rtol=1e-9)


@pytest.mark.peer
def test_gamma_gamma_expected_spend_matches_lifetimes(cdnow):
    import pandas as pd

    gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    lifetimes, ctx = peer()
    try:
        f = lifetimes.GammaGammaFitter()
        f.params_ = pd.Series({"p": 6.25, "q": 3.74, "v": 15.44})
        ref = np.asarray(
            f.conditional_expected_average_profit(
                cdnow["frequency"].to_numpy(), cdnow["monetary_value"].to_numpy()
            )
        )
    finally:
        ctx.__exit__(None, None, None)
    np.testing.assert_allclose(gg.expected_spend(cdnow).to_numpy(), ref, rtol=1e-12)


def test_bg_bb_hand_case_expected_purchases():
    # One donor who never gave again (x = 0, t_x = 0, n = 6): E[X(6, 6+m)] by the defining
    # sum over the posterior, computed here with plain floats from FHS (2010) eq. (13).
    from math import exp, lgamma

    al, be, ga, de = 1.204, 0.750, 0.657, 2.783
    m = BetaGeoBetaBinom.from_params({"alpha": al, "beta": be, "gamma": ga, "delta": de})

    def lbeta(a, b):
        return lgamma(a) + lgamma(b) - lgamma(a + b)

    x, tx, n = 0, 0, 6
    L = exp(lbeta(al + x, be + n - x) - lbeta(al, be) + lbeta(ga, de + n) - lbeta(ga, de))
    L += sum(
        exp(
            lbeta(al + x, be + tx - x + i)
            - lbeta(al, be)
            + lbeta(ga + 1, de + tx + i)
            - lbeta(ga, de)
        )
        for i in range(n - tx)
    )
    # Σ_{k=1..m} P(alive at n+k) · E[p]·posterior = direct sum over future opportunities
    e = 0.0
    for k in range(1, 4):
        e += (
            exp(
                lbeta(al + x + 1, be + n - x)
                - lbeta(al, be)
                + lbeta(ga, de + n + k)
                - lbeta(ga, de)
            )
            / L
        )
    df = pl.DataFrame({"frequency": [0], "recency": [0], "T": [6]})
    assert m.expected_purchases(df, 3)[0] == pytest.approx(e, rel=1e-12)


# --------------------------------------------------------------------------------------
# Parameter recovery on simulated data
# --------------------------------------------------------------------------------------


def _within(fitted, truth, k_se=4.0):
    for k, v in truth.items():
        se = fitted.standard_errors[k]
        assert abs(fitted.params[k] - v) < k_se * se, f"{k}: {fitted.params[k]} vs {v} (se {se})"
        assert se < 0.25 * v, f"{k}: se {se} too large to be a meaningful check"


def test_recovers_bg_nbd_parameters():
    truth = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    sim = clv.simulate_bg_nbd(100_000, **truth, T=52.0, seed=11)
    _within(BetaGeo().fit(sim), truth)


def test_recovers_mbg_nbd_parameters():
    truth = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    sim = clv.simulate_mbg_nbd(100_000, **truth, T=52.0, seed=12)
    _within(ModifiedBetaGeo().fit(sim), truth)


def test_recovers_pareto_nbd_parameters():
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 10.0}
    T = pl.Series(np.linspace(30.0, 80.0, 60_000))
    sim = clv.simulate_pareto_nbd(60_000, **truth, T=T, seed=13)
    _within(ParetoNBD().fit(sim), truth)


def test_recovers_bg_bb_parameters():
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    sim = clv.simulate_bg_bb(100_000, **truth, T=10, seed=14)
    _within(BetaGeoBetaBinom().fit(sim), truth)


def test_recovers_gamma_gamma_parameters():
    truth = {"p": 6.0, "q": 4.0, "v": 15.0}
    freq = pl.Series("frequency", (np.arange(50_000) % 8) + 1)
    m = clv.simulate_gamma_gamma(freq, **truth, seed=15)
    df = pl.DataFrame({"frequency": freq, "monetary_value": m})
    fitted = GammaGamma().fit(df)
    _within(fitted, truth)
    assert abs(fitted.frequency_spend_correlation) < 0.02


def test_simulators_are_seeded():
    a = clv.simulate_bg_nbd(1000, 0.5, 5.0, 0.8, 2.5, T=52.0, seed=3)
    b = clv.simulate_bg_nbd(1000, 0.5, 5.0, 0.8, 2.5, T=52.0, seed=3)
    c = clv.simulate_bg_nbd(1000, 0.5, 5.0, 0.8, 2.5, T=52.0, seed=4)
    assert a.equals(b) and not a.equals(c)
    log = clv.simulate_bg_nbd_transactions(200, 0.5, 5.0, 0.8, 2.5, seed=5, spend=(6.0, 4.0, 15.0))
    assert log.columns == ["customer", "time", "amount"]
    assert log["customer"].n_unique() == 200
    assert (log["amount"] > 0).all()


def test_simulated_day_grid_merges_same_period():
    sim = clv.simulate_bg_nbd(5000, 2.0, 1.0, 0.5, 5.0, T=10.0, seed=9, resolution=1.0)
    # Day grid: recency is a whole number of periods and frequency never exceeds it.
    assert (sim["recency"] == sim["recency"].floor()).all()
    assert (sim["frequency"] <= sim["recency"]).all()


# --------------------------------------------------------------------------------------
# Numerical extremes: finite, no warnings (the suite runs clean under -W error)
# --------------------------------------------------------------------------------------

EXTREME = pl.DataFrame(
    {
        "frequency": [500.0, 500.0, 0.0, 1.0, 10_000.0, 3.0],
        "recency": [9_999.0, 1.0, 0.0, 10_000.0, 9_000.0, 1e-9],
        "T": [10_000.0, 10_000.0, 10_000.0, 10_000.0, 10_000.0, 1e6],
    }
)


@pytest.mark.parametrize(
    "model",
    [
        BetaGeo.from_params(BG),
        ModifiedBetaGeo.from_params(BG),
        ParetoNBD.from_params(PNBD),
        ParetoNBD.from_params({"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 10.578}),
    ],
    ids=["bg", "mbg", "pnbd", "pnbd-alpha-gt-beta"],
)
def test_extremes_are_finite(model, recwarn):
    pa = model.p_alive(EXTREME)
    e = model.expected_purchases(EXTREME, 52.0)
    ll = model.log_likelihood_rows(EXTREME)
    for s in (pa, e, ll):
        assert s.is_finite().all(), s
    assert ((pa >= 0) & (pa <= 1)).all()
    assert (e >= 0).all()
    # A customer who bought 500 times but not for 9999 weeks is almost surely gone.
    assert pa[1] < 1e-6
    assert len(recwarn) == 0


def test_fit_on_extreme_population_is_finite():
    sim = clv.simulate_bg_nbd(20_000, 5.0, 0.5, 0.5, 50.0, T=2_000.0, seed=21)
    assert sim["frequency"].max() > 5_000
    m = BetaGeo().fit(sim)
    assert m.converged and math.isfinite(m.log_likelihood)


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------

GOOD = {"frequency": [0, 2, 1], "recency": [0.0, 5.0, 3.0], "T": [10.0, 10.0, 8.0]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recency": None}, r"column 'recency' is missing"),
        ({"T": ["a", "b", "c"]}, r"column 'T' must be numeric, got String"),
        ({"frequency": [0, -1, 1]}, r"column 'frequency', row 2: expected a non-negative value"),
        ({"T": [10.0, float("nan"), 8.0]}, r"column 'T', row 2: expected a finite number"),
        ({"T": [10.0, float("inf"), 8.0]}, r"column 'T', row 2: expected a finite number"),
        ({"recency": [0.0, 11.0, 3.0]}, r"column 'recency', row 2: recency 11.0 is greater than T"),
        ({"recency": [0.0, 0.0, 3.0]}, r"row 2: frequency 2 > 0 but recency 0"),
        ({"recency": [1.0, 5.0, 3.0]}, r"row 1: frequency 0 but recency 1.0"),
        ({"frequency": [0, 2.5, 1]}, r"column 'frequency', row 2: expected a whole number"),
        ({"frequency": [0, None, 1]}, r"column 'frequency', row 2: null value"),
        (
            {"T": [10.0, 10.0, 0.0], "recency": [0.0, 5.0, 0.0], "frequency": [0, 2, 0]},
            r"column 'T', row 3: T is 0",
        ),
    ],
)
def test_bad_summaries_raise_clear_errors(change, message):
    data = dict(GOOD)
    for k, v in change.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    df = pl.DataFrame(data, strict=False)
    with pytest.raises(ModelInputError, match=message):
        BetaGeo().fit(df)
    with pytest.raises(ModelInputError, match=message):
        BetaGeo.from_params(BG).p_alive(df)


def test_empty_single_and_no_repeat_inputs():
    empty = pl.DataFrame(schema={"frequency": pl.Int64, "recency": pl.Float64, "T": pl.Float64})
    with pytest.raises(ModelInputError, match="summary is empty"):
        BetaGeo().fit(empty)
    one = pl.DataFrame({"frequency": [1], "recency": [2.0], "T": [5.0]})
    with pytest.raises(ModelInputError, match="single customer"):
        ParetoNBD().fit(one)
    # A single customer can still be scored.
    assert BetaGeo.from_params(BG).p_alive(one).len() == 1
    nobody = pl.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [5.0, 6.0]})
    with pytest.raises(ModelInputError, match="0 for every customer"):
        BetaGeo().fit(nobody)
    no_repeat = pl.DataFrame({"frequency": [0, 0], "monetary_value": [0.0, 0.0]})
    with pytest.raises(ModelInputError, match="no repeat customers"):
        GammaGamma().fit(no_repeat)
    bad_spend = pl.DataFrame({"frequency": [1, 2], "monetary_value": [10.0, 0.0]})
    with pytest.raises(ModelInputError, match=r"column 'monetary_value', row 2:"):
        GammaGamma().fit(bad_spend)


def test_bg_bb_specific_checks():
    df = pl.DataFrame({"frequency": [3], "recency": [2], "T": [6]})
    with pytest.raises(ModelInputError, match="exceeds recency"):
        BetaGeoBetaBinom.from_params({"alpha": 1, "beta": 1, "gamma": 1, "delta": 1}).p_alive(df)
    df = pl.DataFrame({"frequency": [1], "recency": [2.5], "T": [6]})
    with pytest.raises(ModelInputError, match=r"column 'recency', row 1: expected a whole number"):
        BetaGeoBetaBinom.from_params({"alpha": 1, "beta": 1, "gamma": 1, "delta": 1}).p_alive(df)


def test_bad_parameters_and_arguments(cdnow):
    with pytest.raises(ModelInputError, match="missing b"):
        BetaGeo.from_params({"r": 1, "alpha": 1, "a": 1})
    with pytest.raises(ModelInputError, match="parameter r must be a positive"):
        BetaGeo.from_params({"r": -1, "alpha": 1, "a": 1, "b": 1})
    with pytest.raises(clv.NotFittedError, match="call fit"):
        BetaGeo().p_alive(cdnow)
    with pytest.raises(ModelInputError, match="t must be a non-negative"):
        BetaGeo.from_params(BG).expected_purchases(cdnow, -1)
    with pytest.raises(ModelInputError, match="time_unit"):
        BetaGeo(time_unit="1fortnight")
    with pytest.raises(ModelInputError, match="weights: expected 2357 values"):
        BetaGeo().fit(cdnow, weights=[1.0, 2.0])
    with pytest.raises(ModelInputError, match="column 'nope' is missing"):
        BetaGeo().fit(cdnow, weights="nope")


def test_non_convergence_is_reported(cdnow):
    with pytest.warns(clv.ConvergenceWarning, match="did not converge"):
        m = BetaGeo().fit(cdnow, max_iter=2)
    assert m.converged is False


def test_accepts_lazy_and_pandas_frames(cdnow):
    a = BetaGeo.from_params(BG).p_alive(cdnow.lazy())
    b = BetaGeo.from_params(BG).p_alive(cdnow.to_pandas())
    assert a.equals(b)


@pytest.mark.parametrize(
    ("model", "t"),
    [
        (BetaGeo.from_params(BG), 39.0),
        (ModifiedBetaGeo.from_params(BG), 39.0),
        (ParetoNBD.from_params(PNBD), 39.0),
        (
            BetaGeoBetaBinom.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}),
            6,
        ),
    ],
    ids=["bg", "mbg", "pnbd", "bgbb"],
)
def test_p_purchases_is_a_distribution_with_the_model_mean(model, t):
    probs = [model.p_purchases(n, t) for n in range(200)]
    assert all(0 <= p <= 1 for p in probs)
    assert sum(probs) == pytest.approx(1.0, abs=1e-9)
    mean = sum(n * p for n, p in enumerate(probs))
    assert mean == pytest.approx(model.expected_purchases_new(t), rel=1e-7)


def test_very_long_horizons_are_finite_and_bounded():
    # a > 1 with horizons up to 10^8 times the customer's age: the 2F1 series would need
    # millions of terms (z ≈ 1); the kernel switches to the integral over the drop-out
    # probability. E[Y(t)] grows with t towards E[1/p] = (a+b−1)/(a−1) for x = 0.
    m = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 5.0, "b": 2.426})
    df = pl.DataFrame({"frequency": [0], "recency": [0.0], "T": [5.0]})
    values = [m.expected_purchases(df, t)[0] for t in (1e1, 1e3, 1e6, 1e9)]
    assert all(math.isfinite(v) for v in values)
    assert values == sorted(values)
    limit = (5.0 + 2.426 - 1.0) / 4.0
    assert 0.95 * limit < values[-1] < limit
    # Independent check at t = 1e6 with scipy's adaptive quadrature of the same expectation
    # (x = 0: p ~ Beta(a, b), E[Y(t) | alive] = E[(1 − (1 + p t/(α+T))^−r) / p]).
    from scipy.integrate import quad
    from scipy.special import betaln

    r, al, a, b, T, t = 0.243, 4.414, 5.0, 2.426, 5.0, 1e6
    c = t / (al + T)

    def f(p):
        return math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p) - betaln(a, b)) * (
            -math.expm1(-r * math.log1p(p * c)) / p
        )

    ref = quad(f, 0, 0.5, epsabs=1e-13, limit=200)[0] + quad(f, 0.5, 1, epsabs=1e-13, limit=200)[0]
    assert values[2] == pytest.approx(ref, rel=1e-9)


def test_parameter_table_and_time_unit(cdnow):
    m = BetaGeo().fit(cdnow, time_unit="1w")
    assert m.time_unit == "1w"
    tab = m.summary()
    assert tab["parameter"].to_list() == ["r", "alpha", "a", "b"]
    assert ((tab["lower_95"] < tab["estimate"]) & (tab["estimate"] < tab["upper_95"])).all()
    # Wald interval on the log scale: estimate is the geometric mean of the bounds.
    np.testing.assert_allclose(
        (tab["lower_95"] * tab["upper_95"]).sqrt().to_numpy(),
        tab["estimate"].to_numpy(),
        rtol=1e-12,
    )
    assert "BetaGeo(r=0.2426" in repr(m)


def test_a_likelihood_that_overflows_is_a_data_error_naming_the_columns():
    # amounts near the top of float64: the fit cannot start, and the user can fix it by
    # rescaling, so it is ModelInputError (exit 2 in a rule run), not a RuntimeError (exit 3)
    df = pl.DataFrame(
        {
            "frequency": [1.0, 2.0, 3.0, 1.0],
            "recency": [5.0, 6.0, 7.0, 3.0],
            "T": [10.0, 10.0, 10.0, 10.0],
            "monetary_value": [1e308, 1e308, 5e307, 1e308],
        }
    )
    with pytest.raises(clv.ModelInputError, match=r"monetary_value \(max 1e\+308\).*Rescale"):
        clv.GammaGamma().fit(df)
