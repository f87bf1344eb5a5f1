"""Delta-method intervals, Gamma-Gamma spend uncertainty in CLV intervals, and expected
purchases over a horizon per row, for every purchase model (issue #10)."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from truenorth import clv
from truenorth.clv._input import ModelInputError

GG = {"p": 6.25, "q": 3.74, "v": 15.44}
CASES = {
    # kind: (true parameters, T, holdout)
    "bg_nbd": ({"r": 0.5, "alpha": 5.0, "a": 0.7, "b": 2.5}, 40.0, 20.0),
    "mbg_nbd": ({"r": 0.5, "alpha": 5.0, "a": 0.7, "b": 2.5}, 40.0, 20.0),
    "pareto_nbd": ({"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}, 40.0, 20.0),
    "ggom_nbd": ({"r": 0.85, "alpha": 4.45, "b": 0.12, "s": 0.75, "beta": 9.55}, 40.0, 20.0),
    "bg_bb": ({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}, 6.0, 5.0),
}


def _fitted(kind: str, n: int = 4000, seed: int = 7):
    params, T, h = CASES[kind]
    cls = clv.models_registry()[kind]
    sample = clv.simulate_model(cls.from_params(params), n, T=T, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return sample, cls(time_unit="1w").fit(sample), h


@pytest.mark.parametrize("kind", list(CASES))
def test_delta_intervals_agree_with_many_draws(kind):
    # Both methods describe the same asymptotic normal of the log-parameters; with 4000
    # draws the draws' quantiles are within ~2% of the width, so bounds that differ by more
    # than a quarter of the width mean a wrong gradient, link or covariance.
    sample, m, h = _fitted(kind)
    ref = sample.unique(["frequency", "recency", "T"]).sort("frequency").head(40)
    for what, f in [
        ("expected_purchases", lambda **k: m.expected_purchases(ref, h, **k)),
        ("p_alive", lambda **k: m.p_alive(ref, **k)),
    ]:
        delta = f(interval=0.9, method="delta")
        draws = f(interval=0.9, method="normal", draws=4000, seed=1)
        lo, pt, hi = (delta[c] for c in (f"{what}_lower", what, f"{what}_upper"))
        assert ((lo <= pt + 1e-12) & (pt <= hi + 1e-12)).all(), what
        width = (draws[f"{what}_upper"] - draws[f"{what}_lower"]).to_numpy()
        for side in ("lower", "upper"):
            gap = np.abs(delta[f"{what}_{side}"].to_numpy() - draws[f"{what}_{side}"].to_numpy())
            assert (gap <= 0.25 * width + 1e-12).all(), (kind, what, side, gap.max())
        if what == "p_alive":
            assert (hi <= 1.0).all() and (lo >= 0.0).all()


def test_delta_interval_of_conditional_pmf_and_clv_stay_in_range():
    sample, m, h = _fitted("bg_nbd")
    p = m.conditional_p_purchases(sample, 1, h, interval=0.8, method="delta")
    assert p["conditional_p_purchases_lower"].min() >= 0
    assert p["conditional_p_purchases_upper"].max() <= 1
    v = clv.lifetime_value(m, 20.0, sample, horizon=6, interval=0.9, method="delta")
    assert (v["clv_lower"] >= 0).all() and (v["clv_lower"] <= v["clv"]).all()
    assert (v["clv"] <= v["clv_upper"]).all()


def _with_spend(n: int, seed: int):
    params, T, _ = CASES["bg_nbd"]
    s = clv.simulate_bg_nbd(n, **params, T=T, seed=seed)
    return s.with_columns(
        monetary_value=clv.simulate_gamma_gamma(s["frequency"], **GG, seed=seed + 1)
    )


@pytest.mark.parametrize("method", ["delta", "normal", "bootstrap"])
def test_gamma_gamma_uncertainty_widens_the_clv_interval(method):
    s = _with_spend(3000, 11)
    bg = clv.BetaGeo(time_unit="1w").fit(s)
    gg = clv.GammaGamma().fit(s)
    kw = {"horizon": 12, "interval": 0.9, "method": method, "draws": 100, "seed": 2}
    joint = clv.lifetime_value(bg, gg, s, **kw)
    fixed = clv.lifetime_value(bg, gg.expected_spend(s), s, **kw)
    assert joint["clv"].equals(fixed["clv"])
    wj = (joint["clv_upper"] - joint["clv_lower"]).to_numpy()
    wf = (fixed["clv_upper"] - fixed["clv_lower"]).to_numpy()
    # Spend adds variance on the log scale: every band widens (draws: up to Monte Carlo
    # noise per row, so on average; both runs share the purchase draws, so the difference
    # is the spend's alone).
    if method == "delta":
        assert (wj >= wf - 1e-9).all()
    assert wj.mean() > 1.02 * wf.mean(), (wj.mean(), wf.mean())
    assert ((joint["clv_lower"] <= joint["clv"]) & (joint["clv"] <= joint["clv_upper"])).all()


def test_spend_model_without_covariance_is_a_clear_error():
    s = _with_spend(2000, 3)
    bg = clv.BetaGeo(time_unit="1w").fit(s)
    gg = clv.GammaGamma.from_params(GG)
    with pytest.raises(ModelInputError, match="no parameter covariance"):
        clv.lifetime_value(bg, gg, s, horizon=6, interval=0.9)
    # holding the spend at its estimate is the documented way out
    out = clv.lifetime_value(bg, gg.expected_spend(s), s, horizon=6, interval=0.9)
    assert out.height == s.height


@pytest.mark.parametrize("kind", list(CASES))
def test_per_row_horizon_matches_a_scalar_loop(kind):
    sample, m, _ = _fitted(kind, n=600)
    ref = sample.head(60)
    whole = kind == "bg_bb"
    horizons = pl.Series("h", [float(i % 5) * (1.0 if whole else 3.25) for i in range(60)])
    per_row = m.expected_purchases(ref, horizons)
    loop = [
        m.expected_purchases(ref.slice(i, 1), int(v) if whole else v)[0]
        for i, v in enumerate(horizons)
    ]
    np.testing.assert_allclose(per_row.to_numpy(), loop, rtol=1e-13, atol=0)
    assert m.expected_purchases(ref.with_columns(horizons), "h").equals(per_row)
    with pytest.raises(ModelInputError, match="t: expected 60 horizons"):
        m.expected_purchases(ref, horizons.head(5))
    with pytest.raises(ModelInputError, match="non-negative"):
        m.expected_purchases(ref, horizons - 100)
