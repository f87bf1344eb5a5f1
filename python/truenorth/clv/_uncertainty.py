"""Prediction intervals of fitted models: the methods and their parameter draws (``_purchase``
and ``value`` use them; the likelihood-ratio test is ``_lrtest``).

Prediction intervals (``interval=`` of ``p_alive``, ``expected_purchases``,
``conditional_p_purchases`` and ``lifetime_value``) describe the estimation error of the
parameters, through one of three methods (``method=``):

- ``method="delta"`` (default): the delta method on the log-parameters. The prediction f is
  evaluated per distinct (frequency, recency, T) pattern at θ̂ and with each log-parameter
  moved by ±10⁻⁴ (central differences: 2K + 1 evaluations for K parameters), and the interval
  is normal on a link scale, g = ln f for expected purchases and CLV, logit f for
  probabilities: g(θ̂) ± z·se with se² = ∇gᵀ H⁻¹ ∇g, H the Hessian of the negative
  log-likelihood in the log-parameters (the scale the fit optimises on). Bounds stay inside
  the range (positive, below 1) and are asymmetric on the natural scale, but the shape on
  the link scale is symmetric by construction.
- ``method="normal"``: quantiles over ``draws`` draws of the log-parameters from the same
  asymptotic normal N(ln θ̂, H⁻¹), each draw pushed through the model. It follows the
  prediction's curvature (skew beyond a log or logit shape) at ``draws`` evaluations per
  pattern instead of 2K + 1.
- ``method="bootstrap"``: refits on the fitted customers resampled with replacement (as
  CLVTools' ``uncertainty="boots"``), each refit started from the estimate. Needs the data
  the model was fitted on in this session (a loaded model has none) and costs one fit per
  draw (on the compressed patterns, in parallel); refits that do not converge are left out
  with a warning.

Why delta is the default (measured with ``benches/bench_intervals.py`` on 1M customers,
~108k patterns, and ``benches/coverage_intervals.py``): it costs about 2-4× a point
prediction where 200 draws cost 15-25×, and its coverage of the true expectation on
simulated data matches the draws' for every model (both within the binomial noise of 90%).
Where the two differ, the draws are the better description: a prediction that is strongly
non-linear in the parameters over their uncertainty (small samples, a parameter near a
boundary, far horizons) is skewed beyond what a log or logit scale absorbs, and only the
draws (or the bootstrap) follow it. Use ``method="normal"`` there, or to check.

The fit stores the natural-scale covariance (delta method, Σ_ij = θ̂_i θ̂_j (H⁻¹)_ij); both
methods recover H⁻¹ from it exactly. Everything is evaluated in Rust once per distinct
pattern, not per customer. The intervals are for each customer's *expected* value, not for
the purchases the customer will make.

In ``lifetime_value`` with a fitted Gamma-Gamma spend model, the spend model's parameter
uncertainty is part of the interval: the two likelihoods share no parameter, so their
estimates are asymptotically independent (block-diagonal information); the delta method adds
the two variances of ln CLV = ln E[purchases] + ln E[spend], and the draws pair draw k of
the purchase parameters with an independent draw k of (p, q, v). To hold spend at its
estimate, pass ``gamma_gamma.expected_spend(data)`` as the spend instead of the model.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist
from typing import Any, Literal

from .. import _core
from ._input import ModelInputError

Method = Literal["delta", "normal", "bootstrap"]

__all__ = ["Method", "check_interval", "param_draws", "z_value"]


def check_interval(interval: Any, draws: Any, seed: Any, method: Any) -> float:
    """The interval level as a float, after checking every interval argument."""
    if isinstance(interval, bool) or not (isinstance(interval, int | float) and 0 < interval < 1):
        raise ModelInputError(
            f"interval must be a level strictly between 0 and 1 (e.g. 0.9), got {interval!r}"
        )
    if isinstance(draws, bool) or not (isinstance(draws, int) and 2 <= draws <= 100_000):
        raise ModelInputError(f"draws must be a whole number from 2 to 100000, got {draws!r}")
    if isinstance(seed, bool) or not (isinstance(seed, int) and 0 <= seed < 2**64):
        raise ModelInputError(f"seed must be a non-negative integer, got {seed!r}")
    if method not in ("delta", "normal", "bootstrap"):
        raise ModelInputError(f"method must be 'delta', 'normal' or 'bootstrap', got {method!r}")
    return float(interval)


def param_draws(model: Any, method: Method, draws: int, seed: int) -> list[list[float]]:
    """``draws`` parameter vectors of a fitted ``_model._Model`` (natural scale), cached on
    the model so that several predictions of one run share the same draws (and a bootstrap
    runs once)."""
    if getattr(model, "covariates", None) is not None:
        raise ModelInputError(
            f"{model.label} with covariates: prediction intervals use method='delta' only; "
            "the coefficients' standard errors are in coefficients()"
        )
    key = (method, draws, seed, model._params)
    cache: dict[Any, list[list[float]]] = model.__dict__.setdefault("_draw_cache", {})
    if key in cache:
        return cache[key]
    if method == "normal":
        out = _core.param_draws(model._p(), model._interval_covariance(), draws, seed)
    else:
        out = _bootstrap(model, draws, seed)
    cache.clear()  # one set of draws at a time: they can be large
    cache[key] = out
    return out


def _bootstrap(model: Any, draws: int, seed: int) -> list[list[float]]:
    data = model.__dict__.get("_fit_data")
    if data is None:
        raise ModelInputError(
            f"method='bootstrap' refits {model.label} on the customers it was fitted on, and "
            "this model was not fitted in this session (loaded or built from parameters): "
            "fit it, or use method='normal'"
        )
    x, second, t, w, max_iter = data
    reps = _core.bootstrap_params(model._native, x, second, t, w, model._p(), draws, seed, max_iter)
    ok = [r for r in reps if r is not None]
    failed = len(reps) - len(ok)
    if len(ok) * 2 < len(reps):
        raise ModelInputError(
            f"bootstrap: {failed} of {draws} refits of {model.label} did not converge; the "
            "fit is too fragile for a bootstrap interval (try method='normal')"
        )
    if failed:
        warnings.warn(
            f"bootstrap: {failed} of {draws} refits of {model.label} did not converge and "
            "are left out of the interval",
            UserWarning,
            stacklevel=4,
        )
    return ok


def z_value(level: float) -> float:
    """The standard normal quantile of a central interval of ``level``."""
    return NormalDist().inv_cdf(0.5 + level / 2)
