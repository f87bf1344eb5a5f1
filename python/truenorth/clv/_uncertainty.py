"""Parameter uncertainty of fitted models: parameter draws for prediction intervals, the
covariance and confidence intervals of the parameters, and likelihood-ratio tests.

Prediction intervals (``interval=`` of ``p_alive``, ``expected_purchases``,
``conditional_p_purchases`` and ``lifetime_value``) are quantiles, per customer, of the
prediction evaluated at ``draws`` parameter vectors:

- ``method="normal"`` (default): the log-parameters are drawn from their asymptotic normal,
  N(ln θ̂, H⁻¹) with H the Hessian of the negative log-likelihood in the log-parameters, the
  scale the fit optimises on. The fit stores the natural-scale covariance (delta method,
  Σ_ij = θ̂_i θ̂_j (H⁻¹)_ij); the draws recover H⁻¹ from it exactly. Drawing on the log
  scale keeps every draw positive and follows the skew of the likelihood in scale
  parameters such as α and β.
- ``method="bootstrap"``: refits on the fitted customers resampled with replacement (as
  CLVTools' ``uncertainty="boots"``), each refit started from the estimate. Needs the data
  the model was fitted on in this session (a loaded model has none) and costs one fit per
  draw (on the compressed patterns, in parallel); refits that do not converge are left out
  with a warning.

The draws are evaluated in Rust once per distinct (frequency, recency, T) pattern, not per
customer. The intervals describe the estimation error of the parameters: they are intervals
for each customer's *expected* value, not for the purchases the customer will make.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from .. import _core
from ._input import ModelInputError

if TYPE_CHECKING:
    from ._base import _Model

Method = Literal["normal", "bootstrap"]

__all__ = ["NESTED", "LRTest", "Method", "check_interval", "lrtest", "param_draws"]


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
    if method not in ("normal", "bootstrap"):
        raise ModelInputError(f"method must be 'normal' or 'bootstrap', got {method!r}")
    return float(interval)


def param_draws(model: _Model, method: Method, draws: int, seed: int) -> list[list[float]]:
    """``draws`` parameter vectors of ``model`` (natural scale), cached on the model so that
    several predictions of one run share the same draws (and a bootstrap runs once)."""
    key = (method, draws, seed, model._params)
    cache: dict[Any, list[list[float]]] = model.__dict__.setdefault("_draw_cache", {})
    if key in cache:
        return cache[key]
    if method == "normal":
        if model.covariance is None:
            raise ModelInputError(
                f"{model.label} has no parameter covariance (built from parameters, or its "
                "Hessian was not positive definite at the optimum): fit it on data, or use "
                "method='bootstrap'"
            )
        out = _core.param_draws(model._p(), model.covariance, draws, seed)
    else:
        out = _bootstrap(model, draws, seed)
    cache.clear()  # one set of draws at a time: they can be large
    cache[key] = out
    return out


def _bootstrap(model: _Model, draws: int, seed: int) -> list[list[float]]:
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


@dataclass(frozen=True)
class Nesting:
    """How a restricted model sits inside a fuller one."""

    df: int
    #: the restriction puts a parameter on the boundary of its space (or at a limit), so the
    #: statistic follows ½χ²₀ + ½χ²_df rather than χ²_df (Self & Liang 1987)
    boundary: bool
    why: str


#: (restricted kind, full kind) pairs for which ``lrtest`` is valid. The purchase models of
#: truenorth are otherwise not nested in one another: BG/NBD and MBG/NBD have the same four
#: parameters and different likelihoods, and neither they nor BG/BB are special cases of
#: Pareto/NBD. Pareto/NBD is the limit b → 0 of GGom/NBD (Bemmaor & Glady 2012), at the edge
#: of b's space, hence the boundary mixture.
NESTED: dict[tuple[str, str], Nesting] = {
    ("pareto_nbd", "ggom_nbd"): Nesting(
        df=1, boundary=True, why="Pareto/NBD is GGom/NBD in the limit b -> 0"
    ),
}


@dataclass(frozen=True)
class LRTest:
    """A likelihood-ratio test: ``statistic`` = 2 (LL_full − LL_restricted), its degrees of
    freedom and p-value."""

    restricted: str
    full: str
    statistic: float
    df: int
    p_value: float
    boundary: bool


def lrtest(restricted: Any, full: Any) -> LRTest:
    """Likelihood-ratio test of a fitted ``restricted`` model against a fitted ``full`` model
    that nests it, on the same customers.

    Valid pairs are listed in ``NESTED`` (kinds; at present Pareto/NBD inside GGom/NBD when
    that model is registered); any other pair is refused, because the χ² reference
    distribution holds only for nested models (compare non-nested ones such as BG/NBD and
    MBG/NBD by AIC/BIC or on a holdout instead). Both models must be fitted on the same data:
    the number of observations must agree.

    Example::

        test = clv.lrtest(ParetoNBD().fit(summary), GGomNBD().fit(summary))
        test.p_value  # small: GGom/NBD's extra parameter is needed
    """
    from ._base import _Model

    for name, m in (("restricted", restricted), ("full", full)):
        if not isinstance(m, _Model) or m.log_likelihood is None:
            raise ModelInputError(f"lrtest: {name} must be a fitted truenorth.clv model")
    nest = NESTED.get((restricted.kind, full.kind))
    if nest is None:
        valid = ", ".join(f"{a} in {b}" for a, b in NESTED) or "none"
        raise ModelInputError(
            f"lrtest: {restricted.label} is not nested in {full.label}, so the likelihood "
            f"ratio has no chi-square reference; valid pairs (restricted in full): {valid}. "
            "Compare non-nested models by AIC/BIC or on a holdout"
        )
    if restricted.n_observations != full.n_observations:
        raise ModelInputError(
            f"lrtest: the models were fitted on different data ({restricted.n_observations:g} "
            f"and {full.n_observations:g} customers)"
        )
    stat = max(0.0, 2.0 * (full.log_likelihood - restricted.log_likelihood))
    p = chi2_sf(stat, nest.df)
    if nest.boundary:
        p = 0.5 * p if stat > 0 else 1.0
    return LRTest(restricted.kind, full.kind, stat, nest.df, p, nest.boundary)


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df > x) for a whole number of degrees of freedom (closed forms, no SciPy)."""
    if x <= 0:
        return 1.0
    h = x / 2
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= h / k
            total += term
        return math.exp(-h) * total
    total = math.erfc(math.sqrt(h))
    term = math.sqrt(h) * math.exp(-h) / math.gamma(1.5)
    for k in range(1, (df + 1) // 2):
        total += term
        term *= h / (k + 0.5)
    return min(1.0, total)
