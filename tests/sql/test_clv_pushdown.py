"""A clv rule's `when:` (it keeps only matching transactions) is pushed into the query too, and
the fitted customer table equals the one from the CSV file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import truenorth

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "rules" / "data" / "transactions.csv"
RULE = {
    "id": "value",
    "kind": "clv",
    # `customer` is the canonical name: the query names the database's `customer_id`
    "when": "amount > 0 AND customer IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)",
    "with": {"source": "transactions", "model": "bg_nbd", "period": "1d", "unit": "1w"},
}


def pack(dataset: dict[str, object]) -> dict[str, object]:
    columns = {"customer": "customer_id", "time": "date", "amount": "amount"}
    return {
        "truenorth": 1,
        "pack": "clv-db",
        "datasets": {"transactions": {**dataset, "columns": columns}},
        "rules": [RULE],
    }


def test_clv_when_is_pushed_and_the_fit_is_the_same(tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE tx AS SELECT * FROM read_csv('{CSV}')")
    con.close()
    from_db = truenorth.Engine.load(pack({"uri": f"duckdb:///{db}", "table": "tx"})).run()
    assert from_db.queries["transactions"] == (
        'SELECT * FROM "tx" WHERE "amount" > 0 AND "customer_id" IN '
        "(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)"
    )
    from_csv = truenorth.Engine.load(pack({"path": str(CSV)})).run()
    assert not from_db.errors and not from_csv.errors
    [name] = [t for t in from_csv.tables]
    a = from_db.tables[name].sort("customer")
    b = from_csv.tables[name].sort("customer")
    assert a.height == b.height > 0
    compared = [c for c in ("frequency", "recency", "T", "clv", "p_alive") if c in b.columns]
    assert len(compared) >= 3, b.columns
    for column in compared:
        assert a[column].cast(pl.Float64).to_list() == pytest.approx(
            b[column].cast(pl.Float64).to_list(), rel=1e-9, nan_ok=True
        ), column
