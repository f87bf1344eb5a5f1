"""Packs on a real PostgreSQL server (and DuckDB/SQLite files) give the same findings as on
the same rows from a Parquet file; filters are pushed into the query; bad connections, wrong
passwords and query errors are clear errors (exit 2) that publish nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from pgcluster import PASSWORD, free_port
from sqldata import Sources

import truenorth

RULES = [
    {
        "id": "big-de",
        "kind": "condition",
        "on": "tx",
        "when": "country = 'DE' AND amount > 100",
        "fail": "amount > 400",
        "warn": "qty >= 5",
        "message": "{customer} spent {amount} (tx {tx_id})",
        "with": {"subject": "tx_id", "value": "amount"},
    },
    {
        "id": "small-refunds",
        "kind": "condition",
        "on": "tx",
        # the quoted country and the function stay with Polars (only the IN part is pushed)
        "when": "country IN ('FR', 'O''Land') AND refunded = TRUE AND amount * qty < 40",
        "message": "{customer}: refund of {amount}",
        "with": {"subject": "tx_id", "value": "amount"},
    },
]
KPI_RULE = {  # reads every row: the CES of the quantity column (1-7), per country
    "id": "effort",
    "kind": "kpi",
    "with": {"metric": "ces", "source": "tx", "column": "qty", "by": "country", "table": "kpi_qty"},
}
COLUMNS = ["tx_id", "country", "amount", "qty", "day", "refunded"]


def pack(dataset: dict[str, Any], rules: list[dict[str, Any]] = RULES) -> dict[str, Any]:
    return {
        "truenorth": 1,
        "pack": "shop",
        "datasets": {
            "tx": {**dataset, "columns": {"customer": "cust_id", **{c: c for c in COLUMNS}}}
        },
        "rules": rules,
    }


def findings(result: truenorth.Result) -> pl.DataFrame:
    assert not result.errors, [r.error for r in result.errors]
    return result.findings.select("rule_id", "subject", "severity", "message", "value").sort(
        "rule_id", "subject"
    )


def test_postgres_duckdb_and_sqlite_find_what_the_parquet_file_finds(sources: Sources) -> None:
    expected = findings(truenorth.Engine.load(pack({"path": str(sources.parquet)})).run())
    assert expected.height > 50  # the rules find something to compare
    assert set(expected["rule_id"]) == {"big-de", "small-refunds"}
    for dataset in (
        {"uri": sources.pg.uri, "table": "tx"},
        {"uri": sources.pg.uri, "query": "SELECT * FROM tx WHERE qty > 0"},
        {"uri": f"duckdb:///{sources.duckdb}", "table": "tx"},
        {"uri": f"sqlite:///{sources.sqlite}", "table": "tx"},
    ):
        got = findings(truenorth.Engine.load(pack(dataset)).run())
        assert got.equals(expected), dataset


def test_when_filters_are_pushed_into_the_query_the_server_runs(sources: Sources) -> None:
    result = truenorth.Engine.load(pack({"uri": sources.pg.uri, "table": "tx"})).run()
    sql = result.queries["tx"]
    assert sql == (
        'SELECT * FROM "tx" WHERE ("country" = \'DE\' AND "amount" > 100) OR '
        "(\"country\" IN ('FR', 'O''Land') AND \"refunded\" = TRUE)"
    )
    assert sql in sources.pg.statements()  # the server's statement log: what it really ran
    rows_in = {r.id: {s["step"]: s.get("count") for s in r.explain} for r in result.rules}
    n_pushed = sources.frame.filter(
        ((pl.col("country") == "DE") & (pl.col("amount") > 100))
        | (pl.col("country").is_in(["FR", "O'Land"]) & pl.col("refunded"))
    ).height
    assert rows_in["big-de"]["rows in"] == n_pushed < sources.frame.height // 3


def test_a_rule_reading_the_whole_table_turns_pushdown_off(sources: Sources) -> None:
    rules = [*RULES, KPI_RULE]
    pg = truenorth.Engine.load(pack({"uri": sources.pg.uri, "table": "tx"}, rules)).run()
    assert pg.queries["tx"] == 'SELECT * FROM "tx"'
    files = truenorth.Engine.load(pack({"path": str(sources.parquet)}, rules)).run()
    assert findings(pg).equals(findings(files))
    assert pg.tables["kpi_qty"].height == 6  # five countries and the overall value
    assert pg.tables["kpi_qty"].sort("segment").equals(files.tables["kpi_qty"].sort("segment"))


def test_params_in_a_pushed_condition(sources: Sources) -> None:
    p = pack({"uri": sources.pg.uri, "table": "tx"}, [{**RULES[0], "when": "amount > ${min}"}])
    p["params"] = {"min": 300}
    engine = truenorth.Engine.load(p)
    assert engine.run(params={"min": 450}).queries["tx"].endswith('WHERE "amount" > 450')
    high = findings(engine.run(params={"min": 450}))
    files = pack({"path": str(sources.parquet)}, [{**RULES[0], "when": "amount > ${min}"}])
    files["params"] = {"min": 300}
    assert high.equals(findings(truenorth.Engine.load(files).run(params={"min": 450})))


# ------------------------------------------------------------------------------ CLI, bad input
def write_pack(folder: Path, dataset: dict[str, Any]) -> Path:
    path = folder / "shop.yaml"
    path.write_text(yaml.safe_dump(pack(dataset), sort_keys=False))
    return path


def test_cli_reads_postgres_with_the_password_from_the_environment(
    sources: Sources, tmp_path: Path, tn: Any
) -> None:
    uri = sources.pg.uri.replace("postgres@", "secret_user@")
    path = write_pack(tmp_path, {"uri": uri, "table": "tx", "password_env": "SHOP_PW"})
    proc = tn("run", str(path), "--format", "json", env={"SHOP_PW": PASSWORD})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["pack"] == "shop" and len(report["findings"]) > 50


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong password", 'password authentication failed for user "secret_user"'),
        ("no password variable", "environment variable SHOP_PW (password_env) is not set"),
        ("server down", "Connection refused"),
        ("query error", 'column "no_such_column" does not exist'),
        ("missing table", 'relation "no_such_table" does not exist'),
        ("missing duckdb file", "database file not found"),
    ],
)
def test_bad_connections_are_clear_errors_and_publish_nothing(
    sources: Sources, tmp_path: Path, tn: Any, case: str, message: str
) -> None:
    secret = sources.pg.uri.replace("postgres@", "secret_user@")
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    dataset, env = {
        "wrong password": ({"uri": secret, "table": "tx", "password_env": "SHOP_PW"}, "Wr0ng-pw"),
        "no password variable": ({"uri": secret, "table": "tx", "password_env": "SHOP_PW"}, None),
        "server down": ({"uri": down, "table": "tx"}, None),
        "query error": ({"uri": sources.pg.uri, "query": "SELECT no_such_column FROM tx"}, None),
        "missing table": ({"uri": sources.pg.uri, "table": "no_such_table"}, None),
        "missing duckdb file": ({"uri": "duckdb:///nowhere/shop.duckdb", "table": "tx"}, None),
    }[case]
    path = write_pack(tmp_path, dataset)
    out = tmp_path / "out"
    hist = tmp_path / "history"
    proc = tn(
        "run", str(path), "--out", str(out), "--store", str(hist),
        env={"SHOP_PW": env} if env else {},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "dataset 'tx'" in proc.stderr
    assert PASSWORD not in proc.stderr and "Wr0ng-pw" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())
    assert not any((hist / "runs").iterdir())  # no run stored
    assert not (tmp_path / "nowhere").exists()  # no empty database created


def test_a_password_in_the_pack_is_refused_at_its_line(tmp_path: Path, tn: Any) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(
        "truenorth: 1\npack: shop\ndatasets:\n  tx:\n"
        "    uri: postgresql://app:hunter2@db.internal/shop\n    table: tx\n"
        "rules:\n  - {id: r, kind: condition, on: tx, when: 'amount > 1'}\n"
    )
    proc = tn("validate", str(path))
    assert proc.returncode == 2
    assert f"{path}:5:" in proc.stderr
    assert "the URI holds a password" in proc.stderr and "password_env" in proc.stderr
    assert "hunter2" not in proc.stderr


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"uri": "postgresql://u@h/db"}, "exactly one of `table:` and `query:`"),
        ({"uri": "postgresql://u@h/db", "table": "t", "query": "SELECT 1"}, "exactly one of"),
        ({"table": "t"}, "`table:` needs `uri:`"),
        ({"uri": "mysql://u@h/db", "table": "t"}, "unsupported database URI"),
        ({"uri": "postgresql://u@h/db?password=x", "table": "t"}, "holds a password"),
        ({"uri": "postgresql://u@h/db", "table": "t", "path": "x.csv"}, "not both"),
    ],
)
def test_dataset_keys_are_checked_at_load(dataset: dict[str, Any], message: str) -> None:
    with pytest.raises(truenorth.PackError) as err:
        truenorth.Engine.load(pack(dataset))
    assert message in str(err.value)


def test_env_is_not_leaked_to_other_tests() -> None:
    assert "SHOP_PW" not in os.environ
