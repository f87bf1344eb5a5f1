#!/usr/bin/env python3
"""Generate ``memberships.csv``: the *Northwind Collector's Club*, a fictional monthly
membership of Northwind Records (the demo's CD shop), for the ``retention`` rule pack.

Members join in monthly cohorts from January 1997 to June 1998 (the demo's observation end,
1998-06-30) and pay one fee per month until they cancel. Each member's monthly cancellation
probability θ is drawn from a beta distribution and kept for life — the shifted-beta-geometric
story of Fader & Hardie (2007) — so the data have the rising retention curve of a
heterogeneous base:

* regular cohorts: θ ~ Beta(0.7, 7.5) (mean 8.5 % a month, most members far below);
* the holiday "first month free" cohorts of November and December 1997: θ ~ Beta(1.3, 2.7)
  (mean 32 %) and 1.6 times the joiners, the cohorts the pack's thresholds are designed to flag;
* plan ``collector`` (about a third) pays $14 a month, ``standard`` $8.

Columns: ``member_id, plan, monthly_fee, joined_on, lapsed_on`` — ``lapsed_on`` is the first
month not paid for (same day of month as ``joined_on``, capped at the 28th), empty while the
member is still active on 1998-06-30.

Run from the repository root::

    python tools/generate_membership_data.py            # writes python/truenorth/packs/data/
    python tools/generate_membership_data.py --out DIR

Byte-for-byte reproducible from ``SEED`` (``tests/retention/test_membership_data.py`` checks).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20_261_207
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "python" / "truenorth" / "packs" / "data"
FILE = "memberships.csv"
OBS_END = dt.date(1998, 6, 30)
FIRST = (1997, 1)
COHORTS = 18  # 1997-01 .. 1998-06
PROMO = {(1997, 11), (1997, 12)}
REGULAR = (0.7, 7.5)
HOLIDAY = (1.3, 2.7)
MEAN_JOINERS = 220


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    k = year * 12 + month - 1 + n
    return k // 12, k % 12 + 1


def members(seed: int = SEED) -> pl.DataFrame:
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    obs_index = OBS_END.year * 12 + OBS_END.month - 1
    rows = []
    member = 0
    for i in range(COHORTS):
        year, month = _add_months(*FIRST, i)
        a, b = HOLIDAY if (year, month) in PROMO else REGULAR
        n = int(rng.poisson(MEAN_JOINERS * (1.6 if (year, month) in PROMO else 1.0)))
        theta = rng.beta(a, b, size=n)
        # months paid for: shifted geometric given θ (at least one month)
        life = rng.geometric(np.clip(theta, 1e-9, 1.0))
        days = rng.integers(1, 29, size=n)
        collector = rng.random(n) < 0.35
        for j in range(n):
            member += 1
            joined = dt.date(year, month, int(days[j]))
            start_index = year * 12 + month - 1
            end_index = start_index + int(life[j])
            lapsed = None
            if end_index <= obs_index:
                ly, lm = _add_months(year, month, int(life[j]))
                lapsed = dt.date(ly, lm, int(days[j]))
            plan = "collector" if collector[j] else "standard"
            rows.append((f"M{member:05d}", plan, 14.0 if collector[j] else 8.0, joined, lapsed))
    return pl.DataFrame(
        rows,
        schema={
            "member_id": pl.String,
            "plan": pl.String,
            "monthly_fee": pl.Float64,
            "joined_on": pl.Date,
            "lapsed_on": pl.Date,
        },
        orient="row",
    )


def generate(out: Path, seed: int = SEED) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    members(seed).write_csv(path, date_format="%Y-%m-%d")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    print(generate(args.out, args.seed))


if __name__ == "__main__":
    main()
