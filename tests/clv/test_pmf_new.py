"""A new customer's whole PMF P(X(t) = n), n = 0..N, at many horizons in one call
(``_PurchaseModel._pmf_new``, used by the frequency table): against each model's one-value
``p_purchases``, lifetimes' Pareto/NBD PMF (Fader, Hardie & Lee's closed form with 2F1) and
the frequency table's definition."""

from __future__ import annotations

import warnings

import polars as pl
import pytest

from truenorth.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGompertzNBD,
    ModelInputError,
    ModifiedBetaGeo,
    ParetoNBD,
)
from truenorth.clv.diagnostics import frequency_table

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
GGOM = {"r": 0.55, "alpha": 10.6, "b": 0.03, "s": 0.6, "beta": 0.4}
MODELS = {
    "bg": (BetaGeo.from_params(BG), [0.5, 3.0, 39.0, 78.0, 1000.0]),
    "mbg": (ModifiedBetaGeo.from_params(BG), [0.5, 3.0, 39.0, 78.0, 1000.0]),
    "pnbd": (ParetoNBD.from_params(PNBD), [0.5, 3.0, 39.0, 78.0, 1000.0]),
    "ggom": (GammaGompertzNBD.from_params(GGOM), [0.5, 3.0, 39.0, 78.0, 1000.0]),
    "bgbb": (
        BetaGeoBetaBinom.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}),
        [1.0, 6.0, 11.0],
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_rows_match_the_one_value_pmf(name):
    model, ts = MODELS[name]
    rows = model._pmf_new(ts, 9)
    assert len(rows) == len(ts) and all(len(r) == 10 for r in rows)
    for n in range(10):
        one = model.p_purchases(n, ts)
        assert isinstance(one, pl.Series)
        for t, row, v in zip(ts, rows, one.to_list(), strict=True):
            assert row[n] == pytest.approx(v, rel=1e-10, abs=1e-300), (n, t)


def test_pareto_nbd_matches_lifetimes_closed_form():
    # lifetimes' conditional PMF (FHL's closed form with 2F1, eq. 16 of their note) of a
    # customer with no history and an age of ~0 is the new-customer PMF.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import pandas as pd

        f = lifetimes.ParetoNBDFitter()
        f.params_ = pd.Series(PNBD)
        ts = [1.0, 39.0, 200.0]
        rows = ParetoNBD.from_params(PNBD)._pmf_new(ts, 7)
        for t, row in zip(ts, rows, strict=True):
            peer = [
                float(f.conditional_probability_of_n_purchases_up_to_time(n, t, 0, 0, 1e-12))
                for n in range(8)
            ]
            assert row == pytest.approx(peer, rel=1e-8)


def test_frequency_table_is_the_weighted_pmf():
    # Σ_i P(X(T_i) = n) customer by customer, with repeated T values (weights > 1).
    m = ParetoNBD.from_params(PNBD)
    s = pl.DataFrame(
        {
            "frequency": [0, 0, 1, 3, 2, 0, 7],
            "recency": [0.0, 0.0, 5.0, 30.0, 12.0, 0.0, 38.0],
            "T": [39.0, 30.0, 39.0, 38.0, 39.0, 0.5, 39.0],
        }
    )
    t = frequency_table({"pnbd": m}, s, max_count=3)
    for n in range(3):
        direct = sum(m.p_purchases(n, float(ti)) for ti in s["T"])  # type: ignore[arg-type]
        assert t["expected"][n] == pytest.approx(direct, rel=1e-12)
    assert t["expected"].sum() == pytest.approx(7.0, rel=1e-12)


def test_bad_max_count():
    with pytest.raises(ModelInputError, match="max_count"):
        ParetoNBD.from_params(PNBD)._pmf_new([1.0], -1)


def test_weighted_rows_are_the_weighted_sum():
    m, ts = MODELS["pnbd"]
    w = [3.0, 1.0, 0.5, 2.0, 7.0]
    rows = m._pmf_new(ts, 4)
    (one,) = m._pmf_new(ts, 4, weights=w)
    assert one == pytest.approx(
        [sum(wi * r[n] for wi, r in zip(w, rows, strict=True)) for n in range(5)], rel=1e-14
    )
    with pytest.raises(Exception, match="different lengths"):
        m._pmf_new(ts, 4, weights=w[:2])
