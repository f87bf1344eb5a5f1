"""DERT under continuous discounting (Fader, Hardie & Lee 2005, "RFM and CLV") and CLV over a
future window of ``lifetime_value``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import special

from truenorth import clv
from truenorth.clv import GammaGompertzNBD, ParetoNBD

DATA = Path(__file__).parent.parent / "data"
PNBD = [0.553, 10.578, 0.606, 11.669]


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.mark.parametrize("delta", [0.0027, math.log(1.15) / 52, 0.05, 1.0, 1e-5])
@pytest.mark.parametrize("params", [PNBD, [0.5, 5.0, 2.5, 3.0], [1.2, 0.5, 0.05, 40.0]])
def test_pareto_nbd_dert_is_fhl_closed_form_with_scipy_hyperu(cdnow, params, delta):
    # FHL (2005) eq. 2: DERT = α^r β^s δ^(s−1) Γ(r+x+1) U(s, s; δ(β+T))
    #                          / (Γ(r) (α+T)^(r+x+1) L(r, α, s, β | x, t_x, T)).
    m = ParetoNBD.from_params(params, time_unit="1w")
    head = cdnow.head(200)
    r, a, s, b = params
    x, t = head["frequency"].to_numpy(), head["T"].to_numpy()
    ll = m.log_likelihood_rows(head).to_numpy()
    ln_ref = (
        r * math.log(a)
        + s * math.log(b)
        + (s - 1) * math.log(delta)
        + special.gammaln(r + x + 1)
        + np.log(special.hyperu(s, s, delta * (b + t)))
        - special.gammaln(r)
        - (r + x + 1) * np.log(a + t)
        - ll
    )
    np.testing.assert_allclose(m.dert(head, delta).to_numpy(), np.exp(ln_ref), rtol=1e-9)


def test_dert_is_the_limit_of_finely_discounted_clv(cdnow):
    # Discrete discounting per day at the equivalent rate tends to continuous discounting.
    m = ParetoNBD.from_params(PNBD, time_unit="1w")
    head = cdnow.head(20)
    delta = math.log(1.15) / 52
    dert = m.dert(head, delta).to_numpy()
    days = 365 * 40  # 40 years: beyond it e^(−δt) · E[purchases] is negligible
    v = clv.lifetime_value(
        m, 1.0, head, horizon=days, horizon_unit="day", discount_rate=math.exp(delta / 7) - 1
    ).to_numpy()
    np.testing.assert_allclose(v, dert, rtol=2e-3)


def test_ggom_nbd_dert_tends_to_pareto_nbd(cdnow):
    b = 1e-9
    g = GammaGompertzNBD.from_params([PNBD[0], PNBD[1], b, PNBD[2], PNBD[3] * b])
    p = ParetoNBD.from_params(PNBD)
    head = cdnow.head(100)
    np.testing.assert_allclose(
        g.dert(head, 0.0027).to_numpy(), p.dert(head, 0.0027).to_numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_dert_refuses_a_bad_rate(cdnow, bad):
    with pytest.raises(clv.ModelInputError, match="discount_rate must be a positive"):
        ParetoNBD.from_params(PNBD).dert(cdnow, bad)


@pytest.mark.parametrize("rate", [0.0, 0.01])
def test_lifetime_value_over_a_window(cdnow, rate):
    m = clv.BetaGeo(time_unit="1w").fit(cdnow)
    kw = {"horizon_unit": "year", "discount_rate": rate}
    window = clv.lifetime_value(m, 10.0, cdnow, horizon=3, start=1, **kw).to_numpy()
    # Years 2 and 3: each year's expected purchases, discounted from today.
    e = [m.expected_purchases(cdnow, k * 365.25 / 7).to_numpy() for k in range(4)]
    by_hand = sum(10.0 * (e[k] - e[k - 1]) / (1 + rate) ** k for k in (2, 3))
    np.testing.assert_allclose(window, by_hand, rtol=1e-10)
    three = clv.lifetime_value(m, 10.0, cdnow, horizon=3, **kw).to_numpy()
    one = clv.lifetime_value(m, 10.0, cdnow, horizon=1, **kw).to_numpy()
    np.testing.assert_allclose(window, three - one, rtol=1e-12, atol=1e-12)
    assert (window < three).all() and (window > 0).all()


@pytest.mark.parametrize("start", [-1, 4, 1.5, True])
def test_lifetime_value_refuses_a_bad_window(cdnow, start):
    m = clv.BetaGeo.from_params([0.243, 4.414, 0.793, 2.426], time_unit="1w")
    with pytest.raises(clv.ModelInputError, match=r"start must be a whole number of steps"):
        clv.lifetime_value(m, 10.0, cdnow, horizon=3, start=start)
