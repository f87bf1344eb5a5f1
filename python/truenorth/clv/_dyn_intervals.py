"""Predictions of the time-varying-covariate Pareto/NBD beyond the point values: the
conditional PMF of future purchases and prediction intervals.

PMF: P(X = n) of purchases over (calibration end, + horizon periods] under the covariate
values of those periods (Rust ``dynamic::pmf``: a customer alive at T restarts with posterior
λ ~ Gamma(r + x, α + A(T)), μ ~ Gamma(s, β + B(T)); the count until the dropout is negative
binomial in the integrated purchase rate, mixed over the dropout time).

Intervals, by the static models' three methods (``method=``; ``truenorth.clv._uncertainty``):
``"delta"`` (default) is the static covariate models' delta method (``_cov_intervals``) on
the free parameters ψ = (ln r, ln α, ln s, ln β, coefficients): each prediction is evaluated
at ψ̂ and with one component moved by ±H, 2(4 + C) + 1 native passes over the customers'
paths, and the interval is normal on the log scale (expected purchases, CLV) or logit scale
(probabilities), Σ_ψ being the fit's covariance with the base block divided by the
estimates. ``"normal"`` and ``"bootstrap"`` take quantiles over ``draws`` parameter draws
(``_dyn_draws``), one native pass per draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import polars as pl

from .. import _core
from ._cov_intervals import H, Link, link_bounds
from ._dyn_draws import evaluate_draws, free_covariance, quantile_bounds
from ._dynpath import Calendar, Columns, Paths, calibration, column_params, future
from ._input import ModelInputError
from ._uncertainty import Method, check_interval, z_value
from .covariates import CovariateSpec


class FitLike(Protocol):
    """What the bounds read of a fitted time-varying-covariate model: its estimates,
    covariance and coding. A protocol, so this module need not import the model's (which
    delegates its intervals here)."""

    params: dict[str, float]
    coefficient_values: dict[str, float]
    spec: CovariateSpec
    calendar: Calendar
    columns: Columns
    covariance: list[list[float]] | None
    message: str

    def _table(self, covariates: Any) -> pl.DataFrame: ...

    def _vector(self) -> list[float]: ...


BASE = ("r", "alpha", "s", "beta")


def _series(v: Any) -> pl.Series:
    return pl.Series(np.asarray(v, dtype=np.float64))


_Calib = tuple[
    pl.Series, pl.Series, pl.Series, pl.Series, pl.Series, list[pl.Series], list[pl.Series]
]
_Future = tuple[pl.Series, pl.Series, list[pl.Series], list[pl.Series]]


@dataclass
class Window:
    """The customers' calibration paths and their future paths over one horizon, as columns
    for the native predictions."""

    paths: Paths
    calib: _Calib
    future: _Future

    def predict(self, vector: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(P(alive), expected purchases) at the kernels' parameter vector."""
        pa, ex = _core.dyncov_predict(vector, *self.calib, *self.future)
        return np.asarray(pa, dtype=float), np.asarray(ex, dtype=float)

    def predict_steps(self, vector: list[float], ends: list[float]) -> tuple[np.ndarray, ...]:
        """(P(alive), expected purchases up to each of ``ends`` as a steps × customers array)
        in one native pass (the window must cover the last end)."""
        pa, cum = _core.dyncov_predict_steps(vector, *self.calib, *self.future, ends)
        n = len(pa)
        return np.asarray(pa, dtype=float), np.asarray(cum, dtype=float).reshape(n, len(ends)).T

    def pmf(self, vector: list[float], n: int) -> np.ndarray:
        """P(X = n) over the window at the kernels' parameter vector."""
        return np.asarray(_core.dyncov_pmf(vector, *self.calib, *self.future, n), dtype=float)


def packed(paths: Any, f_off: Any, f_dur: Any, f_zt: Any, f_zl: Any) -> Window:
    """A calibration path and its future pieces as the native kernels' column arguments."""
    calib: _Calib = (
        _series(paths.x),
        _series(paths.tx),
        _series(paths.T),
        _series(paths.offsets),
        _series(paths.dur),
        [_series(z) for z in paths.zt],
        [_series(z) for z in paths.zl],
    )
    fut: _Future = (
        _series(f_off),
        _series(f_dur),
        [_series(z) for z in f_zt],
        [_series(z) for z in f_zl],
    )
    return Window(paths, calib, fut)


def window(fit: FitLike, transactions: Any, covariates: Any, horizon: Any) -> Window:
    """The native inputs of predictions ``horizon`` periods past the calibration end."""
    if not (
        isinstance(horizon, int | float)
        and not isinstance(horizon, bool)
        and math.isfinite(horizon)
        and horizon >= 0
    ):
        raise ModelInputError(f"horizon must be a number of periods >= 0, got {horizon!r}")
    table = fit._table(covariates)
    paths = calibration(transactions, table, fit.spec, fit.columns, fit.calendar)
    f_off, f_dur, f_zt, f_zl = future(
        paths, table, fit.spec, fit.columns, fit.calendar, float(horizon)
    )
    return packed(paths, f_off, f_dur, f_zt, f_zl)


@dataclass(frozen=True)
class Band:
    """The interval arguments, checked: level, method, draws, seed."""

    level: float
    method: Method = "delta"
    draws: int = 200
    seed: int = 0


def band(interval: Any, draws: Any = 200, seed: Any = 0, method: Any = "delta") -> Band:
    """The interval arguments checked as the static models check them."""
    return Band(check_interval(interval, draws, seed, method), method, draws, seed)


def delta_bounds(
    fit: FitLike,
    evaluate: Callable[[list[float]], np.ndarray],
    level: float,
    link: Link,
    extra_log_var: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer (lower, upper) of ``evaluate`` (kernels' parameter vector -> one value
    per customer) at ``level``, by the delta method on the fit's covariance;
    ``extra_log_var`` adds an independent variance on the log scale (a spend model's)."""
    sigma = free_covariance(fit)
    base = [fit.params[n] for n in BASE]
    coef = list(fit.coefficient_values.values())
    k = len(base) + len(coef)

    def at(b: list[float], c: list[float]) -> np.ndarray:
        return evaluate(column_params(fit.spec, b, c))

    f0 = at(base, coef)
    plus: list[np.ndarray] = []
    minus: list[np.ndarray] = []
    for j in range(k):
        for sign, out in ((1.0, plus), (-1.0, minus)):
            b, c = list(base), list(coef)
            if j < len(base):
                b[j] *= math.exp(sign * H)
            else:
                c[j - len(base)] += sign * H
            out.append(at(b, c))
    return link_bounds(
        f0, np.stack(plus), np.stack(minus), sigma, z_value(level), link, extra_log_var
    )


def interval_columns(
    fit: FitLike,
    evaluate: Callable[[list[float]], tuple[np.ndarray, ...]],
    outputs: list[tuple[str, int, Link]],
    b: Band,
) -> list[pl.Series]:
    """``<name>_lower``/``_upper`` of each (name, output index of ``evaluate``, link): by the
    delta method, or over the draws (each draw evaluated once for every output)."""
    cols = []
    if b.method == "delta":
        seen: dict[tuple[float, ...], tuple[np.ndarray, ...]] = {}

        def once(v: list[float]) -> tuple[np.ndarray, ...]:
            # every output moves the same parameters: one native pass per vector
            key = tuple(v)
            if key not in seen:
                seen[key] = evaluate(v)
            return seen[key]

        for name, pick, link in outputs:

            def one(v: list[float], pick: int = pick) -> np.ndarray:
                return once(v)[pick]

            lo, hi = delta_bounds(fit, one, b.level, link)
            cols += [pl.Series(f"{name}_lower", lo), pl.Series(f"{name}_upper", hi)]
        return cols
    values = evaluate_draws(
        fit, lambda base, coef: evaluate(column_params(fit.spec, base, coef)), *_draw_args(b)
    )
    for name, pick, _ in outputs:
        lo, hi = quantile_bounds(values[pick], b.level)
        cols += [pl.Series(f"{name}_lower", lo), pl.Series(f"{name}_upper", hi)]
    return cols


def _draw_args(b: Band) -> tuple[str, int, int]:
    return b.method, b.draws, b.seed


def with_bounds(fit: FitLike, frame: pl.DataFrame, win: Window, b: Band) -> pl.DataFrame:
    """``frame`` (the point predictions) with ``p_alive`` and ``expected_purchases`` bounds."""
    outputs: list[tuple[str, int, Link]] = [
        ("p_alive", 0, "logit"),
        ("expected_purchases", 1, "log"),
    ]
    return frame.with_columns(interval_columns(fit, win.predict, outputs, b))


def conditional_p_purchases(
    fit: FitLike,
    transactions: Any,
    covariates: Any,
    n: Any,
    horizon: Any,
    b: Band | None = None,
) -> pl.DataFrame:
    """Per customer P(X = n) over the next ``horizon`` periods (and its bounds)."""
    if isinstance(n, bool) or not (isinstance(n, int) and n >= 0):
        raise ModelInputError(f"n must be a non-negative integer, got {n!r}")
    win = window(fit, transactions, covariates, horizon)
    p = win.pmf(fit._vector(), n)
    if not np.isfinite(p).all():
        i = int(np.argmax(~np.isfinite(p)))
        raise ModelInputError(
            f"covariates: customer {win.paths.customers[i]!r} has covariate values so large "
            "that exp(coefficients · covariates) overflows; check their scale"
        )
    out = pl.DataFrame({fit.columns.customer: win.paths.customers, "conditional_p_purchases": p})
    if b is None:
        return out
    cols = interval_columns(
        fit, lambda v: (win.pmf(v, n),), [("conditional_p_purchases", 0, "logit")], b
    )
    return out.with_columns(cols)
