"""Engine-test fixtures: pack files on disk and the CDNOW sample with its fitted CLV rule.

(The registry reset and the CLI runner are in the top-level ``tests/conftest.py``.)
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import polars as pl
import pytest


@pytest.fixture
def write_pack(tmp_path):
    """Write a YAML pack (dedented) to tmp_path and return its path."""

    def write(text: str, name: str = "pack.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


DATA = Path(__file__).resolve().parents[1] / "data"
CAL_END = date(1997, 9, 30)
CLV_OPTIONS = {
    "unit": "1w",
    "period": "1d",
    "observation_end": "1997-09-30",
    "horizon": "12 months",
}


@pytest.fixture(scope="session")
def transactions() -> pl.DataFrame:
    """The CDNOW 1/10 sample's calibration period (1997-01-01 … 1997-09-30)."""
    rows = [
        line.split()
        for line in (DATA / "CDNOW_sample.txt").read_text().splitlines()
        if line.strip()
    ]
    df = pl.DataFrame(
        {
            "customer": [int(r[0]) for r in rows],
            "time": [r[2] for r in rows],
            "amount": [float(r[4]) for r in rows],
        }
    ).with_columns(pl.col("time").str.strptime(pl.Date, "%Y%m%d"))
    return df.filter(pl.col("time") <= CAL_END)


@pytest.fixture(scope="session")
def clv_result(transactions):
    """One `clv` rule (BG/NBD + Gamma-Gamma, weeks) run through the test harness."""
    from truenorth.testing import run_rule

    return run_rule("clv", CLV_OPTIONS, {"transactions": transactions})
