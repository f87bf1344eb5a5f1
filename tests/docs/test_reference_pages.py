"""The generated reference pages (docs/reference/...) match the code, and plugins' kinds appear."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import truenorth
from truenorth import Options, RuleKind, RuleOutput

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_docs_reference", ROOT / "tools/gen_docs_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_pages_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools/gen_docs_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_builtin_kind_has_a_page_and_a_nav_entry():
    pages = _generator().render(all_plugins=False)
    nav = pages[Path("mkdocs.yml")]
    for name in ("clv", "segment", "condition", "decision_table", "kano", "journey", "kpi"):
        page = pages[Path(f"docs/reference/kinds/{name}.md")]
        assert page.startswith("<!-- generated")
        assert "## Options (`with:`)" in page
        assert f"- {name}: reference/kinds/{name}.md" in nav


class _Opts(Options):
    """Options of a plugin kind."""

    threshold: float = 100.0


# the record's field for the options model (``options``, renamed ``options_model`` later)
_OPTIONS_FIELD = next(
    f.name for f in dataclasses.fields(RuleKind) if f.name in ("options_model", "options")
)


class _Plugin:
    @staticmethod
    @truenorth.hookimpl
    def register_rule_kinds(register):
        register(
            RuleKind(
                name="docs_probe_kind",
                **{_OPTIONS_FIELD: _Opts},
                evaluate=lambda ctx: RuleOutput(),
                summary="A kind from a third-party plugin.",
                doc="Flags ``big`` baskets.\n\nExample::\n\n    - id: big\n      kind: docs_probe_kind\n",
            )
        )


def test_a_plugins_kind_is_documented_with_all_plugins_and_not_by_default():
    gen = _generator()
    with_plugins = gen.render(all_plugins=True, plugins=[_Plugin()])
    page = with_plugins[Path("docs/reference/kinds/docs_probe_kind.md")]
    assert "| `threshold` | `number` | `100.0` |" in page
    assert "```yaml\n- id: big\n  kind: docs_probe_kind\n```" in page  # RST literal → fence
    assert "Flags `big` baskets." in page
    assert "docs_probe_kind: reference/kinds/docs_probe_kind.md" in with_plugins[Path("mkdocs.yml")]
    assert Path("docs/reference/kinds/docs_probe_kind.md") not in gen.render(
        all_plugins=False, plugins=[_Plugin()]
    )


def test_site_hook_turns_rst_roles_into_plain_code():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools/mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    html = (
        "<p>Raises :class:<code>~truenorth.errors.DataError</code>; see "
        ":meth:<code>Engine.load</code>. Example::</p>"
    )
    assert hooks.on_page_content(html) == (
        "<p>Raises <code>DataError</code>; see <code>Engine.load</code>. Example:</p>"
    )
