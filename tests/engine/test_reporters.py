"""Built-in reporters: console, json, markdown, tables (registered via register_reporters)."""

from __future__ import annotations

import json

import polars as pl
import pytest

import truenorth
from truenorth.engine.plugins import build_registry

PACK = {
    "truenorth": 1,
    "pack": "rep",
    "rules": [
        {
            "id": "big",
            "kind": "condition",
            "on": "c",
            "when": "v > 1",
            "severity": "fail",
            "action": "call",
            "message": "{id} has | {v}",
            "with": {"value": "w"},
        },
        {"id": "small", "kind": "condition", "on": "c", "when": "v <= 1", "severity": "info"},
    ],
}
DATA = {
    "c": pl.DataFrame({"id": ["a", "b", "c"], "v": [0.5, 2.0, 5.0], "w": [1.0, float("nan"), 3.0]})
}


@pytest.fixture(scope="module")
def result():
    return truenorth.Engine.load(PACK).run(data=DATA)


@pytest.fixture(scope="module")
def reporters():
    return build_registry().reporters


def test_json_reporter_file_and_stdout(result, reporters, tmp_path, capsys):
    reporters["json"].write(result, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["counts"] == {"info": 1, "warn": 0, "fail": 2, "error": 0}
    nan_row = next(f for f in data["findings"] if f["subject"] == "b")
    assert nan_row["value"] is None  # NaN is not valid JSON: written as null
    reporters["json"].write(result, None)
    assert json.loads(capsys.readouterr().out)["pack"] == "rep"


def test_markdown_escapes_pipes_and_orders_by_severity(result, reporters, tmp_path):
    reporters["markdown"].write(result, tmp_path / "r.md")
    md = (tmp_path / "r.md").read_text()
    lines = [
        line for line in md.splitlines() if line.startswith("| fail") or line.startswith("| info")
    ]
    assert lines[0].startswith("| fail | big | b | b has \\| 2.0 |  | call |")  # NaN value: blank
    assert lines[1].startswith("| fail | big | c | c has \\| 5.0 | 3 | call |")
    assert lines[-1].startswith("| info | small | a |")
    assert "Findings: info 1, warn 0, fail 2, error 0" in md


def test_console_reporter_to_file(result, reporters, tmp_path):
    path = tmp_path / "console.txt"
    reporters["console"].write(result, path)
    text = path.read_text()
    assert "pack rep" in text and "Top findings (3 of 3)" in text and "fail: 2" in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_tables_reporter_needs_a_folder(result, reporters, tmp_path):
    with pytest.raises(truenorth.UsageError, match="--out"):
        reporters["tables"].write(result, None)
    reporters["tables"].write(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.csv", "findings.parquet"]
    back = pl.read_parquet(tmp_path / "findings.parquet")
    assert back.equals(result.findings)


def test_nested_columns_survive_csv(tmp_path):
    result = truenorth.Engine.load(
        {
            "truenorth": 1,
            "pack": "n",
            "rules": [
                {
                    "id": "tags",
                    "kind": "decision_table",
                    "on": "c",
                    "with": {
                        "hit_policy": "collect",
                        "rows": [{"when": "v > 0", "t": "pos"}, {"when": "v > 1", "t": "big"}],
                    },
                }
            ],
        }
    ).run(data={"c": pl.DataFrame({"id": ["a", "b", "c"], "v": [0.5, 2.0, None]})})
    result.write_tables(tmp_path, format="csv")
    back = pl.read_csv(tmp_path / "c.csv").sort("id")
    assert [json.loads(x) for x in back["t"]] == [["pos"], ["pos", "big"], []]
