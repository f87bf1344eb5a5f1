"""Transactions simulated from the Pareto/NBD with time-varying covariates, with known
coefficients (parameter recovery checks, demos, benchmarks).

Covariates per customer and week: ``promo`` (0/1, on in a customer's week with probability
0.3), ``season`` (sin(2πk/52), the same for everyone) and ``vip`` (0/1 per customer, constant
over time). Each customer's first purchase is uniform over the first ``acquisition`` weeks;
λ ~ Gamma(r, alpha), μ ~ Gamma(s, beta); in week k the purchase rate is λ·exp(γ_trans'z_k)
and the dropout hazard μ·exp(γ_life'z_k). Exact: death by inverting the piecewise-linear
cumulative hazard, purchases as a Poisson count per alive week piece placed uniformly in it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from ._input import ModelInputError

__all__ = ["simulate_dynamic"]

COLUMNS = ("promo", "season", "vip")


def simulate_dynamic(
    n: int,
    *,
    weeks: int = 52,
    future_weeks: int = 0,
    params: dict[str, float] | None = None,
    transaction: dict[str, float] | None = None,
    lifetime: dict[str, float] | None = None,
    acquisition: float = 8.0,
    origin: datetime = datetime(2024, 1, 1),
    seed: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(transactions: customer, date; covariates: customer, period, promo, season, vip) for
    ``n`` customers over ``weeks`` weeks from ``origin``; the covariate table runs
    ``future_weeks`` further (for predictions). Defaults: r=0.8, alpha=8, s=0.6, beta=20,
    transaction {promo: 0.7, season: 0.4}, lifetime {promo: 0.5}.

    >>> tr, cov = simulate_dynamic(50, weeks=10, seed=3)
    >>> cov.height, cov.columns
    (500, ['customer', 'period', 'promo', 'season', 'vip'])
    """
    p = {"r": 0.8, "alpha": 8.0, "s": 0.6, "beta": 20.0, **(params or {})}
    gt = {"promo": 0.7, "season": 0.4} if transaction is None else transaction
    gl = {"promo": 0.5} if lifetime is None else lifetime
    for what, g in (("transaction", gt), ("lifetime", gl)):
        bad = set(g) - set(COLUMNS)
        if bad:
            raise ModelInputError(f"{what}: unknown covariates {sorted(bad)} (known: {COLUMNS})")
    if not (0 < acquisition <= weeks):
        raise ModelInputError(f"acquisition must be in (0, weeks], got {acquisition}")
    rng = np.random.default_rng(seed)
    w = weeks + future_weeks
    k = np.arange(w)
    z = {
        "promo": (rng.random((n, w)) < 0.3).astype(float),
        "season": np.broadcast_to(np.sin(2 * np.pi * k / 52), (n, w)),
        "vip": np.broadcast_to((rng.random(n) < 0.4).astype(float)[:, None], (n, w)),
    }
    a = np.exp(sum((g * z[c] for c, g in gt.items()), np.zeros((n, w))))
    b = np.exp(sum((g * z[c] for c, g in gl.items()), np.zeros((n, w))))
    lam = rng.gamma(p["r"], 1 / p["alpha"], n)
    mu = rng.gamma(p["s"], 1 / p["beta"], n)
    o = rng.random(n) * acquisition
    # piece of week j after the first purchase, within the observed weeks
    lo = np.maximum(k[None, :], o[:, None])
    hi = np.broadcast_to(k[None, :] + 1.0, (n, w)).copy()
    hi[:, weeks:] = lo[:, weeks:]  # purchases are observed only in the first `weeks` weeks
    length = np.clip(hi - lo, 0, None)
    full = np.clip(k[None, :] + 1.0 - lo, 0, None)
    hz = mu[:, None] * b * full
    cum = np.cumsum(hz, axis=1)
    e = rng.exponential(1.0, n)
    j = np.minimum((cum < e[:, None]).sum(axis=1), w - 1)
    before = np.where(j > 0, cum[np.arange(n), np.maximum(j - 1, 0)], 0.0)
    start_j = lo[np.arange(n), j]
    rate_j = hz[np.arange(n), j] / np.maximum(full[np.arange(n), j], 1e-300)
    tau = np.where(cum[:, -1] < e, np.inf, start_j + (e - before) / np.maximum(rate_j, 1e-300))
    alive = np.clip(np.minimum(hi, tau[:, None]) - lo, 0, None) * (length > 0)
    counts = rng.poisson(lam[:, None] * a * alive)
    ci, cj = np.nonzero(counts)
    reps = counts[ci, cj]
    ci, cj = np.repeat(ci, reps), np.repeat(cj, reps)
    t = lo[ci, cj] + rng.random(ci.size) * alive[ci, cj]
    cust = np.concatenate([np.arange(n), ci])
    when = np.concatenate([o, t])
    us = np.round(when * 7 * 86_400_000_000).astype(np.int64)
    tr = (
        pl.DataFrame({"customer": cust, "_us": us})
        .with_columns(
            (
                pl.lit(origin, dtype=pl.Datetime("us")) + pl.duration(microseconds=pl.col("_us"))
            ).alias("date")
        )
        .select("customer", "date")
        .sort("customer", "date")
    )
    periods = [origin + timedelta(weeks=int(i)) for i in k]
    cov = pl.DataFrame(
        {
            "customer": np.repeat(np.arange(n), w),
            "period": periods * n,
            **{c: np.ascontiguousarray(z[c]).ravel() for c in COLUMNS},
        }
    ).with_columns(pl.col("period").cast(pl.Datetime("us")))
    return tr, cov
