"""QA regressions (issue 9): refund-only customers in clv, literal data paths, clashing kinds
in `kinds`, self-cycles, and boolean keys from YAML 1.1 loaders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import truenorth
from truenorth.errors import PackError

# Six customers from the bundled clv pack's test log, plus R: three orders, all refunds
LOG = """\
customer_id,date,amount
L,1997-01-01,40.0
L,1997-01-08,120.0
L,1997-01-15,60.0
L,1997-01-22,100.0
L,1997-01-29,50.0
L,1997-02-05,110.0
S,1997-01-02,4.0
S,1997-01-09,12.0
S,1997-01-16,20.0
A,1997-01-03,5.0
A,1997-03-03,35.0
A,1997-05-03,5.0
A,1997-07-03,35.0
A,1997-09-03,5.0
A,1997-11-03,35.0
A,1998-01-03,5.0
A,1998-03-03,35.0
O,1997-02-10,15.0
B,1997-02-01,10.0
B,1998-02-01,60.0
R,1997-02-01,-20.0
R,1997-03-01,-30.0
R,1997-04-01,-10.0
"""

PACK = """\
truenorth: 1
pack: refunds
datasets:
  transactions:
    path: {path}
    columns: {{customer: customer_id, time: date, amount: amount}}
rules:
  - id: value
    kind: clv
    with: {{source: transactions}}
"""


def tn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_refund_only_customers_are_left_out_of_the_spend_fit_as_documented(tmp_path):
    (tmp_path / "tx.csv").write_text(LOG)
    (tmp_path / "p.yaml").write_text(PACK.format(path="tx.csv"))
    result = truenorth.Engine.load(tmp_path / "p.yaml").run()
    assert result.errors == [] and result.exit_code("none") == 0
    (info,) = result.findings.filter(severity="info").iter_rows(named=True)
    assert info["message"].startswith("1 repeat customer(s) with non-positive mean spend")
    assert "left out of the Gamma-Gamma fit" in info["message"]
    assert json.loads(info["evidence"])["excluded"] == 1
    customers = result.tables["customers"]
    spend = dict(zip(customers["customer"], customers["expected_spend"], strict=True))
    # R is predicted as a mean spend of 0: below the population mean (a one-time buyer's)
    assert 0 < spend["R"] < spend["O"]
    assert customers["clv"].is_finite().all()
    # the kind's documentation says so
    assert "left out of the Gamma-Gamma fit" in truenorth.Engine.load(
        tmp_path / "p.yaml"
    ).registry.kinds["clv"].doc.replace("\n", " ")


def test_data_paths_are_literal_brackets_and_all(tmp_path):
    (tmp_path / "data[1].csv").write_text(LOG)
    (tmp_path / "p.yaml").write_text(PACK.format(path="'data[1].csv'"))
    result = truenorth.Engine.load(tmp_path / "p.yaml").run()
    assert result.errors == []
    (tmp_path / "q.yaml").write_text(PACK.format(path="missing.csv"))
    proc = tn("run", "q.yaml", "--data", "transactions=data[1].csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "customers (6 rows)" in proc.stdout
    # a pattern is not expanded: it names a file that does not exist
    proc = tn("run", "q.yaml", "--data", "transactions=data*.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "file not found: data*.csv" in proc.stderr


DUPE = """\
import truenorth

@truenorth.hookimpl
def register_rule_kinds(register):
    register(truenorth.RuleKind(name="condition", options_model=truenorth.Options,
                                evaluate=lambda ctx: None))
"""


def test_kinds_says_a_kind_is_provided_by_several_plugins_as_run_does(tmp_path):
    (tmp_path / "dupe.py").write_text(DUPE)
    (tmp_path / "p.yaml").write_text(
        "truenorth: 1\npack: q\nrules:\n  - {id: r, kind: condition, on: t, when: 'x > 1'}\n"
    )
    kinds = tn("kinds", "condition", "--plugin", "dupe.py", cwd=tmp_path)
    run = tn("validate", "p.yaml", "--plugin", "dupe.py", cwd=tmp_path)
    said = "rule kind 'condition' is provided by several plugins: condition, dupe"
    assert kinds.returncode == run.returncode == 2
    assert said in kinds.stderr and said in run.stderr
    assert "unknown rule kind" not in kinds.stderr
    listing = tn("kinds", "--plugin", "dupe.py", cwd=tmp_path)
    assert said in listing.stdout


def test_a_rule_reading_its_own_output_is_a_self_cycle(tmp_path):
    text = (
        "truenorth: 1\npack: q\ndatasets:\n  transactions: {path: tx.csv}\nrules:\n"
        "  - id: value\n    kind: clv\n    with: {source: customers}\n"
        "  - id: other\n    kind: clv\n    with: {source: transactions, into: o}\n"
    )
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PackError) as info:
        truenorth.Engine.load(tmp_path / "p.yaml")
    (p,) = info.value.problems
    assert "reads table 'customers', which only this rule writes" in p.message
    assert "self-cycle" in p.message and p.rule_id == "value"
    assert p.expected == "one of: o, transactions"  # not its own output
    assert (p.location.line, p.location.column) == (8, 20)  # at `source: customers`


def test_a_cycle_names_the_tables_each_rule_waits_for():
    pack = {
        "truenorth": 1,
        "pack": "q",
        "datasets": {"transactions": {"path": "tx.csv"}},
        "rules": [
            {"id": "a", "kind": "clv", "with": {"source": "tb", "into": "ta"}},
            {"id": "b", "kind": "clv", "with": {"source": "ta", "into": "tb"}},
        ],
    }
    with pytest.raises(PackError) as info:
        truenorth.Engine.load(pack)
    a, b = info.value.problems
    assert "cycle" in a.message and "it reads 'tb', which rule 'b' writes" in a.message
    assert "it reads 'ta', which rule 'a' writes" in b.message


def test_a_yaml_1_1_boolean_key_is_explained():
    text = (
        "truenorth: 1\npack: q\nrules:\n"
        "  - id: a\n    kind: condition\n    on: customers\n    when: 'clv > 1'\n"
    )
    with pytest.raises(PackError) as info:
        truenorth.Engine.load(yaml.safe_load(text))
    (p,) = info.value.problems
    assert p.message.startswith("rules.0: key True is a boolean")
    assert "yaml.safe_load" in p.message and "`on:`" in p.message
    assert "quote the key" in p.expected and "truenorth.load_yaml" in p.expected
    # the suggested loader reads the same text as intended
    engine = truenorth.Engine.load(truenorth.parse_yaml(text).value)
    assert engine.rules[0].rule.on == "customers"
