"""Delta-method prediction intervals of covariate models.

The no-covariate delta method (Rust ``delta_interval``) differentiates a prediction in the
log-parameters shared by every customer. Under covariates each customer has their own
parameters θ_i(ψ), a function of ψ = (ln θ_base, γ), so the prediction f_i is differentiated
in ψ through the link functions: f_i is evaluated at ψ̂ and at ψ̂ with one component moved by
±h (central differences, 2(K + C) + 1 evaluations for K base parameters and C coefficients),
each evaluation one native pass over the rows with their own parameters. The interval is
normal on the same link scale as without covariates -- ln f for expected purchases and CLV,
logit f for probabilities:

    g_i = link(f_i),  se_i² = ∇g_i(ψ̂)ᵀ Σ_ψ ∇g_i(ψ̂),  bounds = link⁻¹(g_i ± z·se_i),

where Σ_ψ is the fit's covariance with the base block mapped to the log scale
(Σ_ψ[j][k] = cov[j][k] / (d_j d_k), d = θ̂ for a base parameter and 1 for a coefficient).
A row whose link value is not finite (f = 0, or P(alive) = 1) takes the interval of f itself,
clipped to the prediction's range, as without covariates. At zero coefficients, a row's
gradient in the base block is the no-covariate gradient, so the intervals agree with the
no-covariate ones up to the coefficients' own uncertainty (tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import polars as pl

from ._input import ModelInputError

#: step on ln θ and on γ: as the Rust delta method (small against standard errors, large
#: against the predictions' rounding)
H = 1e-4

Link = Literal["log", "logit"]


def _apply(link: Link, v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(v) if link == "log" else np.log(v / (1.0 - v))


def _inverse(link: Link, g: np.ndarray) -> np.ndarray:
    return np.exp(g) if link == "log" else 1.0 / (1.0 + np.exp(-g))


def delta_bounds(
    model: Any,
    frame: pl.DataFrame,
    predict: Callable[[list[pl.Series]], Any],
    z: float,
    link: Link,
    extra_log_var: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (lower, upper) of ``predict`` (row parameters -> one value per row) for a
    fitted covariate ``model``; ``extra_log_var`` adds an independent variance on the log
    scale (a spend model's, for CLV)."""
    spec = model.covariates
    base, coef = list(model._p()), list(model._coef)
    k = len(base) + len(coef)
    cov = np.asarray(model._interval_covariance(), dtype=float)
    if cov.shape != (k, k):
        raise ModelInputError(f"{model.label}: the covariance is not {k} x {k}")
    d = np.asarray(base + [1.0] * len(coef))
    sigma = cov / np.outer(d, d)

    def at(b: list[float], c: list[float]) -> np.ndarray:
        rows = spec.row_params(model._native, b, c, frame)
        return pl.Series(predict(rows)).cast(pl.Float64).to_numpy().copy()

    f0 = at(base, coef)
    moved: list[list[np.ndarray]] = []
    for j in range(k):
        pair = []
        for sign in (1.0, -1.0):
            b, c = list(base), list(coef)
            if j < len(base):
                b[j] *= math.exp(sign * H)
            else:
                c[j - len(base)] += sign * H
            pair.append(at(b, c))
        moved.append(pair)
    plus = np.stack([p for p, _ in moved])
    minus = np.stack([m for _, m in moved])
    return link_bounds(f0, plus, minus, sigma, z, link, extra_log_var)


def link_bounds(
    f0: np.ndarray,
    plus: np.ndarray,
    minus: np.ndarray,
    sigma: np.ndarray,
    z: float,
    link: Link,
    extra_log_var: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (lower, upper) from the prediction ``f0`` and its values with free parameter j
    moved by +H / −H (rows j of ``plus`` / ``minus``), ``sigma`` the free parameters'
    covariance (the delta method of the module docstring)."""
    finite = np.isfinite(f0) & np.isfinite(plus).all(0) & np.isfinite(minus).all(0)
    g0, gp, gm = _apply(link, f0), _apply(link, plus), _apply(link, minus)
    linked = finite & np.isfinite(g0) & np.isfinite(gp).all(0) & np.isfinite(gm).all(0)
    with np.errstate(invalid="ignore"):  # inf − inf in the branch a row does not take
        grad = np.where(linked, gp - gm, plus - minus) / (2 * H)
    var = np.maximum(np.einsum("ir,ij,jr->r", grad, sigma, grad), 0.0)
    if extra_log_var is not None:
        var = var + np.where(linked, extra_log_var, 0.0)
    half = z * np.sqrt(var)
    top = np.inf if link == "log" else 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        lo = np.where(linked, _inverse(link, g0 - half), np.clip(f0 - half, 0.0, top))
        hi = np.where(linked, _inverse(link, g0 + half), np.minimum(f0 + half, top))
    lo[~finite] = np.nan
    hi[~finite] = np.nan
    return lo, hi
