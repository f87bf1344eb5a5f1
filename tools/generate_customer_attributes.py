"""Writes ``rules/data/customer_attributes.csv``: one row per CDNOW customer of the demo with
attributes for the covariate ``clv`` rule (``rules/clv-covariates.yaml``).

- ``first_basket``: the customer's first-day spend band, from the real transactions
  (``small`` < $15, ``medium`` $15-$40, ``large`` > $40): a real attribute, known at
  acquisition, that CLVTools' apparel example uses in the same spirit.
- ``channel``: the acquisition channel (``web``, ``store``, ``mail``), **generated** with
  seed 20261207 independently of behaviour: a covariate whose true coefficient is 0, so the
  fit shows what a non-informative attribute looks like.

Byte-for-byte reproducible (``tests/demo/test_customer_attributes.py`` checks)::

    python tools/generate_customer_attributes.py
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "rules" / "data"
SEED = 20261207


def attributes(transactions: pl.DataFrame, seed: int = SEED) -> pl.DataFrame:
    first = (
        transactions.with_columns(pl.col("date").str.to_date())
        .group_by("customer_id")
        .agg(pl.col("amount").filter(pl.col("date") == pl.col("date").min()).sum().alias("spend"))
        .sort("customer_id")
    )
    band = (
        pl.when(pl.col("spend") < 15)
        .then(pl.lit("small"))
        .when(pl.col("spend") <= 40)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("large"))
    )
    rng = np.random.default_rng(seed)
    channel = rng.choice(["web", "store", "mail"], size=first.height, p=[0.5, 0.3, 0.2])
    return first.select("customer_id", band.alias("first_basket")).with_columns(
        pl.Series("channel", channel)
    )


def main(argv: Sequence[str] | None = None) -> int:
    out = Path(argv[0]) if argv else DATA
    tx = pl.read_csv(DATA / "transactions.csv")
    attributes(tx).write_csv(out / "customer_attributes.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
