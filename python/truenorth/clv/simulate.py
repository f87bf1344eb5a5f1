"""Seeded simulators of each model's data-generating process (in Rust, parallel, deterministic
for a given seed whatever the thread count).

Summaries come out as frames with ``customer``, ``frequency``, ``recency`` and ``T``. ``T``
is a number (every customer observed equally long) or one value per customer. With
``resolution`` (e.g. ``1/7`` for day periods in week units) purchase times are floored to
that grid and same-period purchases merged, as a summary built with that period would do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from .. import _core
from ._input import ModelInputError
from ._model import _Model
from .models import BetaGeo, BetaGeoBetaBinom, ModifiedBetaGeo, ParetoNBD

__all__ = [
    "simulate_bg_bb",
    "simulate_bg_nbd",
    "simulate_bg_nbd_transactions",
    "simulate_gamma_gamma",
    "simulate_mbg_nbd",
    "simulate_model",
    "simulate_pareto_nbd",
]


def _positive(**kw: float) -> list[float]:
    for k, v in kw.items():
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise ModelInputError(f"parameter {k} must be a positive finite number, got {v!r}")
    return [float(v) for v in kw.values()]


def _t_column(n: int, T: float | Sequence[float] | pl.Series) -> pl.Series:
    if isinstance(T, int | float):
        if not (math.isfinite(T) and T > 0):
            raise ModelInputError(f"T must be positive, got {T!r}")
        return pl.repeat(float(T), n, eager=True).alias("T")
    s = pl.Series("T", T).cast(pl.Float64)
    if s.len() != n:
        raise ModelInputError(f"T: expected {n} values, got {s.len()}")
    if s.null_count() or not bool((s.is_finite() & (s > 0)).all()):
        raise ModelInputError("T: every value must be a positive finite number")
    return s


def _summary(kind: Any, params: list[float], n: int, T, seed: int, resolution) -> pl.DataFrame:
    if not (isinstance(n, int) and n > 0):
        raise ModelInputError(f"n must be a positive integer, got {n!r}")
    if resolution is not None:
        _positive(resolution=resolution)
    t = _t_column(n, T)
    x, r = _core.simulate_summary(kind, params, t, int(seed) & (2**64 - 1), resolution)
    return pl.DataFrame(
        {
            "customer": pl.int_range(n, eager=True),
            "frequency": pl.Series(x),
            "recency": pl.Series(r),
            "T": t,
        }
    )


def simulate_model(
    model: _Model,
    n: int,
    *,
    T: float | Sequence[float],
    seed: int = 0,
    resolution: float | None = None,
) -> pl.DataFrame:
    """Summaries of ``n`` customers drawn from a model's process at its parameters (fitted, or
    set with ``from_params``): any registered model with the ``simulation`` capability. For a
    ``discrete`` model ``T`` counts opportunities and ``resolution`` does not apply.

    >>> from truenorth import clv
    >>> bg = clv.BetaGeo.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4})
    >>> sim = clv.simulate_model(bg, 1000, T=39.0, seed=1)
    >>> sim.columns, sim.equals(clv.simulate_bg_nbd(1000, **bg.params, T=39.0, seed=1))
    (['customer', 'frequency', 'recency', 'T'], True)
    """
    if not isinstance(model, _Model):
        raise ModelInputError(
            f"model must be a truenorth.clv model with parameters, got {type(model).__name__}"
        )
    model._require("simulation", "simulate_model (a simulator of customer summaries)")
    if model.capabilities.discrete and resolution is not None:
        raise ModelInputError(
            f"resolution does not apply to {model.label}: its time counts whole opportunities"
        )
    return _summary(model._native, model._p(), n, T, seed, resolution)


def simulate_bg_nbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: float | Sequence[float],
    seed: int = 0,
    resolution: float | None = None,
) -> pl.DataFrame:
    """Summaries of ``n`` customers from BG/NBD: λ ~ Gamma(r, rate α), p ~ Beta(a, b);
    Poisson(λ) purchases, dropping out with probability p after each repeat purchase."""
    model = BetaGeo.from_params({"r": r, "alpha": alpha, "a": a, "b": b})
    return simulate_model(model, n, T=T, seed=seed, resolution=resolution)


def simulate_mbg_nbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: float | Sequence[float],
    seed: int = 0,
    resolution: float | None = None,
) -> pl.DataFrame:
    """As BG/NBD, but customers may also drop out right after the first purchase."""
    model = ModifiedBetaGeo.from_params({"r": r, "alpha": alpha, "a": a, "b": b})
    return simulate_model(model, n, T=T, seed=seed, resolution=resolution)


def simulate_pareto_nbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    *,
    T: float | Sequence[float],
    seed: int = 0,
    resolution: float | None = None,
) -> pl.DataFrame:
    """Pareto/NBD: λ ~ Gamma(r, rate α), μ ~ Gamma(s, rate β), exponential lifetime."""
    model = ParetoNBD.from_params({"r": r, "alpha": alpha, "s": s, "beta": beta})
    return simulate_model(model, n, T=T, seed=seed, resolution=resolution)


def simulate_bg_bb(
    n: int,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    *,
    T: int | Sequence[int],
    seed: int = 0,
) -> pl.DataFrame:
    """BG/BB: p ~ Beta(α, β), θ ~ Beta(γ, δ); at each of T opportunities a living customer
    first dies with probability θ, else transacts with probability p."""
    model = BetaGeoBetaBinom.from_params(
        {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}
    )
    return simulate_model(model, n, T=T, seed=seed)


def simulate_gamma_gamma(
    frequency: pl.Series | Sequence[int], p: float, q: float, v: float, *, seed: int = 0
) -> pl.Series:
    """Mean spend of each customer's ``frequency`` repeat purchases under Gamma-Gamma:
    ν ~ Gamma(q, rate v), purchase values ~ Gamma(p, rate ν); 0 where frequency is 0."""
    f = pl.Series("frequency", frequency).cast(pl.Float64)
    if f.null_count() or not bool((f.is_finite() & (f >= 0) & (f == f.floor())).all()):
        raise ModelInputError("frequency: expected non-negative whole numbers")
    col = _core.simulate_spend(_positive(p=p, q=q, v=v), f, int(seed) & (2**64 - 1))
    return pl.Series(col).alias("monetary_value")


def simulate_bg_nbd_transactions(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    start: datetime = datetime(2024, 1, 1),
    cohort_days: float = 90.0,
    end: datetime = datetime(2025, 1, 1),
    seed: int = 0,
    spend: tuple[float, float, float] | None = None,
) -> pl.DataFrame:
    """A transaction log (``customer``, ``time``, ``amount``) from BG/NBD with parameters per
    *day*: first purchases uniform over ``cohort_days`` from ``start``, observed until
    ``end``. ``spend=(p, q, v)`` draws amounts from Gamma-Gamma (else every amount is 1)."""
    params = _positive(r=r, alpha=alpha, a=a, b=b)
    span = (end - start).total_seconds() / 86400.0
    if not (0 < cohort_days < span):
        raise ModelInputError("cohort_days must be positive and shorter than end - start")
    import random

    rng = random.Random(seed)
    birth = [rng.random() * cohort_days for _ in range(n)]
    t = [span - b_ for b_ in birth]
    ids, times = _core.simulate_transactions("bg_nbd", params, birth, t, int(seed) & (2**64 - 1))
    ids_s = pl.Series(ids).cast(pl.Int64)
    micros = (pl.Series(times) * 86_400_000_000.0).cast(pl.Int64)
    df = pl.DataFrame({"customer": ids_s, "offset": micros}).select(
        "customer",
        (pl.lit(start) + pl.duration(microseconds=pl.col("offset"))).alias("time"),
    )
    if spend is None:
        return df.with_columns(amount=pl.lit(1.0))
    p, q, v = _positive(p=spend[0], q=spend[1], v=spend[2])
    # One ν ~ Gamma(q, rate v) per customer, one Gamma(p, rate ν) amount per transaction.
    nu = [rng.gammavariate(q, 1.0 / v) for _ in range(n)]
    cust = df["customer"].to_list()
    amounts = [rng.gammavariate(p, 1.0 / nu[c]) for c in cust]
    return df.with_columns(amount=pl.Series(amounts, dtype=pl.Float64))
