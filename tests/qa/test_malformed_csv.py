"""QA regressions: a malformed CSV (ragged rows, invalid UTF-8) is a data error naming the line."""

from __future__ import annotations

import json

import pytest

import truenorth
from truenorth.io.datasets import diagnose_csv

PACK = """\
truenorth: 1
pack: m
datasets:
  customers: {path: c.csv, columns: {customer: id, clv: clv}}
rules:
  - {id: big, kind: condition, on: customers, when: "clv > 100", severity: warn}
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"id,clv\nA,50\nB,200,extra\n", "line 3: 3 fields, expected 2"),
        (b"id,clv\nA,50\nB\xff,200\n", "line 3, character 2: byte 0xff is not UTF-8"),
    ],
)
def test_malformed_csv_is_a_data_error_with_the_line(tmp_path, body, expected, tn):
    (tmp_path / "p.yaml").write_text(PACK)
    (tmp_path / "c.csv").write_bytes(body)
    result = truenorth.Engine.load(tmp_path / "p.yaml").run()
    (rr,) = result.errors
    assert rr.data_error, rr.error
    assert "dataset 'customers'" in rr.error and "c.csv" in rr.error and expected in rr.error
    assert result.exit_code() == 2

    proc = tn("run", str(tmp_path / "p.yaml"), "--format", "json")
    assert proc.returncode == 2
    assert expected in json.loads(proc.stdout)["rules"][0]["error"]


def test_a_well_formed_csv_has_no_diagnosis(tmp_path):
    (tmp_path / "c.csv").write_text('id,clv\nA,50\n"B, quoted",200\n')
    assert diagnose_csv(tmp_path / "c.csv") is None


def test_text_where_a_number_is_compared_is_a_data_error(tmp_path):
    (tmp_path / "p.yaml").write_text(PACK)
    (tmp_path / "c.csv").write_text("id,clv\nA,abc\n")  # reads fine; clv is text
    result = truenorth.Engine.load(tmp_path / "p.yaml").run()
    (rr,) = result.errors
    assert rr.data_error and result.exit_code() == 2
    assert "compares column 'clv' (String) with the number 100" in rr.error


def test_a_bug_in_a_rule_is_still_a_rule_error(tmp_path):
    def broken(ctx):
        raise ZeroDivisionError("a bug")

    kind = truenorth.RuleKind(name="broken", options_model=truenorth.Options, evaluate=broken)

    class Plugin:
        @truenorth.hookimpl
        def register_rule_kinds(self, register):
            register(kind)

    (tmp_path / "p.yaml").write_text(PACK.replace("kind: condition", "kind: broken"))
    (tmp_path / "c.csv").write_text("id,clv\nA,50\n")
    result = truenorth.Engine.load(tmp_path / "p.yaml", plugins=[Plugin()]).run()
    (rr,) = result.errors
    assert not rr.data_error and result.exit_code() == 3
