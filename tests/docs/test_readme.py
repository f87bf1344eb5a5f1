"""The README's examples run as written: its two set-up commands, its Python and its YAML."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

import truenorth
from truenorth.testing import run_rule

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_readme_opens_with_the_two_set_up_commands():
    text = README.read_text()
    first_two = _blocks("sh")[:2]
    assert text.index("```sh") < text.index("\n## "), "set-up commands come first"
    assert first_two[0].strip().endswith("pip install . && truenorth run")
    assert "pytest" in first_two[1] and "cargo test" in first_two[1]
    assert first_two[1].count("\n") == 1 and first_two[0].count("\n") == 1  # one line each


def test_python_examples_run_in_order():
    namespace: dict = {}
    blocks = _blocks("python")
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # our own documentation
    # The service example found both big baskets (the numeric core's examples moved to the
    # documentation site: docs/guides/clv.md and docs/guides/service.md, run by
    # tests/docs/test_docs_examples.py).
    assert namespace["result"].findings.height == 2


def test_plugin_example_registers_and_runs():
    namespace: dict = {}
    plugin_block = next(b for b in _blocks("python") if "register_rule_kinds" in b)
    exec(compile(plugin_block, str(README), "exec"), namespace)
    kinds: list[truenorth.RuleKind] = []
    namespace["register_rule_kinds"](kinds.append)
    (kind,) = kinds
    frame = pl.DataFrame({"customer": [1, 2, 3], "amount": [50.0, 150.0, 300.0]})
    result = run_rule(kind, {"threshold": 100}, {"baskets": frame}, on="baskets")
    assert sorted(result.findings["subject"].to_list()) == ["2", "3"]


def test_yaml_pack_example_validates(tmp_path):
    (pack_text,) = _blocks("yaml")
    # Beside the demo's transactions file, as the pack's relative path expects.
    bundled = Path(truenorth.__file__).parent / "packs"
    pack_file = tmp_path / "pack.yaml"
    pack_file.write_text(
        pack_text.replace("data/transactions.csv", str(bundled / "data/transactions.csv"))
    )
    engine = truenorth.Engine.load(pack_file)
    assert [r.id for r in engine.rules] == ["value", "tiers", "lapsing-high-value"]
