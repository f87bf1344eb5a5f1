"""QA regressions: message templates are checked when the pack loads, and rendering is bounded.

``message: "{customer:>100000000}"`` passed validate, then hung the run (> 11 min, 1.8 GB) or
wrote a 300 MB JSON report; ``{customer.__init__}`` rendered object internals; ``{amount:.2q}``
and ``{amount:{amount}}`` rendered a raw or empty message.
"""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

import truenorth
from truenorth.engine.engine import render_message
from truenorth.engine.templates import MAX_PRECISION, MAX_WIDTH, TemplateError, parse_template
from truenorth.testing import run_rule

PACK = """\
truenorth: 1
pack: m
datasets:
  tx: {{path: tx.csv, columns: {{customer: customer, amount: amount}}}}
rules:
  - id: r
    kind: condition
    on: tx
    when: "amount > 0"
    message: '{message}'
"""

BAD = [
    ("{customer:>100000000}", f"width 100000000 is over {MAX_WIDTH}"),
    ("{amount:.999f}", f"precision 999 is over {MAX_PRECISION}"),
    ("{customer.__init__}", "attribute or index access is not allowed"),
    ("{customer.__class__.__mro__}", "attribute or index access is not allowed"),
    ("{customer[0]}", "attribute or index access is not allowed"),
    ("{amount:.2q}", "invalid format spec '.2q'"),
    ("{amount:{amount}}", "nested {fields} in a format spec"),
    ("{customer!r}", "conversions such as !r are not allowed"),
    ("{} bought", "name a column"),
    ("{0} bought", "name a column"),
    ("{customer bought", "write {{ or }} for a literal brace"),
    ("customer} bought", "write {{ or }} for a literal brace"),
]


def write(tmp_path, message: str):
    path = tmp_path / "m.yaml"
    path.write_text(PACK.format(message=message))
    (tmp_path / "tx.csv").write_text("customer,amount\na,5\nb,\nc,7.25\n")
    return path


@pytest.mark.parametrize(("message", "why"), BAD)
def test_bad_template_is_a_located_load_error(tmp_path, message, why):
    path = write(tmp_path, message)
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(path)
    (problem,) = info.value.problems
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "message:" in t)
    column = path.read_text().splitlines()[line - 1].index("'") + 1
    assert (problem.location.line, problem.location.column) == (line, column)
    assert problem.rule_id == "r"
    assert problem.message.startswith("message: bad template: ")
    assert why in problem.message
    assert "{column:spec}" in problem.expected and f"width <= {MAX_WIDTH}" in problem.expected


def test_cli_validate_refuses_the_huge_width_fast(tmp_path):
    path = write(tmp_path, "{customer:>100000000}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "truenorth.cli", "run", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{path}:10:14: rule 'r': message: bad template: placeholder" in proc.stderr


def test_good_templates_render_and_wrong_types_or_nulls_fall_back(tmp_path):
    path = write(tmp_path, "{customer:>4}|{amount:,.2f}|{customer:.1f}|{{x}}")
    engine = truenorth.Engine.load(path)
    messages = engine.run().findings.sort("subject")["message"].to_list()
    # a text column with a float spec shows the text; {{ and }} are literal braces
    assert messages == ["   a|5.00|a|{x}", "   c|7.25|c|{x}"]
    assert render_message("{known} {unknown:.2f}", {"known": 1}) == "1 {unknown}"


def test_width_and_precision_at_the_cap_are_accepted():
    t = parse_template(f"{{a:>{MAX_WIDTH}}}{{b:.{MAX_PRECISION}f}}")
    out = t.render({"a": "x", "b": 1.5})
    assert len(out) == MAX_WIDTH + 2 + MAX_PRECISION


@pytest.mark.parametrize(
    ("spec", "value"),
    [(".2f", None), (".2f", "text"), ("d", 1.5), ("c", 10**12), (",d", "x"), (".1%", None)],
)
def test_render_never_raises_on_any_value(spec, value):
    assert render_message(f"<{{v:{spec}}}>", {"v": value}) == f"<{value}>"


def test_unchecked_template_from_a_plugin_renders_nothing_internal():
    # ctx.render with a template a plugin built itself: returned as written, never evaluated
    text = "{row.__class__.__mro__} {row:>100000000}"
    assert render_message(text, {"row": "x"}) == text
    with pytest.raises(TemplateError):
        truenorth.template_fields(text)


def test_every_message_path_uses_the_bounded_renderer():
    df = pl.DataFrame({"customer": ["a", "b"], "clv": [1234.5, None], "tier": ["x", None]})
    # condition: vectorised path (plain names) and per-row path (format specs)
    r = run_rule("condition", {}, {"t": df}, when="customer = 'a'", message="{customer}/{tier}")
    assert r.findings["message"].to_list() == ["a/x"]
    r = run_rule(
        "condition", {}, {"t": df}, when="customer IS NOT NULL", message="{customer}:{clv:,.1f}"
    )
    assert sorted(r.findings["message"].to_list()) == ["a:1,234.5", "b:None"]
    # decision_table: unmatched rows are reported with the rule's message
    r = run_rule(
        "decision_table",
        {
            "rows": [{"when": "clv > 5000", "band": "top"}],
            "report_unmatched": True,
            "check_rows": False,
        },
        {"t": df},
        message="{customer} unmatched at {clv:.0f}",
    )
    assert sorted(r.findings["message"].to_list()) == ["a unmatched at 1234", "b unmatched at None"]
