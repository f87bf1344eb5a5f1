"""Checks that need lifetimes on its own legacy stack (numpy 1.26 / pandas 1.5 / scipy 1.11),
where features removed in pandas 2 still work. Run in the ``bench-legacy`` environment
(README "Benchmarks"): ``python benches/legacy_peer_checks.py`` prints one line per check and
exits non-zero on a mismatch. The main test suite covers the same ground against lifetimes on
the current stack where it runs there.

- Calendar months: ``summarize(period="1mo")`` against lifetimes' own ``freq="M"`` on the full
  CDNOW master log (23,570 customers). lifetimes measures months as day spans over the mean
  Gregorian month; truenorth counts whole calendar months: equal after rounding, < 0.1 apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import polars as pl

from truenorth.clv import summarize

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "CDNOW_master.txt"


def check_freq_m() -> str:
    from lifetimes.utils import summary_data_from_transaction_data

    pdf = pd.read_csv(
        DATA,
        sep=r"\s+",
        names=["customer_id", "date", "cds", "dollars"],
        header=0,
        dtype={"customer_id": "int64"},
    )
    pdf["date"] = pd.to_datetime(pdf["date"].astype(str), format="%Y%m%d")
    theirs = summary_data_from_transaction_data(
        pdf, "customer_id", "date", "dollars", freq="M"
    ).sort_index()
    master = pl.DataFrame(
        {
            "customer_id": pdf["customer_id"].to_numpy(),
            "date": pdf["date"].to_numpy().astype("datetime64[D]"),
            "dollars": pdf["dollars"].to_numpy(),
        }
    )
    ours = summarize(master, customer="customer_id", time="date", amount="dollars", period="1mo")
    assert ours.height == len(theirs), (ours.height, len(theirs))
    assert (ours["frequency"].to_numpy() == theirs["frequency"].to_numpy()).all()
    assert abs(ours["monetary_value"].to_numpy() - theirs["monetary_value"].to_numpy()).max() < 1e-9
    for col in ("recency", "T"):
        diff = ours[col].to_numpy() - theirs[col].to_numpy()
        assert (ours[col].to_numpy() == theirs[col].to_numpy().round(0)).all(), col
        assert abs(diff).max() < 0.1, col
    return f"freq='M' on CDNOW: {ours.height} customers agree"


if __name__ == "__main__":
    try:
        print("ok:", check_freq_m())
    except AssertionError as exc:
        print("MISMATCH:", exc or "assertion failed", file=sys.stderr)
        sys.exit(1)
