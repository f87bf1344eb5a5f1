"""QA regressions: data errors raised while a rule runs exit 2; ``--out`` is checked up front."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import truenorth

PACKS = Path(truenorth.__file__).parent / "packs"
DEMO = PACKS / "engine-demo.yaml"


KANO_PACK = """\
truenorth: 1
pack: k
datasets:
  survey: {path: survey.csv}
rules:
  - {id: kano, kind: kano, with: {source: survey}}
"""


def _kano_csv(bad: str | None = None) -> str:
    rows = ["respondent,feature,functional,dysfunctional"]
    for i in range(6):
        rows.append(f"R{i},search,I like it,I dislike it")
    if bad is not None:
        rows.append(f"R9,search,{bad},I dislike it")
    return "\n".join(rows) + "\n"


def test_an_unknown_kano_answer_exits_2_naming_column_row_and_value(tmp_path, tn):
    (tmp_path / "p.yaml").write_text(KANO_PACK)
    (tmp_path / "survey.csv").write_text(_kano_csv())
    ok = tn("run", str(tmp_path / "p.yaml"), "--format", "json")
    assert ok.returncode in (0, 1), ok.stderr

    (tmp_path / "survey.csv").write_text(_kano_csv("I lurve it"))
    proc = tn("run", str(tmp_path / "p.yaml"), "--format", "json")
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr)
    report = json.loads(proc.stdout)
    (rule,) = [r for r in report["rules"] if r["id"] == "kano"]
    assert rule["status"] == "error" and rule["data_error"] is True
    assert "column 'functional'" in rule["error"] and "row 7" in rule["error"]
    assert "I lurve it" in rule["error"]


def test_bad_transactions_in_the_clv_rule_are_data_errors(tmp_path, tn):
    (tmp_path / "t.csv").write_text(
        "customer_id,date,amount\n1,1997-01-01,10\n,1997-01-02,12\n2,1997-01-03,5\n"
    )
    (tmp_path / "p.yaml").write_text(
        "truenorth: 1\npack: c\n"
        "datasets:\n  transactions:\n    path: t.csv\n"
        "    columns: {customer: customer_id, time: date, amount: amount}\n"
        "rules:\n  - {id: value, kind: clv}\n"
    )
    proc = tn("run", str(tmp_path / "p.yaml"), "--format", "json")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    (rule,) = [r for r in json.loads(proc.stdout)["rules"] if r["id"] == "value"]
    assert rule["data_error"] is True and "DataError" in rule["error"]
    assert "null customer id" in rule["error"]
    # --fail-fast: stops with the same data error and exit 2, not a rule error (3)
    proc = tn("run", str(tmp_path / "p.yaml"), "--fail-fast")
    assert proc.returncode == 2
    assert "null customer id" in proc.stderr


def test_result_exit_code_data_vs_rule_errors():
    from truenorth.engine.result import Result, RuleRun

    def result(*runs: RuleRun) -> Result:
        return Result(
            pack="p",
            params={},
            tables={},
            findings=pl.DataFrame(),
            rules=list(runs),
            seconds=0.0,
            files=[],
        )

    data = RuleRun("a", "kano", "error", 0.0, 1, [], "DataError: x", data_error=True)
    skipped = RuleRun("b", "condition", "skipped", 0.0, 1, [], "skipped")
    bug = RuleRun("c", "kpi", "error", 0.0, 1, [], "TypeError: y")
    assert result(data, skipped).exit_code() == 2
    assert result(data, bug).exit_code() == 3
    assert result(bug).exit_code() == 3


@pytest.mark.parametrize("kind", ["file", "under-file"])
def test_out_that_cannot_be_a_folder_is_a_usage_error_before_running(tmp_path, kind, tn):
    f = tmp_path / "afile"
    f.write_text("keep me")
    target = f if kind == "file" else f / "sub"
    proc = tn("run", str(DEMO), "--format", "json", "--out", str(target))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "--out" in proc.stderr and "internal error" not in proc.stderr
    assert f.read_text() == "keep me"


def test_help_documents_data_errors_exit_2(tn):
    out = tn("--help").stdout
    assert "data error" in out and "2  usage error" in out


def test_a_local_plugin_warning_has_no_dangling_space(tmp_path, tn):
    (tmp_path / "dup.py").write_text(
        "import truenorth\n\n"
        "class Opt(truenorth.Options):\n    pass\n\n"
        "@truenorth.hookimpl\n"
        "def register_rule_kinds(register):\n"
        "    register(truenorth.RuleKind(name='condition', options_model=Opt,\n"
        "                                evaluate=lambda ctx: None, summary='dup'))\n"
    )
    proc = tn("validate", str(DEMO), "--plugin", str(tmp_path / "dup.py"))
    assert "plugin dup (local):" in proc.stderr, proc.stderr
    assert "(local )" not in proc.stderr


def test_a_failed_console_file_write_leaves_no_partial_or_temp_file(tmp_path, monkeypatch):
    from truenorth.builtins import reporters

    result = truenorth.Engine.load(DEMO).run()
    target = tmp_path / "report.txt"
    target.write_text("previous report")

    def broken(result, path):
        Path(path).write_text("half a rep")
        raise OSError("disk full")

    monkeypatch.setattr(reporters, "write_console", broken)
    with pytest.raises(OSError, match="disk full"):
        reporters.write_console_file(result, target)
    assert target.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


@pytest.mark.filterwarnings("ignore:.*did not converge")
def test_too_little_data_to_fit_a_model_is_a_data_error():
    pack = {
        "truenorth": 1,
        "pack": "tiny",
        "datasets": {"transactions": {"columns": {"customer": "id", "time": "d", "amount": "a"}}},
        "rules": [{"id": "v", "kind": "clv"}],
    }
    from datetime import date

    tx = pl.DataFrame(
        {
            "id": [1, 1, 2],
            "d": [date(2020, 1, 1), date(2020, 2, 1), date(2020, 1, 3)],
            "a": [5.0, 5.0, 7.0],
        }
    )
    result = truenorth.Engine.load(pack).run(data={"transactions": tx})
    (rr,) = result.errors
    assert rr.data_error and "DataError" in rr.error and "Gamma-Gamma" in rr.error
    assert result.exit_code() == 2
