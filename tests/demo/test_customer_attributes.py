"""The customer-attribute table of the covariate demo pack is reproducible and covers every
customer of the demo transactions exactly once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "python" / "truenorth" / "packs" / "data"
_spec = importlib.util.spec_from_file_location(
    "generate_customer_attributes", ROOT / "tools" / "generate_customer_attributes.py"
)
assert _spec is not None and _spec.loader is not None
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def test_regenerating_gives_the_same_bytes(tmp_path):
    gen.main([str(tmp_path)])
    name = "customer_attributes.csv"
    assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes()


def test_one_row_per_customer_and_documented_levels():
    attrs = pl.read_csv(DATA / "customer_attributes.csv")
    tx = pl.read_csv(DATA / "transactions.csv")
    assert attrs["customer_id"].is_unique().all()
    assert set(attrs["customer_id"]) == set(tx["customer_id"])
    assert set(attrs["first_basket"]) == {"small", "medium", "large"}
    assert set(attrs["channel"]) == {"web", "store", "mail"}
