"""The real CDNOW transactions, the customer-days the surveys and tickets follow, and the
generated acquisition spend next to the real number of new customers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl


def transactions(cdnow: Path) -> pl.DataFrame:
    """The CDNOW master file as a tidy CSV: customer_id, date, cds, amount (row order kept)."""
    lines = cdnow.read_text().splitlines()
    header, body = lines[0].split(), [line.split() for line in lines[1:] if line.strip()]
    if header != ["customer_id", "date", "number_of_cds", "dollar_value"]:
        raise ValueError(f"unexpected CDNOW header: {header}")
    return pl.DataFrame(
        {
            "customer_id": [int(r[0]) for r in body],
            "date": [dt.datetime.strptime(r[1], "%Y%m%d").date() for r in body],
            "cds": [int(r[2]) for r in body],
            "amount": [float(r[3]) for r in body],
        }
    )


def customer_days(tx: pl.DataFrame) -> pl.DataFrame:
    """One row per customer-day with the customer's purchase number and segment.

    A customer is a *collector* once they have bought on four or more days in total (about the
    top 15 % of CDNOW's customers), else *casual* — the same split the surveys use.
    """
    days = (
        tx.group_by("customer_id", "date")
        .agg(pl.col("amount").sum(), pl.col("cds").sum())
        .sort("customer_id", "date")
        .with_columns(
            purchase_no=pl.int_range(1, pl.len() + 1).over("customer_id"),
            purchase_days=pl.len().over("customer_id"),
        )
    )
    return days.with_columns(
        segment=pl.when(pl.col("purchase_days") >= 4)
        .then(pl.lit("collector"))
        .otherwise(pl.lit("casual"))
    )


def acquisition(rng: np.random.Generator, tx: pl.DataFrame) -> pl.DataFrame:
    new = (
        tx.group_by("customer_id")
        .agg(pl.col("date").min().alias("first"))
        .with_columns(month=pl.col("first").dt.truncate("1mo"))
        .group_by("month")
        .agg(new_customers=pl.len())
        .sort("month")
    )
    # Spend so that CAC lands around $24–31: below CDNOW's 18-month revenue per customer (~$106)
    # but above a third of the expected future value of a typical new customer.
    cac = np.array([24.0, 27.5, 31.0])[: new.height] * rng.uniform(0.97, 1.03, new.height)
    total = cac * new["new_customers"].to_numpy()
    marketing_share = rng.uniform(0.68, 0.74, new.height)
    return new.select(
        pl.col("month").cast(pl.Date),
        marketing_spend=pl.Series(np.round(total * marketing_share, 2)),
        sales_spend=pl.Series(np.round(total * (1 - marketing_share), 2)),
    ).with_columns(
        total_spend=(pl.col("marketing_spend") + pl.col("sales_spend")).round(2),
        new_customers=new["new_customers"],
    )
