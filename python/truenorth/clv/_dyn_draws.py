"""Parameter draws of the time-varying-covariate Pareto/NBD, for intervals by
``method="normal"`` and ``method="bootstrap"`` (the static models' options and names; see
``truenorth.clv._uncertainty`` for when each is worth its cost).

- ``"normal"``: ψ = (ln r, ln α, ln s, ln β, coefficients) drawn from N(ψ̂, Σ_ψ), Σ_ψ the
  fit's covariance with the base block divided by the estimates (the delta method's Σ_ψ);
  numpy's PCG64 generator seeded by ``seed``.
- ``"bootstrap"``: the fitted customers resampled with replacement (each with their whole
  covariate path) and refitted from the estimate, as CLVTools' ``uncertainty="boots"``. Needs
  the data the model was fitted on in this session (a loaded model has none); refits that do
  not converge are left out with a warning, and more than half failing is an error.

Each draw's prediction is one native pass over the customers' paths (a CLV over h steps: h
passes), so ``draws`` draws cost ``draws`` times a point prediction, where the delta method
costs 2(4 + C) + 1. The bounds are the type-7 quantiles ((1 − level)/2, (1 + level)/2) over
the draws whose prediction is finite; a customer with fewer than half of the draws finite
gets NaN, as in the static models' draws.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ._dynpath import Paths, coefficient_map, native_args, subset
from ._input import ModelInputError

BASE = ("r", "alpha", "s", "beta")

#: one draw: (r, alpha, s, beta) and the coefficients, natural scale
Draw = tuple[list[float], list[float]]


@dataclass(frozen=True)
class Refit:
    """What a bootstrap needs of the fit: the customers' calibration paths and the fit's
    iteration limit (kept on a fitted model, not persisted)."""

    paths: Paths
    max_iter: int


def free_covariance(fit: Any) -> np.ndarray:
    """Σ_ψ: the covariance of (ln r, ln α, ln s, ln β, coefficients), or a clear error."""
    if fit.covariance is None:
        raise ModelInputError(
            "intervals need the fit's covariance, and this fit has none (its Hessian was not "
            f"positive definite: {fit.message or 'no standard errors'}); regularise with l2 "
            "or drop the unidentified covariate"
        )
    base = [fit.params[n] for n in BASE]
    k = len(base) + len(fit.coefficient_values)
    cov = np.asarray(fit.covariance, dtype=float)
    if cov.shape != (k, k):
        raise ModelInputError(f"the fit's covariance is not {k} x {k}")
    d = np.asarray(base + [1.0] * (k - len(base)))
    return cov / np.outer(d, d)


def draws_of(fit: Any, method: str, draws: int, seed: int) -> list[Draw]:
    """``draws`` parameter draws (bootstrap: the converged refits), cached on the fit so that
    several predictions of one run share them (and a bootstrap runs once)."""
    base = [fit.params[n] for n in BASE]
    coef = list(fit.coefficient_values.values())
    key = (method, draws, seed, tuple(base), tuple(coef))
    cache: dict[Any, list[Draw]] = fit.__dict__.setdefault("_draw_cache", {})
    if key not in cache:
        out = _normal(fit, draws, seed) if method == "normal" else _bootstrap(fit, draws, seed)
        cache.clear()  # one set at a time
        cache[key] = out
    return cache[key]


def _normal(fit: Any, draws: int, seed: int) -> list[Draw]:
    sigma = free_covariance(fit)
    mean = [math.log(fit.params[n]) for n in BASE] + list(fit.coefficient_values.values())
    psi = np.random.default_rng(seed).multivariate_normal(mean, sigma, size=draws, method="eigh")
    return [(np.exp(row[:4]).tolist(), row[4:].tolist()) for row in psi]


def _bootstrap(fit: Any, draws: int, seed: int) -> list[Draw]:
    refit: Refit | None = fit.__dict__.get("_refit")
    if refit is None:
        raise ModelInputError(
            "method='bootstrap' refits the model on the customers it was fitted on, and this "
            "model was not fitted in this session (loaded or built from parameters): fit it, "
            "or use method='normal'"
        )
    ti, li, pen = coefficient_map(fit.spec)
    start = [fit.params[n] for n in BASE] + list(fit.coefficient_values.values())
    rng = np.random.default_rng(seed)
    n = len(refit.paths.x)
    ok: list[Draw] = []
    for _ in range(draws):
        sample = subset(refit.paths, rng.integers(0, n, n))
        try:
            out = _core.dyncov_fit(
                *native_args(sample),
                start=start,
                max_iter=refit.max_iter,
                trans_index=ti,
                life_index=li,
                l2=pen,
            )
        except ValueError:
            continue  # a resample the optimiser cannot start on counts as a failed refit
        p = list(out["params"])
        if out["converged"] and all(math.isfinite(v) for v in p):
            ok.append((p[:4], p[4:]))
    failed = draws - len(ok)
    if len(ok) * 2 < draws:
        raise ModelInputError(
            f"bootstrap: {failed} of {draws} refits did not converge; the fit is too fragile "
            "for a bootstrap interval (try method='normal')"
        )
    if failed:
        warnings.warn(
            f"bootstrap: {failed} of {draws} refits did not converge and are left out of the "
            "interval",
            UserWarning,
            stacklevel=5,
        )
    return ok


def evaluate_draws(
    fit: Any,
    evaluate: Callable[[list[float], list[float]], tuple[np.ndarray, ...]],
    method: str,
    draws: int,
    seed: int,
) -> list[np.ndarray]:
    """Each output of ``evaluate`` ((base, coefficients) -> per-customer arrays) over the
    draws: one (draws × customers) array per output, each draw evaluated once."""
    seen: dict[tuple[float, ...], tuple[np.ndarray, ...]] = {}
    runs = []
    for b, c in draws_of(fit, method, draws, seed):
        key = (*b, *c)  # equal draws (a degenerate covariance) are evaluated once
        if key not in seen:
            seen[key] = evaluate(b, c)
        runs.append(seen[key])
    return [np.stack([r[j] for r in runs]) for j in range(len(runs[0]))]


def quantile_bounds(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer (lower, upper) central ``level`` quantiles of (draws × customers)
    ``values`` over the finite draws (NaN with fewer than half finite)."""
    finite = np.isfinite(values)
    masked = np.where(finite, values, np.nan)
    probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, handled below
        lo, hi = np.nanquantile(masked, probs, axis=0)
    enough = finite.sum(axis=0) >= -(-values.shape[0] // 2)
    return np.where(enough, lo, np.nan), np.where(enough, hi, np.nan)
