"""Gamma-Gamma's spend/frequency independence check: the correlation is stored and a
SpendFrequencyCorrelationWarning is emitted when |Pearson ρ| >= 0.3 (repeat customers)."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import truenorth.clv as clv
from truenorth.clv import GammaGamma, SpendFrequencyCorrelationWarning


def _with_correlation(rho: float, n: int = 2000, seed: int = 0) -> pl.DataFrame:
    """Repeat customers whose frequency/spend Pearson correlation is exactly ``rho`` (up to
    rounding), plus one-time buyers (left out of the fit and of the correlation)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 15, n).astype(float)
    zx = (x - x.mean()) / x.std()
    e = np.clip(rng.standard_normal(n), -3, 3)
    e -= e.mean()
    e -= (e @ zx) / (zx @ zx) * zx  # orthogonal to frequency
    ze = e / e.std()
    m = 50.0 + 8.0 * (rho * zx + np.sqrt(1 - rho**2) * ze)
    assert np.corrcoef(x, m)[0, 1] == pytest.approx(rho, abs=1e-12)
    assert m.min() > 0
    one_time = pl.DataFrame({"frequency": [0.0] * 50, "monetary_value": [0.0] * 50})
    return pl.concat([pl.DataFrame({"frequency": x, "monetary_value": m}), one_time])


def _fit(df: pl.DataFrame, **kw) -> tuple[GammaGamma, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = GammaGamma().fit(df, **kw)
    return m, [w for w in rec if issubclass(w.category, SpendFrequencyCorrelationWarning)]


@pytest.mark.parametrize("rho", [0.0, 0.29, -0.29])
def test_no_warning_below_the_threshold(rho):
    m, rec = _fit(_with_correlation(rho))
    assert rec == []
    assert m.frequency_spend_correlation == pytest.approx(rho, abs=1e-9)


@pytest.mark.parametrize("rho", [0.31, -0.31, 0.8])
def test_warning_at_and_above_the_threshold_names_the_value(rho):
    m, rec = _fit(_with_correlation(rho))
    assert len(rec) == 1
    assert m.frequency_spend_correlation == pytest.approx(rho, abs=1e-9)
    assert f"{rho:.3f}" in str(rec[0].message)
    assert "2000 repeat customers" in str(rec[0].message)
    assert issubclass(SpendFrequencyCorrelationWarning, UserWarning)
    assert clv.SpendFrequencyCorrelationWarning is SpendFrequencyCorrelationWarning
    # The fit itself is still done.
    assert m.params["p"] > 0


def test_independent_simulated_spend_does_not_warn_and_matches_numpy():
    sim = clv.simulate_bg_nbd(20_000, r=0.24, alpha=4.4, a=0.79, b=2.4, T=39.0, seed=5)
    sim = sim.with_columns(
        monetary_value=clv.simulate_gamma_gamma(sim["frequency"], p=6.25, q=3.74, v=15.44, seed=6)
    )
    m, rec = _fit(sim)
    assert rec == []
    rep = sim.filter(pl.col("frequency") > 0)
    expect = np.corrcoef(rep["frequency"].to_numpy(), rep["monetary_value"].to_numpy())[0, 1]
    assert m.frequency_spend_correlation == pytest.approx(expect, rel=1e-9)
    assert abs(expect) < 0.1


def test_weighted_rows_count_as_repeated_customers():
    df = _with_correlation(0.5, n=300, seed=3)
    w = np.random.default_rng(4).integers(1, 5, df.height)
    expanded = pl.DataFrame(
        {c: np.repeat(df[c].to_numpy(), w) for c in ("frequency", "monetary_value")}
    )
    mw, recw = _fit(df.with_columns(w=pl.Series(w, dtype=pl.Float64)), weights="w")
    me, rece = _fit(expanded)
    assert mw.frequency_spend_correlation == pytest.approx(me.frequency_spend_correlation, rel=1e-9)
    assert len(recw) == len(rece) == 1


def test_too_few_or_constant_rows_give_no_correlation():
    two = pl.DataFrame({"frequency": [1.0, 3.0], "monetary_value": [10.0, 30.0]})
    m, rec = _fit(two)
    assert m.frequency_spend_correlation is None and rec == []
    flat = pl.DataFrame({"frequency": [2.0, 2.0, 2.0, 2.0], "monetary_value": [5.0, 6.0, 9.0, 7.0]})
    m, rec = _fit(flat)
    assert m.frequency_spend_correlation is None and rec == []
