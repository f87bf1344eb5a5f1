"""QA regressions (issue 9): validation catches what the README promises, located at the
condition; type-mismatched comparisons are invalid data (exit 2), never silently true."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth.errors import PackError
from truenorth.testing import run_rule

TX_CSV = "customer_id,date,amount\nA,1997-01-01,10.0\nA,1997-03-01,20.0\nB,1997-02-15,5.0\n"


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


def pos(text: str, needle: str) -> tuple[int, int]:
    """(line, column), 1-based, of the first occurrence of ``needle``."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i, line.index(needle) + 1
    raise AssertionError(needle)


def clv_pack(when: str, *, reads: str = "with: {source: transactions}") -> str:
    return f"""\
truenorth: 1
pack: q
datasets:
  transactions:
    path: tx.csv
    columns: {{customer: customer_id, time: date, amount: amount}}
rules:
  - id: value
    kind: clv
    when: {when}
    {reads}
"""


def one_problem(text: str, tmp_path: Path):
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PackError) as info:
        truenorth.Engine.load(tmp_path / "p.yaml")
    (problem,) = info.value.problems
    return problem


@pytest.mark.parametrize("reads", ["with: {source: transactions}", "on: transactions"])
@pytest.mark.parametrize(
    ("when", "says"),
    [
        ('"amountt > 0"', "unknown column 'amountt'; did you mean 'amount'?"),
        ("'\"amount\" > 1'", "SQL reads it as the column amount"),
    ],
)
def test_clv_when_is_checked_at_load_against_its_source(tmp_path, reads, when, says):
    text = clv_pack(when, reads=reads)
    problem = one_problem(text, tmp_path)
    assert says in problem.message and problem.rule_id == "value"
    assert (problem.location.line, problem.location.column) == pos(text, when)


def test_every_built_in_kind_taking_a_when_checks_it(tmp_path):
    # condition (when/warn/fail) and decision_table rows read `on:`; clv reads its source
    base = (
        "truenorth: 1\npack: q\ndatasets:\n  c: {path: c.csv, columns: {customer: id, clv: clv}}\n"
    )
    for rule in [
        "  - {id: r, kind: condition, on: c, when: 'clvv > 1'}",
        "  - {id: r, kind: condition, on: c, warn: 'clvv > 1'}",
        "  - {id: r, kind: decision_table, on: c, with: {rows: [{when: 'clvv > 1', t: x}]}}",
    ]:
        text = base + "rules:\n" + rule + "\n"
        problem = one_problem(text, tmp_path)
        assert "unknown column 'clvv'" in problem.message
        assert (problem.location.line, problem.location.column) == pos(text, "'clvv > 1'")


def test_a_date_compared_with_a_number_is_a_data_error_not_every_row(tmp_path):
    (tmp_path / "tx.csv").write_text(TX_CSV)
    text = clv_pack('"time > 1997"')
    (tmp_path / "p.yaml").write_text(text)
    assert tn("validate", "p.yaml", cwd=tmp_path).returncode == 0  # dataset types: not declared
    proc = tn("run", "p.yaml", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    result = truenorth.Engine.load(tmp_path / "p.yaml").run()
    (rr,) = result.errors
    assert rr.id == "value" and rr.data_error and not result.tables
    line, column = pos(text, '"time > 1997"')
    assert f"when (p.yaml:{line}:{column})" in rr.error.replace(str(tmp_path) + "/", "")
    assert "compares column 'time' (Date) with the number 1997" in rr.error
    assert "DATE 'YYYY-MM-DD'" in rr.error and "time: Date" in rr.error


def test_a_date_compared_with_a_string_suggests_a_date_literal_which_works(tmp_path):
    (tmp_path / "tx.csv").write_text(
        "customer_id,date,amount\nA,1997-01-01,10.0\nA,1997-03-01,20.0\nA,1997-05-01,15.0\n"
        "B,1997-01-10,5.0\nC,1997-02-15,7.0\nC,1997-04-20,9.0\nD,1997-03-03,12.0\n"
    )
    (tmp_path / "p.yaml").write_text(clv_pack("\"time > '1997-02-01'\""))
    (rr,) = truenorth.Engine.load(tmp_path / "p.yaml").run().errors
    assert "write the date as DATE '1997-02-01'" in rr.error and "Python" not in rr.error
    (tmp_path / "p.yaml").write_text(clv_pack("\"time > DATE '1997-02-01'\""))
    result = truenorth.Engine.load(tmp_path / "p.yaml").run()
    assert result.errors == []
    customers = result.tables["customers"].sort("customer")
    # B bought only in January: left out with A's January purchase
    assert customers["customer"].to_list() == ["A", "C", "D"]
    assert customers["n_transactions"].to_list() == [2, 2, 1]


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("customer > 5", "compares column 'customer' (String) with the number 5"),
        ("amount = 'abc'", "compares column 'amount' (Float64) with the string 'abc'"),
    ],
)
def test_wrong_type_comparisons_exit_2_naming_rule_condition_and_types(tmp_path, when, says):
    (tmp_path / "c.csv").write_text("id,amount\nA,10.5\nB,3.0\n")
    (tmp_path / "p.yaml").write_text(
        "truenorth: 1\npack: q\ndatasets:\n"
        "  c: {path: c.csv, columns: {customer: id, amount: amount}}\n"
        f'rules:\n  - {{id: big, kind: condition, on: c, when: "{when}"}}\n'
    )
    proc = tn("run", "p.yaml", "--fail-fast", cwd=tmp_path)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert "rule 'big'" in message and when in message and says in message
    assert "column types:" in message and "ComputeError" not in message


def test_declared_types_catch_mismatches_at_validate(tmp_path):
    # the customers table a clv rule writes declares its types (p_alive is a float)
    text = clv_pack('"amount > 0"') + (
        "  - {id: lapsing, kind: condition, on: customers, when: \"p_alive < 'low'\"}\n"
    )
    problem = one_problem(text, tmp_path)
    assert problem.rule_id == "lapsing"
    assert "compares column 'p_alive' (Float64) with the string 'low'" in problem.message
    assert (problem.location.line, problem.location.column) == pos(text, "\"p_alive < 'low'\"")


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("__import__('os').system('ls')", "method or attribute access"),
        ("EXISTS (SELECT 1)", "subqueries are not supported"),
        ("customer IN (SELECT id FROM t)", "subqueries are not supported"),
        ("customer SIMILAR TO 'a'", "SIMILAR TO is not supported"),
    ],
)
def test_no_engine_internals_in_condition_errors(tmp_path, when, says):
    text = (
        "truenorth: 1\npack: q\nrules:\n"
        f'  - id: r\n    kind: condition\n    on: c\n    when: "{when}"\n'
    )
    problem = one_problem(text, tmp_path)
    assert says in problem.message
    for internal in ("Ident", "Span(", "Function {", "subplan", "Expr:"):
        assert internal not in str(problem)
    assert (problem.location.line, problem.location.column) == pos(text, f'"{when}"')


def test_plugin_conditions_at_run_time_are_data_errors_too():
    def evaluate(ctx):
        lf = ctx.table("t")
        return truenorth.RuleOutput(
            tables={"out": lf.filter(ctx.condition("day > 5", lf.collect_schema())).collect()}
        )

    kind = truenorth.RuleKind(
        name="filter_days",
        options_model=truenorth.Options,
        evaluate=evaluate,
        reads=lambda o, r: ["t"],
        writes=lambda o, r: {"out": None},
    )
    result = run_rule(
        kind, {}, {"t": pl.DataFrame({"day": [date(2020, 1, 1)]})}, raise_errors=False
    )
    (rr,) = result.errors
    assert rr.data_error and "compares column 'day' (Date) with the number 5" in rr.error
