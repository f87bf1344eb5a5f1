"""Pareto/NBD whose optimum lies at the boundary s, beta -> infinity: the fit stops there and
says which parameters ran away and what that means, every likelihood evaluation stays exact
(the 2F1 series is replaced by quadrature where it would need millions of terms), and data
with an interior optimum (CDNOW) are untouched."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from scipy import integrate, special

from truenorth import _core, clv
from truenorth.clv import ConvergenceWarning, ParetoNBD
from truenorth.testing import run_rule

DATA = Path(__file__).parent.parent / "data"
# 300 customers over 40 periods cannot tell apart their dropout rates: on main this fit ran
# for about four minutes (each evaluation slower as beta grew) and reported convergence.
RUNAWAY = {"r": 0.6, "alpha": 8.0, "s": 0.7, "beta": 12.0, "T": 40.0, "seed": 1}


@pytest.fixture(scope="module")
def summary() -> pl.DataFrame:
    return clv.simulate_pareto_nbd(300, **RUNAWAY)


@pytest.fixture(scope="module")
def runaway(summary) -> ParetoNBD:
    with pytest.warns(ConvergenceWarning, match="s and beta grow without bound"):
        return ParetoNBD().fit(summary)


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


def _columns(d: pl.DataFrame) -> tuple[pl.Series, pl.Series, pl.Series]:
    x, tx, t = (d[c].cast(pl.Float64) for c in ("frequency", "recency", "T"))
    return x, tx, t


def _ll_by_scipy(p: tuple[float, float, float, float], d: pl.DataFrame) -> float:
    """The likelihood with the death time integrated numerically (no 2F1): FH's
    L = Γ(r+x) α^r β^s / Γ(r) [(α+T)^−(r+x) (β+T)^−s + s ∫_{t_x}^T (α+u)^−(r+x) (β+u)^−(s+1) du],
    in logs relative to the first term so the large powers of beta cancel exactly."""
    r, a, s, b = p
    total = 0.0
    for x, tx, t in d.select("frequency", "recency", "T").iter_rows():
        pre = special.gammaln(r + x) - special.gammaln(r) + r * math.log(a) + s * math.log(b)
        lfirst = -(r + x) * math.log(a + t) - s * math.log(b + t)
        ratio = 0.0
        if tx < t:
            # integrand / first term, written with log1p so s*log(beta) never appears alone
            def g(u, x=x, t=t):
                return math.exp(
                    (r + x) * math.log1p((t - u) / (a + u))
                    + s * math.log1p((t - u) / (b + u))
                    - math.log(b + u)
                )

            ratio = s * integrate.quad(g, tx, t, epsabs=0, epsrel=1e-13, limit=200)[0]
        total += pre + lfirst + math.log1p(ratio)
    return total


def test_the_fit_stops_at_the_boundary_and_names_it(runaway, summary):
    m = runaway
    p = m.params
    assert m.converged is False
    assert m.boundary is not None and m.message == m.boundary
    # stopped on the ridge, after few iterations: beta past 10^4 x the longest T
    assert p["beta"] > 1e4 * summary["T"].max()
    assert m.n_iterations < 60
    ratio = p["s"] / p["beta"]
    assert f"s/beta -> {ratio:.4g}" in m.boundary
    assert "dropout rates apart" in m.boundary and "BG/NBD" in m.boundary
    # a ridge, not an optimum: further out along s/beta fixed the likelihood does not fall
    x, tx, t = _columns(summary)
    further = [p["r"], p["alpha"], 100 * p["s"], 100 * p["beta"]]
    assert _core.log_likelihood("pareto_nbd", further, x, tx, t) >= m.log_likelihood - 1e-6
    # and the mean lifetime it quotes is 1 / (s/beta)
    assert f"mean lifetime {1 / ratio:.4g}" in m.boundary


def test_the_boundary_survives_save_and_load(runaway):
    loaded = clv.load(runaway.to_json())
    assert loaded.boundary == runaway.boundary and loaded.converged is False


@pytest.mark.parametrize(
    "params",
    [
        (0.553, 10.578, 0.606, 11.669),  # the CDNOW optimum: the 2F1 series as before
        (0.466, 6.09, 1.5e4, 5.8e5),  # on the ridge: quadrature
        (0.466, 6.09, 5e4, 2e6),  # further out (the fit stops before)
        (0.5, 8.0, 0.02, 3e7),  # s -> 0 with beta -> infinity
    ],
)
def test_the_likelihood_matches_direct_integration(summary, params):
    rows = summary.head(120)
    got = _core.log_likelihood("pareto_nbd", list(params), *_columns(rows))
    assert got == pytest.approx(_ll_by_scipy(params, rows), rel=1e-10, abs=1e-8)


def test_cdnow_has_an_interior_optimum(cdnow):
    m = ParetoNBD(time_unit="1w").fit(cdnow)
    assert m.converged and m.boundary is None
    exact = _ll_by_scipy(tuple(m.params.values()), cdnow.head(400))
    got = _core.log_likelihood("pareto_nbd", list(m.params.values()), *_columns(cdnow.head(400)))
    assert got == pytest.approx(exact, rel=1e-10)


def test_the_clv_rule_reports_the_boundary_as_a_warning(summary):
    end = datetime(2025, 1, 1)
    rows = []
    for c, x, tx, t in summary.select("customer", "frequency", "recency", "T").iter_rows():
        birth = end - timedelta(weeks=t)
        rows.append((c, birth))
        rows += [(c, birth + timedelta(weeks=tx * k / x)) for k in range(1, int(x) + 1)]
    log = pl.DataFrame(rows, schema=["customer", "time"], orient="row")
    log = log.with_columns(amount=pl.lit(1.0))
    result = run_rule(
        "clv", {"model": "pareto_nbd", "unit": "1w", "spend": None}, {"transactions": log}
    )
    warn = result.findings.filter(pl.col("severity") == "warn").rows(named=True)
    assert len(warn) == 1, warn
    assert warn[0]["subject"] == "pareto_nbd"
    assert "did not converge (boundary: s and beta grow without bound" in warn[0]["message"]
    assert "dropout rates apart" in warn[0]["message"]
