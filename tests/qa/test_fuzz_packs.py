"""Fuzzing that keeps packs safe: random packs with aliases, templates, format specs and paths.

Every generated pack is loaded (with or without a data root) and run on a small CSV in a
guarded worker process (``fuzz_harness``). Each case must end in a located truenorth error or
a result, within the harness's time and memory budget; a loaded pack with a data root never
reads a file outside it, and no finding message carries object internals or runs away in size.
"""

from __future__ import annotations

import json

import pytest
from fuzz_harness import Guard, budget_seconds
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

# ------------------------------------------------------------------------- generators
NAMES = ["customer", "clv", "segment", "nope", "", "0", "customer.__class__", "clv[0]",
         "customer.__init__", "segment.upper", "avg order"]  # fmt: skip
CONVERSIONS = ["", "", "", "!r", "!s", "!a", "!x"]
TYPES = [*"bcdeEfFgGnosxX%", "", "", "q", "z", "Y"]

numbers = st.one_of(
    st.integers(0, 30), st.integers(180, 220), st.integers(10**6, 10**9), st.just(10**20)
)


@st.composite
def specs(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)) == 0:  # raw garbage from the spec alphabet
        return draw(st.text(alphabet=":{}<>^=+- #0,_.%abdefgnosxXq123456789", max_size=8))
    parts = [
        draw(st.sampled_from(["", "", "*<", ">", "^", "0=", "{<", "}>"])),
        draw(st.sampled_from(["", "+", "-", " "])),
        draw(st.sampled_from(["", "#"])),
        draw(st.sampled_from(["", "0"])),
        str(draw(numbers)) if draw(st.booleans()) else "",
        draw(st.sampled_from(["", ",", "_"])),
        "." + str(draw(numbers)) if draw(st.booleans()) else "",
        draw(st.sampled_from(TYPES)),
    ]
    if draw(st.integers(0, 8)) == 0:
        parts.append("{" + draw(st.sampled_from(NAMES)) + "}")  # a nested field
    return "".join(parts)


GOOD_NAMES = ["customer", "clv", "segment"]
GOOD_SPECS = ["", ".2f", ">10", ",.0f", ".1%", "^12", "+.3e", "x<8", ".50", ">200", "_"]


@st.composite
def templates(draw: st.DrawFn, hostile: bool = True) -> str:
    if not hostile or draw(st.booleans()):  # valid ones too: the pack gets to run and render
        out = []
        for _ in range(draw(st.integers(0, 3))):
            out.append(draw(st.sampled_from(["", "spent ", " {{x}} ", "é "])))
            spec = draw(st.sampled_from(GOOD_SPECS))
            out.append("{" + draw(st.sampled_from(GOOD_NAMES)) + (":" + spec if spec else "") + "}")
        return "".join(out) or "plain"
    out = []
    for _ in range(draw(st.integers(0, 4))):
        out.append(draw(st.sampled_from(["", "spent ", " & ", "{{", "}}", "{", "}", "é "])))
        name = draw(st.sampled_from(NAMES))
        spec = draw(specs()) if draw(st.booleans()) else ""
        conv = draw(st.sampled_from(CONVERSIONS))
        out.append("{" + name + conv + (":" + spec if spec or draw(st.booleans()) else "") + "}")
    return "".join(out) or "plain"


PATHS = [
    "c.csv", "./c.csv", "sub/../c.csv", "../outside/secret.csv", "{OUTSIDE}/secret.csv",
    "{ROOT}/c.csv", "link_out.csv", "link_in.csv", "~/nope.csv", "missing.csv", "c[1].csv",
    "sub/../../outside/secret.csv", "${file}", "/etc/passwd", "c.csv/..", ".",
]  # fmt: skip
WHENS = ["clv > 1", "clv > 1e308", "segment = 'gold'", "customer IS NULL", "nope > 1",
         "clv >", "clv > ${limit}", "customer > 5"]  # fmt: skip


@st.composite
def alias_blocks(draw: st.DrawFn, hostile: bool = True) -> tuple[str, str, str]:
    """Lines under ``params:`` and ``with:`` values of two rules, using anchors and aliases."""
    kinds = ["bomb", "reuse", "merge", "undefined"] if hostile else ["none", "reuse", "merge"]
    kind = draw(st.sampled_from(kinds))
    params = ["  limit: 1", "  file: c.csv"]
    with_one = with_two = "{}"
    if kind == "bomb":
        levels, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
        params.append("  l0: &l0 [" + ", ".join(["lol"] * width) + "]")
        for i in range(1, levels):
            params.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
        with_two = f"{{evidence: *l{levels - 1}}}" if draw(st.booleans()) else "{}"
    elif kind == "reuse":
        with_one = "&o {subject: customer, limit: 3, evidence: [segment]}"
        with_two = "*o"
    elif kind == "merge":
        with_one = "&o {subject: customer}"
        with_two = "{<<: *o, value: clv}"
    elif kind == "undefined":
        with_two = "*nothing"
    return "\n".join(params), with_one, with_two


@st.composite
def packs(draw: st.DrawFn) -> dict:
    # one hostile feature per pack (or none), so most packs get past it and run
    focus = draw(st.sampled_from(["aliases", "templates", "paths", "when", "none"]))
    params, with_one, with_two = draw(alias_blocks(focus == "aliases"))
    path = draw(st.sampled_from(PATHS if focus == "paths" else PATHS[:3]))
    when = draw(st.sampled_from(WHENS if focus == "when" else WHENS[:4]))
    message = draw(templates(focus == "templates"))
    second = draw(templates(focus == "templates"))
    third = draw(templates(focus == "templates"))
    text = f"""\
truenorth: 1
pack: fuzz
params:
{params}
datasets:
  customers:
    path: {json.dumps(path)}
    columns: {{customer: customer, clv: clv, segment: segment}}
rules:
  - id: r1
    kind: condition
    on: customers
    when: {json.dumps(when)}
    message: {json.dumps(message)}
    with: {with_one}
  - id: r2
    kind: condition
    on: customers
    when: "clv > 0"
    message: {json.dumps(second)}
    with: {with_two}
  - id: r3
    kind: decision_table
    on: customers
    message: {json.dumps(third)}
    with: {{rows: [{{when: "clv > 10", band: high}}], report_unmatched: true}}
"""
    links = {"link_out.csv": "{OUTSIDE}/secret.csv", "link_in.csv": "{ROOT}/c.csv"}
    # with a hostile path, mostly confined: that is the mode that must refuse it
    root = draw(st.integers(0, 3)) > 0 if focus == "paths" else draw(st.booleans())
    return {"text": text, "data_root": root, "links": links}


# ------------------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def guard():
    g = Guard(seconds=budget_seconds(), megabytes=1024)
    yield g
    g.close()
    print(
        f"\nfuzz packs: {g.cases} cases, slowest {g.slowest:.2f} s, "
        f"peak resident growth {g.peak_growth_mb:.0f} MB"
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(case=packs())
def test_random_packs_end_in_a_located_error_or_a_bounded_result(guard, case):
    out = guard.run("fuzz_cases", "pack_case", **case)
    assert out.status != "crash", f"{out.error_type}: {out.message}\n--- pack ---\n{case['text']}"
    event(f"{out.status} {out.error_type}".strip())
    if out.status == "error":
        assert out.located, out.message
        return
    info = out.info
    assert not info["escaped"], f"read outside the data root: {info['escaped']}"
    if case["data_root"]:
        assert not info["secret_in_findings"]
    assert info["longest_message"] <= 2_000, case["text"]
    assert not info["leaked"], info["leaked"]
    for err in info["rule_errors"]:  # a rule may fail on its data, with a one-line reason
        assert err["error"] and "\n" not in err["error"], err
