"""Seeded synthetic transaction logs simulated from BG/NBD, for benchmarks.

Each customer gets a purchase rate λ ~ Gamma(r, 1/α) (per day) and a dropout probability
p ~ Beta(a, b); after every purchase the customer dies with probability p. Inter-purchase times are
exponential. Customers are acquired uniformly over the first ``acquisition_days``. Rows are
shuffled (unsorted input) unless ``sort=True``. Amounts are Gamma-distributed per customer.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl


def bgnbd_log(
    n_rows: int,
    *,
    n_customers: int | None = None,
    days: int = 730,
    acquisition_days: int = 365,
    r: float = 0.5,
    alpha: float = 20.0,
    a: float = 0.6,
    b: float = 2.4,
    seed: int = 42,
    sort: bool = False,
    datetimes: bool = False,
) -> pl.DataFrame:
    """About ``n_rows`` transactions (exactly ``n_rows``; ~n_rows/10 customers by default).

    Returns columns ``customer_id`` (Int64), ``ts`` (Date, or Datetime[us] if ``datetimes``)
    and ``amount`` (Float64).
    """
    rng = np.random.default_rng(seed)
    n_cust = n_customers or max(1, n_rows // 10)
    lam = rng.gamma(r, 1.0 / alpha, size=n_cust)
    p = rng.beta(a, b, size=n_cust)
    birth = rng.uniform(0, acquisition_days, size=n_cust)
    horizon = days - birth
    # number of purchases after the first: geometric lifetime in purchases, capped by Poisson
    # arrivals in the remaining horizon (the BG/NBD story: die after a purchase w.p. p)
    alive_purchases = rng.geometric(np.clip(p, 1e-6, 1.0)) - 1
    poisson = rng.poisson(lam * horizon)
    repeats = np.minimum(alive_purchases, poisson)
    counts = 1 + repeats
    # scale counts to hit n_rows exactly: trim or pad with extra repeat purchases at random
    total = int(counts.sum())
    if total > n_rows:
        cum = np.cumsum(counts)
        keep = np.searchsorted(cum, n_rows, side="right")
        counts = counts[: keep + 1].copy()
        counts[-1] -= int(cum[keep] - n_rows) if keep < len(cum) else 0
        counts = counts[counts > 0]
        birth, horizon = birth[: len(counts)], horizon[: len(counts)]
    elif total < n_rows:
        extra = rng.integers(0, len(counts), size=n_rows - total)
        counts = counts + np.bincount(extra, minlength=len(counts))
    cust = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.zeros(len(cust), dtype=bool)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first[starts] = True
    offset = np.where(first, 0.0, rng.uniform(0.0, 1.0, size=len(cust)) * horizon[cust])
    t_days = birth[cust] + offset
    spend = rng.gamma(6.0, 1.0 / rng.gamma(4.0, 1 / 15.0, size=len(counts)))[cust]
    amount = np.round(rng.gamma(6.0, 1.0, size=len(cust)) * spend / 6.0, 2)
    ids = cust * 7919 % 1_000_000_007  # non-contiguous ids
    base = np.datetime64(date(2023, 1, 1), "us")
    ts = base + (t_days * 86_400e6).astype("timedelta64[us]")
    df = pl.DataFrame({"customer_id": ids, "ts": ts, "amount": amount})
    if not datetimes:
        df = df.with_columns(pl.col("ts").dt.date())
    if sort:
        return df.sort("customer_id", "ts")
    return df.sample(fraction=1.0, shuffle=True, seed=seed)


def to_pandas(frame: pl.DataFrame):
    """A pandas copy of ``frame`` built from NumPy arrays, so it also works in the legacy peer
    environment (numpy 1.26 / pandas 1.5, where current PyArrow does not import)."""
    import pandas as pd

    return pd.DataFrame({name: frame[name].to_numpy() for name in frame.columns})
