"""The seeded customers of the covariate benchmarks: a covariate Pareto/NBD with two
continuous covariates (``age``, ``tenure``, standard normal rounded to 0.01), one binary
(``vip``) and one three-level categorical (``channel``).

Shared by ``bench_covariates.py`` and ``peers_covariates_pymc.py``, so both fit the same
customers and neither imports the other.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from truenorth import clv

TRUTH = {
    "trans.age": 0.3,
    "trans.tenure": -0.2,
    "trans.vip": 0.5,
    "trans.channel[shop]": -0.3,
    "life.vip": -0.6,
    "life.age": 0.2,
}
BASE = {"r": 0.8, "alpha": 6.0, "s": 0.6, "beta": 10.0}
SETS = {
    0: ([], []),
    1: (["vip"], []),
    2: (["vip", "age"], ["vip"]),
    4: (["age", "tenure", "vip", "channel"], ["vip", "age"]),
}


def data(n: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    attrs = pl.DataFrame(
        {
            "customer": range(n),
            # rounded to 0.01 so the simulator draws in groups; still ~all distinct patterns
            "age": np.round(rng.standard_normal(n), 2),
            "tenure": np.round(rng.standard_normal(n), 2),
            "vip": rng.integers(0, 2, n),
            "channel": rng.choice(["shop", "web", "app"], n),
        }
    )
    return clv.simulate_with_covariates(
        "pareto_nbd",
        attrs,
        BASE,
        TRUTH,
        transaction=SETS[4][0],
        lifetime=SETS[4][1],
        T=52,
        seed=seed,
    )
