"""lifetime_value: agreement with lifetimes at equal parameters, time units, hand cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import truenorth.clv as clv
from truenorth.clv import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModelInputError, ParetoNBD

DATA = Path(__file__).parent.parent / "data"
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


def lifetimes_clv(purchase, params, df: pl.DataFrame, *, freq: str, time=12, discount_rate=0.01):
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

        f = getattr(lifetimes, purchase)()
        f.params_ = pd.Series(params)
        f.predict = f.conditional_expected_number_of_purchases_up_to_time
        g = lifetimes.GammaGammaFitter()
        g.params_ = pd.Series(GG)
        pdf = df.to_pandas()
        out = g.customer_lifetime_value(
            f,
            pdf["frequency"],
            pdf["recency"],
            pdf["T"],
            pdf["monetary_value"],
            time=time,
            discount_rate=discount_rate,
            freq=freq,
        )
    return np.asarray(out, dtype=float)


@pytest.mark.peer
def test_clv_matches_lifetimes_on_weekly_cdnow(cdnow):
    # lifetimes with freq="W" uses 4.345 weeks per month; reproduce that month length.
    ref = lifetimes_clv("BetaGeoFitter", BG, cdnow, freq="W")
    ours = clv.lifetime_value(
        BetaGeo.from_params(BG, time_unit="1w"),
        GammaGamma.from_params(GG),
        cdnow,
        days_per_month=4.345 * 7,
    )
    assert ours.name == "clv"
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-8)


@pytest.mark.peer
def test_clv_matches_lifetimes_pareto(cdnow):
    p = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    ref = lifetimes_clv("ParetoNBDFitter", p, cdnow, freq="W", time=6, discount_rate=0.02)
    ours = clv.lifetime_value(
        ParetoNBD.from_params(p, time_unit="1w"),
        GammaGamma.from_params(GG),
        cdnow,
        horizon=6,
        discount_rate=0.02,
        days_per_month=4.345 * 7,
    )
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-8)


@pytest.mark.peer
def test_time_unit_drives_the_conversion(cdnow):
    """The same customers in days give the same CLV as in weeks: the unit is carried by the
    model. lifetimes' default (freq="D") on this weekly summary is off by a large factor."""
    weekly = BetaGeo.from_params(BG, time_unit="1w")
    daily_df = cdnow.with_columns(pl.col("recency") * 7, pl.col("T") * 7)
    daily = BetaGeo.from_params({**BG, "alpha": BG["alpha"] * 7}, time_unit="1d")
    gg = GammaGamma.from_params(GG)
    a = clv.lifetime_value(weekly, gg, cdnow)
    b = clv.lifetime_value(daily, gg, daily_df)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9)
    # time_unit= overrides the model's own.
    c = clv.lifetime_value(daily, gg, cdnow, time_unit="1w")
    assert not np.allclose(c.to_numpy(), b.to_numpy())
    # lifetimes' default daily assumption on weekly data: 30 "days" per month = 30 weeks.
    wrong = lifetimes_clv("BetaGeoFitter", BG, cdnow, freq="D")
    assert wrong.sum() > 3 * a.sum()


def test_clv_hand_case():
    """One customer, constant spend: CLV = Σ spend·ΔE_i/(1+d)^i from expected_purchases."""
    m = BetaGeo.from_params(BG, time_unit="1d")
    df = pl.DataFrame({"frequency": [3], "recency": [20.0], "T": [30.0]})
    month = 30.4375
    e = [0.0] + [m.expected_purchases(df, i * month)[0] for i in range(1, 4)]
    expect = sum(25.0 * (e[i] - e[i - 1]) / 1.05**i for i in range(1, 4))
    got = clv.lifetime_value(m, 25.0, df, horizon=3, discount_rate=0.05)[0]
    assert got == pytest.approx(expect, rel=1e-12)
    # Spend as a column name or a Series gives the same.
    df2 = df.with_columns(spend=pl.lit(25.0))
    assert clv.lifetime_value(m, "spend", df2, horizon=3, discount_rate=0.05)[0] == pytest.approx(
        got
    )
    assert clv.lifetime_value(m, df2["spend"], df2, horizon=3, discount_rate=0.05)[
        0
    ] == pytest.approx(got)
    # Zero horizon → zero; weeks as the horizon unit.
    assert clv.lifetime_value(m, 25.0, df, horizon=0)[0] == 0.0
    w = clv.lifetime_value(m, 25.0, df, horizon=1, horizon_unit="week", discount_rate=0.0)[0]
    assert w == pytest.approx(25.0 * m.expected_purchases(df, 7.0)[0], rel=1e-12)


def test_clv_bg_bb_periods():
    p = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    m = BetaGeoBetaBinom.from_params(p)
    df = pl.DataFrame({"frequency": [3, 0], "recency": [5, 0], "T": [6, 6]})
    got = clv.lifetime_value(m, 10.0, df, horizon=4, horizon_unit="period", discount_rate=0.0)
    np.testing.assert_allclose(
        got.to_numpy(), 10.0 * m.expected_purchases(df, 4).to_numpy(), rtol=1e-12
    )
    with pytest.raises(ModelInputError, match="horizon_unit='period'"):
        clv.lifetime_value(m, 10.0, df)


def test_clv_bad_arguments(cdnow):
    m = BetaGeo.from_params(BG, time_unit="1w")
    with pytest.raises(ModelInputError, match="horizon_unit"):
        clv.lifetime_value(m, 1.0, cdnow, horizon_unit="fortnight")
    with pytest.raises(ModelInputError, match="purchase_model"):
        clv.lifetime_value(GammaGamma.from_params(GG), 1.0, cdnow)
    with pytest.raises(ModelInputError, match="spend_model"):
        clv.lifetime_value(m, "x" * 0 or object(), cdnow)
    with pytest.raises(ModelInputError, match="column 'nope' is missing"):
        clv.lifetime_value(m, "nope", cdnow)
    with pytest.raises(ModelInputError, match="horizon"):
        clv.lifetime_value(m, 1.0, cdnow, horizon=-1)


def test_clv_large_simulated_population_is_finite():
    sim = clv.simulate_bg_nbd(
        200_000, 0.243, 4.414 * 7, 0.793, 2.426, T=273.0, seed=2, resolution=1.0
    )
    sim = sim.with_columns(monetary_value=clv.simulate_gamma_gamma(sim["frequency"], **GG, seed=3))
    bg = BetaGeo(time_unit="1d").fit(sim)
    gg = GammaGamma().fit(sim)
    v = clv.lifetime_value(bg, gg, sim)
    assert v.len() == 200_000 and v.is_finite().all() and (v >= 0).all()
