"""End-to-end tests of the `truenorth` command (subprocesses, bundled packs and data)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import truenorth

PACKS = Path(truenorth.__file__).parent / "packs"
DEMO = PACKS / "engine-demo.yaml"


def test_console_script_is_installed():
    exe = shutil.which("truenorth", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("truenorth ")


def test_run_without_arguments_runs_the_bundled_packs(tn):
    proc = tn("run")
    assert proc.returncode in (0, 1), proc.stderr + proc.stdout
    assert "pack engine-demo" in proc.stdout
    assert "lapsing-high-value" in proc.stdout


def test_run_demo_exit_codes_follow_fail_on(tn):
    assert tn("run", str(DEMO)).returncode == 0  # warn findings only
    assert tn("run", str(DEMO), "--fail-on", "fail").returncode == 0
    proc = tn("run", str(DEMO), "--fail-on", "warn")
    assert proc.returncode == 1
    assert "win-back-offer" in proc.stdout


def test_run_reports_without_gating_unless_asked(tmp_path, tn):
    csv = tmp_path / "few.csv"
    csv.write_text("cust_id,clv,p_alive,orders,region\nZ1,5000,0.01,1,north\n")
    args = ("run", str(DEMO), "--data", f"customers={csv}")
    assert tn(*args).returncode == 0  # a fail finding, but the default --fail-on is none
    assert tn(*args, "--fail-on", "none").returncode == 0
    assert tn(*args, "--fail-on", "fail").returncode == 1
    assert tn(*args, "--fail-on", "warn").returncode == 1


def test_run_writes_reports_atomically(tmp_path, tn):
    out = tmp_path / "out"
    proc = tn("run", str(DEMO), "--out", str(out), "--format", "json,markdown,tables")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "engine-demo" / "report.json").read_text())
    assert data["pack"] == "engine-demo"
    assert [r["id"] for r in data["rules"]] == ["tiers", "lapsing-high-value", "lost-platinum"]
    assert data["counts"]["warn"] == len(data["findings"]) > 0
    md = (out / "engine-demo" / "report.md").read_text()
    assert md.startswith("# truenorth report: engine-demo") and "| lapsing-high-value |" in md
    assert {p.name for p in out.iterdir()} == {"_manifest.json", "engine-demo"}
    assert {p.name for p in (out / "engine-demo").iterdir()} == {
        "report.json",
        "report.md",
        "customers.parquet",
        "customers.csv",
        "findings.parquet",
        "findings.csv",
    }


def test_json_to_stdout(tn):
    proc = tn("run", str(DEMO), "--format", "json")
    assert json.loads(proc.stdout)["pack"] == "engine-demo"


def test_set_overrides_params(tn):
    base = json.loads(tn("run", str(DEMO), "--format", "json").stdout)
    strict = json.loads(
        tn("run", str(DEMO), "--format", "json", "--set", "high_value=100000").stdout
    )
    assert strict["params"]["high_value"] == 100000
    assert len(strict["findings"]) < len(base["findings"])
    proc = tn("run", str(DEMO), "--set", "high_valu=1")
    assert proc.returncode == 2
    assert "no pack declares param(s) 'high_valu'" in proc.stderr
    assert tn("run", str(DEMO), "--set", "novalue").returncode == 2


def test_data_overrides_a_dataset(tmp_path, tn):
    csv = tmp_path / "few.csv"
    csv.write_text("cust_id,clv,p_alive,orders,region\nZ1,5000,0.01,1,north\n")
    proc = tn(
        "run", str(DEMO), "--format", "json", "--data", f"customers={csv}", "--fail-on", "fail"
    )
    data = json.loads(proc.stdout)
    assert {(f["rule_id"], f["subject"], f["severity"]) for f in data["findings"]} == {
        ("lapsing-high-value", "Z1", "warn"),
        ("lost-platinum", "Z1", "fail"),
    }
    assert proc.returncode == 1
    bad = tn("run", str(DEMO), "--data", "custmers=x.csv")
    assert bad.returncode == 2 and "no pack has dataset role(s) custmers" in bad.stderr
    missing = tn("run", str(DEMO), "--data", f"customers={tmp_path / 'nope.csv'}")
    assert missing.returncode == 2 and "file not found" in missing.stderr
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,clv\n1,2\n")
    cols = tn("run", str(DEMO), "--data", f"customers={wrong}")
    assert cols.returncode == 2 and "missing column(s) 'cust_id' (for 'customer')" in cols.stderr


def test_explain(tn):
    proc = tn("run", str(DEMO), "--explain", "lapsing-high-value")
    assert "explain lapsing-high-value (condition)" in proc.stdout
    assert 'compiled: [(col("p_alive")' in proc.stdout
    assert "rows in: 40" in proc.stdout and "rows matched:" in proc.stdout
    # decision-table rows are compiled conditions too
    rows = tn("run", str(DEMO), "--explain", "tiers", "--format", "json")
    assert json.loads(rows.stdout)["pack"] == "engine-demo"  # stdout stays parseable JSON
    assert "with.rows.1.when: clv >= 300" in rows.stderr
    assert "row 1: clv >= 1000: 1" in rows.stderr
    assert tn("run", str(DEMO), "--explain", "nope").returncode == 2


BAD = """\
truenorth: 1
pack: bad
rules:
  - id: r
    kind: condition
    on: t
    whn: "x > 1"
  - id: s
    kind: condition
    on: t
    when: seg = "at_risk"
"""


def test_validate_reports_every_problem_with_locations(tmp_path, tn):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    proc = tn("validate", str(path))
    assert proc.returncode == 2
    assert f"{path}:7:5: rule 'r': unknown key 'whn'; did you mean 'when'?" in proc.stderr
    assert f"{path}:11:11: rule 's': when: \"at_risk\"" in proc.stderr
    js = tn("validate", "--json", str(path))
    assert js.returncode == 2
    problems = json.loads(js.stdout)["problems"]
    assert [(p["line"], p["column"], p["rule_id"]) for p in problems] == [
        (7, 5, "r"),
        (11, 11, "s"),
    ]


def test_validate_ok_reads_no_data(tmp_path, tn):
    pack = tmp_path / "p.yaml"
    pack.write_text(DEMO.read_text().replace("data/engine_demo_customers.csv", "missing.csv"))
    proc = tn("validate", str(pack))
    assert proc.returncode == 0
    assert (
        "ok: pack engine-demo (3 rules: tiers → lapsing-high-value → lost-platinum)" in proc.stdout
    )


@pytest.mark.parametrize(
    "text",
    ["a: [1, 2\n", "truenorth: 1\npack: x\nrules: 5\n", "\x00\x01", "- - -\n", "a: b: c\n", ""],
)
def test_garbage_packs_exit_2_without_traceback(tmp_path, text, tn):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    proc = tn("validate", str(path))
    assert proc.returncode == 2
    assert str(path) in proc.stderr


def test_a_condition_on_a_column_the_data_lacks_exits_2(tmp_path, tn):
    # the pack declares no columns, so only the data can tell: invalid data, not a bug
    (tmp_path / "t.csv").write_text("id,x\n1,2\n")
    path = tmp_path / "p.yaml"
    path.write_text(
        "truenorth: 1\npack: e\ndatasets: {t: {path: t.csv}}\n"
        "rules:\n  - {id: r, kind: condition, on: t, when: 'y > 1'}\n"
    )
    proc = tn("run", str(path))
    assert proc.returncode == 2
    assert "unknown column 'y'" in proc.stdout


def test_a_rule_error_exits_3(tmp_path, tn):
    (tmp_path / "t.csv").write_text("id,x\n1,2\n")
    (tmp_path / "broken.py").write_text(
        "import truenorth\n\n"
        "def evaluate(ctx):\n    raise ZeroDivisionError('a bug')\n\n"
        "@truenorth.hookimpl\ndef register_rule_kinds(register):\n"
        "    register(truenorth.RuleKind(name='broken', options_model=truenorth.Options,"
        " evaluate=evaluate))\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(
        "truenorth: 1\npack: e\ndatasets: {t: {path: t.csv}}\n"
        "rules:\n  - {id: r, kind: broken, on: t}\n"
    )
    proc = tn("run", str(path), "--plugin", str(tmp_path / "broken.py"))
    assert proc.returncode == 3
    assert "ZeroDivisionError: a bug" in proc.stdout


def test_pack_tests_command(tmp_path, tn):
    proc = tn("test", str(DEMO))
    assert proc.returncode == 0
    assert proc.stdout.startswith("PASS engine-demo: a lapsing gold customer is flagged")
    failing = tmp_path / "f.yaml"
    failing.write_text(
        DEMO.read_text().replace("severity: warn, action: win-back-offer", "severity: fail")
    )
    shutil.copytree(PACKS / "data", tmp_path / "data")
    proc = tn("test", str(failing))
    assert proc.returncode == 1
    assert (
        "FAIL" in proc.stdout
        and "missing finding: rule=lapsing-high-value, subject=A, severity=fail" in proc.stdout
    )


def test_plugins_json_lists_builtins_and_errors(tn):
    proc = tn("plugins", "--json")
    data = json.loads(proc.stdout)
    assert data["kinds"]["condition"] == "condition"
    assert data["readers"]["csv"] == "readers"
    names = {p["name"] for p in data["plugins"]}
    assert {"condition", "decision_table", "readers", "reporters"} <= names
    table = tn("plugins")
    assert "condition (built-in)" in table.stdout


def test_disable_plugins_env_in_cli(tn):
    proc = tn("kinds", env={"TRUENORTH_DISABLE_PLUGINS": "decision_table"})
    assert "condition" in proc.stdout and "decision_table" not in proc.stdout


def test_strict_mode_makes_plugin_errors_fatal(tmp_path, tn):
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "import truenorth\n\n@truenorth.hookimpl\ndef register_readers(register):\n    raise RuntimeError('nope')\n"
    )
    lenient = tn("validate", str(DEMO), "--plugin", str(plugin))
    assert lenient.returncode == 0 and "warning: plugin broken" in lenient.stderr
    for args, env in (((("--strict",)), None), ((), {"TRUENORTH_STRICT": "1"})):
        proc = tn("validate", str(DEMO), "--plugin", str(plugin), *args, env=env)
        assert proc.returncode == 2 and "strict mode" in proc.stderr and "nope" in proc.stderr


def test_kinds_and_kind_detail(tn):
    listing = tn("kinds").stdout
    assert "condition" in listing and "decision_table" in listing
    detail = tn("kinds", "decision_table").stdout
    assert "hit_policy" in detail and '"first" | "collect"' in detail
    schema = json.loads(tn("kinds", "condition", "--json").stdout)
    assert "subject" in schema["properties"]
    assert tn("kinds", "nope").returncode == 2


def test_schema_includes_installed_kinds(tmp_path, tn):
    data = json.loads(tn("schema").stdout)
    assert data["title"] == "truenorth rule pack"
    assert data["$defs"]["rule_condition"]["properties"]["kind"] == {
        "const": "condition",
        "description": data["$defs"]["rule_condition"]["description"],
    }
    assert "hit_policy" in data["$defs"]["rule_decision_table"]["properties"]["with"]["properties"]
    assert data["additionalProperties"] is False
    out = tmp_path / "s.json"
    assert tn("schema", "--out", str(out)).returncode == 0 and json.loads(out.read_text()) == data


def test_schema_allows_every_key_of_the_demo_pack(tn):
    from truenorth.engine.yamlsrc import load_yaml

    data = json.loads(tn("schema").stdout)
    demo = load_yaml(DEMO).value
    assert set(demo) <= set(data["properties"])
    for rule in demo["rules"]:
        props = data["$defs"][f"rule_{rule['kind']}"]["properties"]
        assert set(rule) <= set(props)
        assert set(rule.get("with", {})) <= set(props["with"]["properties"])


def test_init_workspace_then_run_it_with_the_local_plugin(tmp_path, tn):
    ws = tmp_path / "ws"
    proc = tn("init", str(ws))
    assert proc.returncode == 0, proc.stderr
    assert (ws / "rules" / "engine-demo.yaml").exists()
    assert (ws / "plugins" / "local_plugin.py").exists()
    run = tn("run", "local.yaml", "--plugin", "plugins/local_plugin.py", "--format", "json", cwd=ws)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert len(data["findings"]) == 3 and {f["kind"] for f in data["findings"]} == {"top_spenders"}
    assert tn("init", str(ws)).returncode == 2  # not empty
    assert tn("validate", "rules", cwd=ws).returncode == 0  # the copied packs, as they are


def test_no_command_and_bad_usage(tn):
    assert tn().returncode == 2
    assert tn("run", "--fail-on", "sometimes").returncode == 2
    assert tn("run", str(DEMO), "--format", "pdf").returncode == 2


def test_help_documents_exit_codes(tn):
    out = tn("--help").stdout
    assert "exit codes:" in out and "3  a rule errored" in out


def test_a_failing_reporter_does_not_hide_the_others(tmp_path, tn):
    plugin = tmp_path / "badrep.py"
    plugin.write_text(
        "import truenorth\n\n"
        "def fire(result, path):\n    raise RuntimeError('bug in fire')\n\n"
        "def smoke(result, path):\n    raise OSError('disk on fire')\n\n"
        "@truenorth.hookimpl\n"
        "def register_reporters(register):\n"
        "    register(truenorth.Reporter('fire', fire, '.fire'))\n"
        "    register(truenorth.Reporter('smoke', smoke, '.smoke'))\n"
    )
    proc = tn("run", str(DEMO), "--plugin", str(plugin), "--format", "fire,smoke,json")
    assert proc.returncode == 3  # a reporter bug outranks the I/O failure (2)
    assert "reporter 'fire' (plugin badrep) failed: RuntimeError: bug in fire" in proc.stderr
    assert "reporter 'smoke' (plugin badrep) failed: OSError: disk on fire" in proc.stderr
    assert json.loads(proc.stdout)["pack"] == "engine-demo"

    # Into --out the set is all or nothing: a run with a failed reporter publishes nothing.
    out = tmp_path / "out"
    assert tn("run", str(DEMO), "--format", "json", "--out", str(out)).returncode == 0
    before = (out / "_manifest.json").read_text()
    proc = tn("run", str(DEMO), "--plugin", str(plugin), "--format", "fire,json", "--out", str(out))
    assert proc.returncode == 3, proc.stderr
    assert "nothing was published" in proc.stderr and "wrote" not in proc.stderr
    assert (out / "_manifest.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_validate_takes_set_like_run(tmp_path, tn):
    """A param can make a pack invalid; `validate --set` checks the pack `run --set` would run."""
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "truenorth: 1\npack: p\nparams: {cond: 'x > 1'}\n"
        "datasets: {t: {path: t.csv}}\n"
        "rules:\n  - {id: r, kind: condition, on: t, when: '${cond}'}\n"
    )
    assert tn("validate", str(pack), "--set", "cond=x < 5").returncode == 0
    proc = tn("validate", str(pack), "--set", "cond=x <")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{pack}:6:43: rule 'r': when: cannot parse 'x <'" in proc.stderr, proc.stderr
    assert tn("validate", str(pack), "--set", "nope=1").returncode == 2  # unknown param


def test_set_with_the_wrong_type_names_the_param_and_its_default(tn):
    proc = tn("validate", str(DEMO), "--set", "high_value=lots")
    assert proc.returncode == 2
    assert (
        "--set high_value: param 'high_value' of pack 'engine-demo' must be a number "
        "(its default is 300), got 'lots'" in proc.stderr
    ), proc.stderr
