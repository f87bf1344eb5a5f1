"""The plugin manager: every hook, failure isolation, strict mode, conflicts, env vars."""

from __future__ import annotations

import json
import textwrap
import uuid
from importlib.metadata import EntryPoint
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth.engine import hookspecs, plugins
from truenorth.errors import PackError, PluginError

GOOD = """
import polars as pl
import truenorth

class Opts(truenorth.Options):
    factor: float = 2.0

def evaluate(ctx):
    df = ctx.table(ctx.rule.on).with_columns(doubled=pl.col("x") * ctx.rule.options.factor)
    return truenorth.RuleOutput(tables={"doubled": df},
                                findings=[ctx.finding("all", "doubled", severity="info")])

def writes(options, rule):
    return {"doubled": {"x": pl.Int64, "doubled": pl.Float64}}

def read_pipe(path, options):
    rows = [line.split("|") for line in path.read_text().splitlines()]
    return pl.DataFrame({"id": [r[0] for r in rows], "x": [int(r[1]) for r in rows]}).lazy()

def write_shout(result, path):
    text = f"{result.pack.upper()}: {result.findings.height} FINDINGS"
    if path is None:
        print(text)
    else:
        truenorth.io.atomic_write_text(path, text)

@truenorth.hookimpl
def register_rule_kinds(register):
    register(truenorth.RuleKind(name="doubler", options_model=Opts, evaluate=evaluate, writes=writes,
                                summary="doubles x"))

@truenorth.hookimpl
def register_readers(register):
    register(truenorth.Reader(name="pipe", extensions=(".pipe",), read=read_pipe))

@truenorth.hookimpl
def register_reporters(register):
    register(truenorth.Reporter(name="shout", write=write_shout, extension=".txt"))
"""

BROKEN_IMPORT = "raise RuntimeError('boom at import')\n"

RAISES_IN_HOOK = """
import truenorth

@truenorth.hookimpl
def register_rule_kinds(register):
    raise ValueError("cannot register today")
"""

BAD_RECORD = """
import truenorth

@truenorth.hookimpl
def register_rule_kinds(register):
    register("not a record")
"""

UNKNOWN_HOOK = """
import truenorth

@truenorth.hookimpl
def register_rule_kinds_typo(register):
    pass
"""

DUPLICATE_CONDITION = """
import truenorth

class O(truenorth.Options):
    pass

@truenorth.hookimpl
def register_rule_kinds(register):
    register(truenorth.RuleKind(name="condition", options_model=O,
                                evaluate=lambda ctx: truenorth.RuleOutput()))
"""


@pytest.fixture
def fake_eps(tmp_path, monkeypatch):
    """Install modules as extra entry points in the `truenorth` group (after the real ones)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    real = plugins._entry_points()
    extra: list[EntryPoint] = []

    def add(name: str, source: str) -> None:
        module = f"tn_test_{name}_{uuid.uuid4().hex[:8]}"  # fresh module per test
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        extra.append(EntryPoint(name=name, value=module, group="truenorth"))

    monkeypatch.setattr(plugins, "_entry_points", lambda: real + extra)
    return add


def by_name(reg, name):
    return next(p for p in reg.plugins if p.name == name)


def test_hookspecs_are_all_in_one_module_and_documented():
    specs = {n for n in dir(hookspecs) if n.startswith("register_")}
    assert specs == {"register_rule_kinds", "register_readers", "register_reporters"}
    for name in specs:
        assert getattr(hookspecs, name).__doc__


def test_builtins_register_through_entry_points():
    reg = plugins.build_registry()
    assert {"condition", "decision_table"} <= set(reg.kinds)
    assert {"csv", "parquet"} <= set(reg.readers)
    assert {"console", "json", "markdown", "tables"} <= set(reg.reporters)
    cond = by_name(reg, "condition")
    assert cond.builtin and cond.dist == "truenorth" and cond.version == truenorth.__version__
    assert reg.provider("kinds", "condition") == "condition"


def test_each_hook_end_to_end(fake_eps, tmp_path):
    fake_eps("good", GOOD)
    reg = plugins.build_registry()
    info = by_name(reg, "good")
    assert info.error is None and not info.builtin
    assert (info.kinds, info.readers, info.reporters) == (["doubler"], ["pipe"], ["shout"])
    # the reader is chosen by extension, the kind runs, the reporter writes
    (tmp_path / "d.pipe").write_text("a|1\nb|2\n")
    pack = {
        "truenorth": 1,
        "pack": "hooks",
        "datasets": {"nums": {"path": str(tmp_path / "d.pipe")}},
        "rules": [
            {"id": "dbl", "kind": "doubler", "on": "nums", "with": {"factor": 3}},
            {"id": "big", "kind": "condition", "on": "doubled", "when": "doubled > 4"},
        ],
    }
    result = truenorth.Engine.load(pack, registry=reg).run()
    assert result.tables["doubled"]["doubled"].to_list() == [3.0, 6.0]
    assert result.findings.filter(pl.col("rule_id") == "big")["subject"].to_list() == ["b"]
    out = tmp_path / "r.txt"
    reg.reporters["shout"].write(result, out)
    assert out.read_text() == "HOOKS: 2 FINDINGS"


def test_conditions_on_plugin_tables_checked_against_declared_schema(fake_eps):
    fake_eps("good", GOOD)
    reg = plugins.build_registry()
    pack = {
        "truenorth": 1,
        "pack": "p",
        "rules": [
            {"id": "dbl", "kind": "doubler", "on": "nums"},
            {"id": "big", "kind": "condition", "on": "doubled", "when": "tripled > 4"},
        ],
    }
    with pytest.raises(PackError, match="unknown column 'tripled'"):
        truenorth.Engine.load(pack, registry=reg)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (BROKEN_IMPORT, "import failed: RuntimeError: boom at import"),
        (RAISES_IN_HOOK, "register_rule_kinds failed: ValueError: cannot register today"),
        (BAD_RECORD, "expects a truenorth.RuleKind, got str"),
        (UNKNOWN_HOOK, "registration failed"),
    ],
)
def test_failures_are_isolated_and_reported(fake_eps, source, expected):
    fake_eps("bad", source)
    fake_eps("good", GOOD)
    reg = plugins.build_registry()
    assert expected in by_name(reg, "bad").error
    assert [p.name for p in reg.errors if p.name in ("bad", "good")] == ["bad"]
    assert "doubler" in reg.kinds and "condition" in reg.kinds  # the rest still work


def test_strict_mode_flag_and_env(fake_eps, monkeypatch):
    fake_eps("bad", BROKEN_IMPORT)
    with pytest.raises(
        PluginError,
        match=r"(?s)strict mode.*plugin bad: import failed: RuntimeError: boom at import",
    ):
        plugins.build_registry(strict=True)
    monkeypatch.setenv("TRUENORTH_STRICT", "1")
    with pytest.raises(PluginError, match="boom at import"):
        plugins.build_registry()
    with pytest.raises(PluginError):
        truenorth.Engine.load({"truenorth": 1, "pack": "x"})


def test_duplicate_names_name_both_providers_and_neither_wins(fake_eps):
    fake_eps("dupe", DUPLICATE_CONDITION)
    reg = plugins.build_registry()
    assert "condition" not in reg.kinds
    assert reg.conflicts[("kinds", "condition")] == ["condition", "dupe"]
    assert "registered by several plugins: condition, dupe" in by_name(reg, "dupe").error
    pack = {
        "truenorth": 1,
        "pack": "p",
        "rules": [{"id": "r", "kind": "condition", "on": "t", "when": "x > 1"}],
    }
    with pytest.raises(PackError, match="provided by several plugins: condition, dupe"):
        truenorth.Engine.load(pack, registry=reg)
    with pytest.raises(PluginError, match="registered by several"):
        plugins.build_registry(strict=True)


def test_disable_plugins_env(fake_eps, monkeypatch):
    fake_eps("good", GOOD)
    monkeypatch.setenv("TRUENORTH_DISABLE_PLUGINS", "good, decision_table")
    reg = plugins.build_registry()
    assert "doubler" not in reg.kinds and "decision_table" not in reg.kinds
    assert by_name(reg, "good").disabled and "condition" in reg.kinds


def test_only_these_plugins_env(fake_eps, monkeypatch):
    fake_eps("good", GOOD)
    fake_eps("other", DUPLICATE_CONDITION)
    monkeypatch.setenv("TRUENORTH_PLUGINS", "good")
    reg = plugins.build_registry()
    assert "doubler" in reg.kinds and "condition" in reg.kinds  # built-ins still load
    assert by_name(reg, "other").disabled and not reg.conflicts
    monkeypatch.setenv("TRUENORTH_PLUGINS", "")
    reg = plugins.build_registry()
    assert "doubler" not in reg.kinds


def test_programmatic_plugins(tmp_path):
    import types

    module = types.ModuleType("inline_plugin")
    exec(textwrap.dedent(GOOD), module.__dict__)
    engine = truenorth.Engine.load(
        {"truenorth": 1, "pack": "p", "rules": [{"id": "d", "kind": "doubler", "on": "n"}]},
        plugins=[module],
    )
    result = engine.run(data={"n": pl.DataFrame({"id": ["a"], "x": [5]})})
    assert result.tables["doubled"]["doubled"].to_list() == [10.0]


def test_registry_to_dict_is_json(fake_eps):
    fake_eps("bad", BROKEN_IMPORT)
    data = json.loads(json.dumps(plugins.build_registry().to_dict()))
    assert data["kinds"]["condition"] == "condition"
    assert any(e["plugin"] == "bad" and "boom" in e["error"] for e in data["errors"])


def test_reader_chosen_by_longest_extension():
    reg = plugins.build_registry()
    assert reg.reader_for("x/data.csv").name == "csv"
    assert reg.reader_for("x/DATA.PARQUET").name == "parquet"
    assert reg.reader_for("x/data.unknown") is None
    assert reg.reader_for("x/whatever", "json").name == "json"


def test_local_plugin_file_via_cli_loader(tmp_path):
    from truenorth.cli_support import _load_plugin_file

    path = tmp_path / "local.py"
    path.write_text(textwrap.dedent(GOOD))
    module = _load_plugin_file(str(path))
    reg = plugins.build_registry([module])
    assert "doubler" in reg.kinds
    assert Path(module.__file__) == path
