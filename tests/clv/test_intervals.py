"""Prediction intervals, vcov, confint and lrtest of fitted models (issue #10, Uncertainty)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from truenorth import clv
from truenorth.clv import _lrtest
from truenorth.clv._input import ModelInputError

BUNDLED = Path(clv.__file__).parents[1] / "packs" / "data" / "transactions.csv"
BG = {"r": 0.5, "alpha": 5.0, "a": 0.7, "b": 2.5}


@pytest.fixture(scope="module")
def fitted():
    s = clv.simulate_bg_nbd(4000, **BG, T=40, seed=3)
    return s, clv.BetaGeo(time_unit="1w").fit(s)


def test_interval_frames_bracket_the_point_and_are_reproducible(fitted):
    s, m = fitted
    cases = [
        ("p_alive", lambda **k: m.p_alive(s, **k)),
        ("expected_purchases", lambda **k: m.expected_purchases(s, 20, **k)),
        ("conditional_p_purchases", lambda **k: m.conditional_p_purchases(s, 1, 20, **k)),
        ("clv", lambda **k: clv.lifetime_value(m, 25.0, s, horizon=6, **k)),
    ]
    for name, f in cases:
        out = f(interval=0.9, draws=300, seed=5)
        assert out.columns == [name, f"{name}_lower", f"{name}_upper"]
        assert out.height == s.height
        lo, pt, hi = out[f"{name}_lower"], out[name], out[f"{name}_upper"]
        # the estimate sits inside its band (exactly on it only where the value is pinned,
        # e.g. P(alive) = 1 for BG/NBD customers without repeat purchases)
        assert ((lo <= pt + 1e-12) & (pt <= hi + 1e-12)).all(), name
        assert (hi - lo).max() > 0, name
        assert out[name].to_list() == f().to_list()
        assert out.equals(f(interval=0.9, draws=300, seed=5))
        wider = f(interval=0.99, draws=300, seed=5)
        assert (wider[f"{name}_upper"] - wider[f"{name}_lower"] >= hi - lo - 1e-12).all()


def test_normal_and_bootstrap_bands_agree_in_width(fitted):
    s, m = fitted
    normal = m.expected_purchases(s, 20, interval=0.9, draws=200, seed=1)
    boot = m.expected_purchases(s, 20, interval=0.9, draws=60, seed=1, method="bootstrap")
    wn = (normal["expected_purchases_upper"] - normal["expected_purchases_lower"]).mean()
    wb = (boot["expected_purchases_upper"] - boot["expected_purchases_lower"]).mean()
    # both estimate the same sampling error of the parameters (60 refits: a rough width)
    assert 0.6 < wb / wn < 1.6, (wn, wb)


def test_bad_interval_arguments_are_clear_errors(fitted):
    s, m = fitted
    for kw, word in [
        ({"interval": 1.0}, "interval"),
        ({"interval": 0}, "interval"),
        ({"interval": True}, "interval"),
        ({"interval": 0.9, "draws": 1}, "draws"),
        ({"interval": 0.9, "seed": -1}, "seed"),
        ({"interval": 0.9, "method": "jackknife"}, "method"),
    ]:
        with pytest.raises(ModelInputError, match=word):
            m.p_alive(s, **kw)
    with pytest.raises(ModelInputError, match="interval"):
        clv.lifetime_value(m, 1.0, s, interval=1.5)


def test_models_without_covariance_or_fit_data_refuse_clearly(fitted):
    s, m = fitted
    built = clv.BetaGeo.from_params(m.params)
    with pytest.raises(ModelInputError, match="no parameter covariance"):
        built.p_alive(s, interval=0.9)
    loaded = clv.load(m.to_json())
    assert loaded.p_alive(s, interval=0.9, seed=2).equals(m.p_alive(s, interval=0.9, seed=2))
    with pytest.raises(ModelInputError, match="not fitted in this session"):
        loaded.p_alive(s, interval=0.9, method="bootstrap")


def test_a_model_without_the_intervals_capability_refuses(fitted, monkeypatch):
    s, m = fitted
    from dataclasses import replace

    monkeypatch.setattr(clv.BetaGeo, "capabilities", replace(m.capabilities, intervals=False))
    for call in (
        lambda: m.p_alive(s, interval=0.9),
        lambda: clv.lifetime_value(m, 1.0, s, interval=0.9),
        m.vcov,
        m.confint,
    ):
        with pytest.raises(ModelInputError, match="capability intervals is False"):
            call()


def test_every_purchase_model_gives_intervals():
    sims = {
        "bg_nbd": clv.simulate_bg_nbd(1500, **BG, T=40, seed=1),
        "mbg_nbd": clv.simulate_mbg_nbd(1500, **BG, T=40, seed=1),
        "pareto_nbd": clv.simulate_pareto_nbd(
            1500, r=0.55, alpha=10.6, s=0.6, beta=11.7, T=40, seed=1
        ),
        "bg_bb": clv.simulate_bg_bb(1500, alpha=1.2, beta=0.75, gamma=0.66, delta=2.8, T=6, seed=1),
    }
    assert all(c.capabilities.intervals for c in clv.models_registry(process="purchase").values())
    for kind, sim in sims.items():
        m = clv.models_registry()[kind]().fit(sim)
        out = m.expected_purchases(sim, 5, interval=0.8, draws=100)
        assert (out["expected_purchases_upper"] >= out["expected_purchases_lower"]).all()
        # the conditional PMF: posterior (x, T) part shared per pair, or BG/BB's history PMF
        pmf = m.conditional_p_purchases(sim, 1, 5, interval=0.8, draws=100)
        lo, hi = pmf["conditional_p_purchases_lower"], pmf["conditional_p_purchases_upper"]
        assert ((lo >= 0) & (lo <= pmf["conditional_p_purchases"] + 1e-12) & (hi <= 1)).all()
        assert (hi - lo).max() > 0


def test_vcov_and_confint(fitted):
    _, m = fitted
    v = m.vcov()
    assert v["parameter"].to_list() == list(m.param_names)
    for i, name in enumerate(m.param_names):
        assert v[name][i] == pytest.approx(m.standard_errors[name] ** 2)
        assert v[name].to_list() == [row[i] for row in m.covariance]
    ci = m.confint(0.95)
    summary = m.summary()
    assert ci["lower"].to_list() == pytest.approx(summary["lower_95"].to_list(), rel=1e-6)
    assert ci["upper"].to_list() == pytest.approx(summary["upper_95"].to_list(), rel=1e-6)
    narrow = m.confint(0.5)
    assert ((narrow["lower"] > ci["lower"]) & (narrow["upper"] < ci["upper"])).all()
    with pytest.raises(ModelInputError, match="level"):
        m.confint(1.0)
    with pytest.raises(ModelInputError, match="no parameter covariance"):
        clv.BetaGeo.from_params(m.params).vcov()


def test_lrtest_refuses_non_nested_pairs_and_computes_nested_ones(fitted, monkeypatch):
    s, bg = fitted
    mbg = clv.ModifiedBetaGeo(time_unit="1w").fit(s)
    with pytest.raises(ModelInputError, match="not nested"):
        clv.lrtest(bg, mbg)
    with pytest.raises(ModelInputError, match="fitted"):
        clv.lrtest(clv.BetaGeo.from_params(BG), mbg)
    # The arithmetic, on a pair declared nested for the test only (no registered pair of
    # this branch is nested; GGom/NBD brings Pareto/NBD inside it).
    monkeypatch.setitem(_lrtest.NESTED, ("bg_nbd", "mbg_nbd"), _lrtest.Nesting(1, False, "test"))
    t = clv.lrtest(bg, mbg)
    stat = max(0.0, 2 * (mbg.log_likelihood - bg.log_likelihood))
    assert t.statistic == pytest.approx(stat)
    assert t.p_value == pytest.approx(math.erfc(math.sqrt(stat / 2)))
    other = clv.ModifiedBetaGeo(time_unit="1w").fit(s.head(1000))
    with pytest.raises(ModelInputError, match="different data"):
        clv.lrtest(bg, other)


def test_chi2_survival_matches_known_values():
    # P(chi2_k > x) at the 5% critical values of k = 1..5 and a few others
    for x, k, p in [
        (3.841458820694124, 1, 0.05),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (9.487729036781154, 4, 0.05),
        (11.070497693516351, 5, 0.05),
        (1.0, 1, 0.31731050786291415),
        (2.0, 3, 0.5724067044708798),
    ]:
        assert _lrtest.chi2_sf(x, k) == pytest.approx(p, rel=1e-9)
    assert _lrtest.chi2_sf(0.0, 3) == 1.0


def test_clv_rule_interval_option_adds_bands():
    from truenorth.testing import run_rule

    tx = pl.read_csv(BUNDLED, try_parse_dates=True)
    base = {"unit": "1w", "horizon": "6 months", "customer": "customer_id", "time": "date"}
    plain = run_rule("clv", base, {"transactions": tx}).tables["customers"]
    out = run_rule("clv", {**base, "interval": 0.9, "draws": 100}, {"transactions": tx})
    t = out.tables["customers"]
    for col in ("p_alive", "clv"):
        assert t[col].to_list() == pytest.approx(plain[col].to_list(), rel=1e-12)
        assert (t[f"{col}_lower"] <= t[col] + 1e-9).all()
        assert (t[f"{col}_upper"] >= t[col] - 1e-9).all()
    no_spend = run_rule("clv", {**base, "interval": 0.9, "spend": None}, {"transactions": tx})
    cols = no_spend.tables["customers"].columns
    assert "p_alive_lower" in cols and "clv_lower" not in cols
