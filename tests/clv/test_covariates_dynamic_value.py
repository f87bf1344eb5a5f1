"""CLV of the time-varying-covariate Pareto/NBD (truenorth.clv.covariates_dynamic_value):
constant covariates give the static-covariate model's CLV, a covariate switched on at the
calibration end gives the hand-computed closed form, and bad inputs are clear errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.special import hyp2f1

from truenorth import clv
from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates_dynamic import DynamicCovariateFit, fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic
from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value

ORIGIN = datetime(2024, 1, 1)
END = ORIGIN + timedelta(weeks=52)


@pytest.fixture(scope="module")
def vip():
    """``vip`` is constant per customer over time; the table runs 60 weeks past the end."""
    tr, cov = simulate_dynamic(
        500, weeks=52, future_weeks=60, transaction={"vip": 0.8}, lifetime={"vip": -0.7}, seed=5
    )
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["vip"], lifetime=["vip"], calibration_end=END
    )
    return tr, cov, fit


def _static_at(fit: DynamicCovariateFit, frame: pl.DataFrame, **fit_kw) -> clv.ParetoNBD:
    """A (static) Pareto/NBD evaluated at ``fit``'s estimates, so only the kernels differ."""
    model = clv.ParetoNBD(time_unit="1w").fit(frame, **fit_kw)
    doc = json.loads(model.to_json())
    doc["params"] = fit.params
    if fit_kw:
        doc["covariates"]["coefficients"] = fit.coefficient_values
    return clv.load(json.dumps(doc))


@pytest.mark.parametrize("unit", ["month", "week"])
def test_constant_covariates_give_the_static_models_clv(vip, unit):
    tr, cov, fit = vip
    frame = fit.predict(tr, cov, horizon=0).join(
        cov.group_by("customer").agg(pl.col("vip").first()), on="customer", how="left"
    )
    static = _static_at(fit, frame, transaction=["vip"], lifetime=["vip"])
    spend = frame.select("customer", (10 + pl.col("customer") % 7).cast(pl.Float64).alias("s"))
    got = dynamic_lifetime_value(
        fit, tr, cov, spend, horizon=12, horizon_unit=unit, discount_rate=0.02
    )
    want = clv.lifetime_value(
        static, spend["s"], frame, horizon=12, horizon_unit=unit, discount_rate=0.02
    )
    assert got["customer"].to_list() == frame["customer"].to_list()
    assert got["clv"].to_numpy() == pytest.approx(want.to_numpy(), rel=1e-9, abs=1e-12)
    assert got["p_alive"].to_numpy() == pytest.approx(
        static.p_alive(frame).to_numpy(), rel=1e-9, abs=1e-12
    )
    weeks = 12 * (30.4375 if unit == "month" else 7.0) / 7
    assert got["expected_purchases"].to_numpy() == pytest.approx(
        static.expected_purchases(frame, weeks).to_numpy(), rel=1e-9, abs=1e-12
    )


def _pnbd_p_alive(r, alpha, s, beta, x, tx, T):
    """Pareto/NBD P(alive) (Fader, Hardie & Lee 2005, \"A note on deriving the Pareto/NBD\")."""
    big, small = (alpha, beta) if alpha >= beta else (beta, alpha)
    b = s + 1 if alpha >= beta else r + x
    z_tx = (big - small) / (big + tx)
    z_T = (big - small) / (big + T)
    a1 = hyp2f1(r + s + x, b, r + s + x + 1, z_tx) / (big + tx) ** (r + s + x)
    a2 = hyp2f1(r + s + x, b, r + s + x + 1, z_T) / (big + T) ** (r + s + x)
    a0 = a1 - a2
    body = (alpha + T) ** (r + x) * (beta + T) ** s
    return 1 / (1 + s / (r + s + x) * body * a0)


def test_a_covariate_switched_on_at_the_end_matches_the_closed_form():
    """``promo`` is 0 up to the calibration end and 1 after it: the calibration posterior is the
    plain Pareto/NBD's, and afterwards the rates are scaled by exp(γ), so E[Y(t)] has the
    plain closed form with (r+x)/(alpha+T) scaled by exp(γ_t) and beta+T by exp(−γ_l)."""
    tr, cov = simulate_dynamic(200, weeks=40, future_weeks=30, transaction={}, lifetime={}, seed=8)
    cov = cov.with_columns(
        promo=(pl.col("period") >= ORIGIN + timedelta(weeks=40)).cast(pl.Float64)
    )
    end = ORIGIN + timedelta(weeks=40)
    fit = fit_dynamic_covariates(
        tr, cov, transaction=["season", "promo"], lifetime=["promo"], calibration_end=end
    )
    p = {"r": 0.9, "alpha": 7.0, "s": 0.7, "beta": 15.0}
    g_t, g_l = 0.6, -0.4
    fit.params = dict(p)
    fit.coefficient_values = {"trans.season": 0.0, "trans.promo": g_t, "life.promo": g_l}
    got = dynamic_lifetime_value(fit, tr, cov, 20.0, horizon=6, discount_rate=0.03)
    rfm = fit.predict(tr, cov, horizon=0)
    x, tx, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    pa = _pnbd_p_alive(p["r"], p["alpha"], p["s"], p["beta"], x, tx, T)
    lam = np.exp(g_t) * (p["r"] + x) / (p["alpha"] + T)
    b = (p["beta"] + T) / np.exp(g_l)

    def expected(t: float) -> np.ndarray:
        return pa * lam * b / (p["s"] - 1) * (1 - (b / (b + t)) ** (p["s"] - 1))

    step = 30.4375 / 7
    want = sum(
        20.0 * (expected(i * step) - expected((i - 1) * step)) / 1.03**i for i in range(1, 7)
    )
    assert got["p_alive"].to_numpy() == pytest.approx(pa, rel=1e-8)
    assert got["expected_purchases"].to_numpy() == pytest.approx(expected(6 * step), rel=1e-8)
    assert got["clv"].to_numpy() == pytest.approx(want, rel=1e-8)


def test_the_future_window_must_be_in_the_table(vip):
    tr, cov, fit = vip
    short = cov.filter(pl.col("period") < END + timedelta(weeks=20))
    with pytest.raises(ModelInputError, match=r"no row for the period starting 2025-05-19"):
        dynamic_lifetime_value(fit, tr, short, 1.0, horizon=6)  # 26.1 weeks


def test_spend_must_cover_every_customer(vip):
    tr, cov, fit = vip
    spend = pl.DataFrame({"customer": [0, 1], "s": [1.0, 2.0]})
    with pytest.raises(ModelInputError, match=r"no 's' value for customer 2 \(\d+ customer"):
        dynamic_lifetime_value(fit, tr, cov, spend, horizon=1)
    neg = pl.DataFrame({"customer": list(range(500)), "s": [-1.0] * 500})
    with pytest.raises(ModelInputError, match="negative"):
        dynamic_lifetime_value(fit, tr, cov, neg, horizon=1)
    with pytest.raises(ModelInputError, match="horizon_unit"):
        dynamic_lifetime_value(fit, tr, cov, 1.0, horizon=1, horizon_unit="fortnight")


def test_zero_horizon_is_worth_nothing(vip):
    tr, cov, fit = vip
    out = dynamic_lifetime_value(fit, tr, cov, 5.0, horizon=0)
    assert (out["clv"] == 0).all() and (out["expected_purchases"] == 0).all()
    assert out["p_alive"].to_list() == fit.predict(tr, cov, horizon=0)["p_alive"].to_list()


def test_one_step_clv_bounds_are_the_discounted_purchase_bounds(vip):
    """Over one step CLV = spend · E[Y(step)] / (1 + d): on the log scale a constant factor
    leaves the delta method's variance unchanged, so its bounds are predict's times that."""
    tr, cov, fit = vip
    got = dynamic_lifetime_value(
        fit, tr, cov, 20.0, horizon=1, horizon_unit="month", discount_rate=0.03, interval=0.8
    )
    pred = fit.predict(tr, cov, horizon=30.4375 / 7, interval=0.8)
    factor = 20.0 / 1.03
    for end in ("", "_lower", "_upper"):
        assert got[f"clv{end}"].to_list() == pytest.approx(
            (pred[f"expected_purchases{end}"] * factor).to_list(), rel=1e-9
        ), end
        for col in ("p_alive", "expected_purchases"):
            assert got[col + end].to_list() == pytest.approx(pred[col + end].to_list(), rel=1e-9), (
                col + end
            )
    assert (got["clv_upper"] - got["clv_lower"] > 0).all()


def test_interval_over_several_steps_brackets_the_value(vip):
    tr, cov, fit = vip
    got = dynamic_lifetime_value(fit, tr, cov, 20.0, horizon=6, interval=0.9)
    plain = dynamic_lifetime_value(fit, tr, cov, 20.0, horizon=6)
    assert got.select(plain.columns).equals(plain)
    assert ((got["clv_lower"] < got["clv"]) & (got["clv"] < got["clv_upper"])).all()
    wide = dynamic_lifetime_value(fit, tr, cov, 20.0, horizon=6, interval=0.99)
    assert ((wide["clv_upper"] - wide["clv_lower"]) > (got["clv_upper"] - got["clv_lower"])).all()
    with pytest.raises(ModelInputError, match="interval must be a level strictly between"):
        dynamic_lifetime_value(fit, tr, cov, 20.0, horizon=6, interval=1.5)


def test_one_pass_over_the_steps_equals_a_window_per_step(vip):
    """The CLV reads every step's expectation off one native pass over the whole window
    (``dyncov_predict_steps``); each equals ``predict`` over that step's own window."""
    from truenorth.clv._dyn_intervals import window

    tr, cov, fit = vip
    whole = window(fit, tr, cov, 10.3)
    ends = [0.0, 1.0, 2.5, 4.35, 4.35, 10.3, 12.0]  # past the path: the whole path
    pa, cum = whole.predict_steps(fit._vector(), ends)
    for e, got in zip(ends, cum, strict=True):
        want = fit.predict(tr, cov, horizon=min(e, 10.3))
        np.testing.assert_allclose(got, want["expected_purchases"].to_numpy(), rtol=1e-10)
        np.testing.assert_allclose(pa, want["p_alive"].to_numpy(), rtol=1e-12)
