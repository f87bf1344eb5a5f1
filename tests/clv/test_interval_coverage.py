"""Coverage of the prediction intervals (delta method and asymptotic-normal draws).

What is covered: for each purchase model with known true parameters θ and three fixed
reference histories (no repeat purchase, a moderate and a heavy buyer), the truth is the
expected holdout purchases E[X(T, T+h] | x, t_x, T; θ) at the *true* parameters. That is the
quantity the intervals are about: they carry the estimation error of the parameters, so they
are intervals for each customer's *expected* purchases given the history, not for the
purchases one customer will make (a count with its own Poisson-type noise), and not for a
population total (whose truth would also move with the simulated sample). Each of R
replicates simulates a fresh population of N customers from θ (seed 1000 + i), fits the model,
and asks for the nominal 90% interval of that expectation (both methods from the same fit;
200 draws, seed i); the test counts how often each interval contains the truth. The CLV case
does the same for 12-step CLV with Gamma-Gamma spend, both models fitted per replicate, so
the truth is the CLV at the true parameters of both.

Tolerance: if the intervals were exact, the hit count would be Binomial(R, 0.9), standard
deviation sd = √(0.9·0.1/R) (0.027 at R = 120). The band [0.9 − 3·sd − 0.04, 0.9 + 3·sd]
([0.78, 0.98] at R = 120) allows 3 standard deviations above (a method 1.5× too wide covers
≈ 0.986 and fails) and, below, 3 standard deviations plus 0.04 for the known finite-sample
under-coverage of asymptotic intervals at this N (MBG/NBD's no-repeat-buyer history measured
0.83 at N = 2000 and 0.87 at N = 3000 with R = 300); a method 1.5× too narrow covers ≈ 0.73
and fails. Each check is passed by a correct method with probability above 99.7% whatever
the seeds; the seeds are fixed, so the test is deterministic. GGom/NBD's fit costs ~1 s per
replicate (quadrature likelihood), so it runs R = 40 replicates of N = 1500 from the true
parameters as the start (the optimum does not depend on the start; the fit only gets
there sooner): sd = 0.047, band [0.72, 1.0], a weaker check that still fails a method
1.5× too narrow. ``benches/coverage_intervals.py`` runs every case with R = 400 (GGom/NBD
R = 100) and prints the coverages.
"""

from __future__ import annotations

import warnings

import polars as pl
import pytest

from truenorth import clv

R, N, LEVEL = 120, 3000, 0.9
#: (replicates, customers) where the default costs too much per replicate
SMALLER = {"ggom_nbd": (40, 1500)}
METHODS = ("delta", "normal")


def band(reps: int) -> tuple[float, float]:
    """The accepted coverage range for ``reps`` replicates (see the module docstring)."""
    sd = (LEVEL * (1 - LEVEL) / reps) ** 0.5
    return LEVEL - 3 * sd - 0.04, min(1.0, LEVEL + 3 * sd)


CONTINUOUS = pl.DataFrame(
    {"frequency": [0.0, 2.0, 6.0], "recency": [0.0, 20.0, 36.0], "T": [40.0, 40.0, 40.0]}
)
DISCRETE = pl.DataFrame(
    {"frequency": [0.0, 2.0, 5.0], "recency": [0.0, 3.0, 6.0], "T": [6.0, 6.0, 6.0]}
)
CASES = {
    # kind: (true parameters, T, holdout length h, reference histories)
    "bg_nbd": ({"r": 0.5, "alpha": 5.0, "a": 0.7, "b": 2.5}, 40, 20, CONTINUOUS),
    "mbg_nbd": ({"r": 0.5, "alpha": 5.0, "a": 0.7, "b": 2.5}, 40, 20, CONTINUOUS),
    "pareto_nbd": ({"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}, 40, 20, CONTINUOUS),
    "ggom_nbd": (
        {"r": 0.85, "alpha": 4.45, "b": 0.12, "s": 0.75, "beta": 9.55},
        40,
        20,
        CONTINUOUS,
    ),
    "bg_bb": ({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}, 6, 5, DISCRETE),
}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def coverage(kind: str, reps: int, n: int) -> dict[str, list[float]]:
    """Share of ``reps`` replicates whose 90% interval covers the true expectation, per
    method and reference history."""
    params, T, h, ref = CASES[kind]
    cls = clv.models_registry()[kind]
    truth_model = cls.from_params(params)
    truth = truth_model.expected_purchases(ref, h).to_list()
    hits = {m: [0] * ref.height for m in METHODS}
    for i in range(reps):
        sample = clv.simulate_model(truth_model, n, T=T, seed=1000 + i)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a replicate that does not converge fails loudly
            model = cls().fit(sample, start=params if kind in SMALLER else None)
        for method in METHODS:
            band = model.expected_purchases(
                ref, h, interval=LEVEL, draws=200, seed=i, method=method
            )
            lo, hi = band["expected_purchases_lower"], band["expected_purchases_upper"]
            for j in range(ref.height):
                hits[method][j] += lo[j] <= truth[j] <= hi[j]
    return {m: [k / reps for k in v] for m, v in hits.items()}


def clv_coverage(reps: int, n: int) -> dict[str, list[float]]:
    """The same for 12-step CLV of BG/NBD with Gamma-Gamma spend (reference histories with
    mean spends 0, 30 and 60), both models refitted per replicate."""
    params, T, _, ref = CASES["bg_nbd"]
    ref = ref.with_columns(monetary_value=pl.Series([0.0, 30.0, 60.0]))
    kw = {"horizon": 12, "horizon_unit": "week", "time_unit": "1w"}
    truth = clv.lifetime_value(
        clv.BetaGeo.from_params(params), clv.GammaGamma.from_params(GG), ref, **kw
    ).to_list()
    hits = {m: [0] * ref.height for m in METHODS}
    for i in range(reps):
        s = clv.simulate_bg_nbd(n, **params, T=T, seed=2000 + i)
        s = s.with_columns(
            monetary_value=clv.simulate_gamma_gamma(s["frequency"], **GG, seed=3000 + i)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            bg, gg = clv.BetaGeo().fit(s), clv.GammaGamma().fit(s)
        for method in METHODS:
            band = clv.lifetime_value(
                bg, gg, ref, **kw, interval=LEVEL, draws=200, seed=i, method=method
            )
            for j in range(ref.height):
                hits[method][j] += band["clv_lower"][j] <= truth[j] <= band["clv_upper"][j]
    return {m: [k / reps for k in v] for m, v in hits.items()}


@pytest.mark.parametrize("kind", list(CASES))
def test_nominal_90_percent_intervals_cover_the_true_expectation(kind):
    reps, n = SMALLER.get(kind, (R, N))
    low, high = band(reps)
    cov = coverage(kind, reps, n)
    assert all(low <= c <= high for v in cov.values() for c in v), f"{kind}: {cov}"


def test_clv_intervals_with_spend_uncertainty_cover_the_true_clv():
    low, high = band(R)
    cov = clv_coverage(R, N)
    assert all(low <= c <= high for v in cov.values() for c in v), f"clv: {cov}"
