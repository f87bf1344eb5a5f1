"""``truenorth init DIR``: a workspace to edit — the bundled packs and data, and a plugin stub."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..io.atomic import atomic_write_text

PLUGIN_STUB = '''"""A local truenorth plugin: a custom rule kind, loaded with `--plugin plugins/local_plugin.py`.

Package it (pyproject.toml entry point in the `truenorth` group) to share it; see
examples/truenorth-loyalty in the truenorth repository.
"""

import polars as pl
from pydantic import Field

import truenorth


class TopSpendersOptions(truenorth.Options):
    column: str = Field("clv", description="value column to rank by")
    top: int = Field(5, ge=1, description="how many customers to report")


def evaluate(ctx: truenorth.RuleContext) -> truenorth.RuleOutput:
    opts = ctx.rule.options
    top = ctx.table(ctx.rule.on).sort(opts.column, descending=True).head(opts.top).collect()
    subject = top.columns[0]
    findings = [
        ctx.finding(row[subject], f"top {opts.top} by {opts.column}: {row[opts.column]:.2f}",
                    severity="info", value=row[opts.column])
        for row in top.iter_rows(named=True)
    ]
    return truenorth.RuleOutput(findings=findings)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(truenorth.RuleKind(name="top_spenders", options_model=TopSpendersOptions, evaluate=evaluate,
                                summary="Report the top customers by a value column."))
'''

LOCAL_PACK = """# A pack using the local plugin: truenorth run local.yaml --plugin plugins/local_plugin.py
truenorth: 1
pack: local
datasets:
  customers:
    path: rules/data/engine_demo_customers.csv
    columns: {customer: cust_id}
rules:
  - id: top-customers
    kind: top_spenders
    on: customers
    with: {column: clv, top: 3}
"""

README = """# truenorth workspace

- `rules/` — rule packs (YAML) and their sample data (`rules/data/`, generated for the demo)
- `plugins/local_plugin.py` — a custom rule kind you can edit; `local.yaml` — a pack using it

```sh
truenorth validate rules
truenorth run rules
truenorth test rules
truenorth run local.yaml --plugin plugins/local_plugin.py
```
"""


def write_workspace(target: Path, packs: Path) -> list[Path]:
    """Copy the bundled packs (and data) into ``target/rules``; add a plugin stub and README."""
    written: list[Path] = []
    rules = target / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    for item in sorted(packs.iterdir()):
        if item.name.startswith((".", "__")):
            continue
        dest = rules / item.name
        if item.is_dir():
            _copy_tree(item, dest)
        else:
            shutil.copyfile(item, dest)
        written.append(dest)
    for path, text in (
        (target / "plugins" / "local_plugin.py", PLUGIN_STUB),
        (target / "local.yaml", LOCAL_PACK),
        (target / "README.md", README),
    ):
        atomic_write_text(path, text)
        written.append(path)
    return written


def _copy_tree(src: Path, dest: Path) -> None:
    """Like ``cp -r`` (not ``cp -rp``): modes of the copies follow the umask, not the installed
    files' (copytree and copy2 would copy those)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(src.iterdir()):
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            _copy_tree(item, dest / item.name)
        else:
            shutil.copyfile(item, dest / item.name)
