"""Static checks of decision tables: the exact box checker against a brute-force evaluation of
the same conditions by the engine's own condition compiler, plus the validate/run surfaces."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.builtins.decision_table.coverage import check
from truenorth.engine.conditions import compile_condition
from truenorth.testing import run_rule

# Every region cut by integer thresholds in [0, 4] holds one of these points: the integers
# themselves (on a threshold) and the half-integers between them, plus both ends.
GRID = [k / 2 for k in range(-2, 11)]
COLORS = ["red", "green", "blue", "other"]
POINTS = pl.DataFrame(
    list(itertools.product(GRID, GRID, COLORS)), schema=["x", "y", "c"], orient="row"
)
SCHEMA = {"x": pl.Float64, "y": pl.Float64, "c": pl.String}

atom = st.one_of(
    st.builds(
        lambda col, op, v: f"{col} {op} {v}",
        st.sampled_from(["x", "y"]),
        st.sampled_from(["<", "<=", ">", ">=", "=", "<>"]),
        st.integers(0, 4),
    ),
    st.builds(
        lambda col, a, b: f"{col} BETWEEN {min(a, b)} AND {max(a, b)}",
        st.sampled_from(["x", "y"]),
        st.integers(0, 4),
        st.integers(0, 4),
    ),
    st.builds(
        lambda vals, neg: f"c {'NOT ' if neg else ''}IN ({', '.join(repr(v) for v in vals)})",
        st.lists(st.sampled_from(COLORS[:3]), min_size=1, max_size=2, unique=True),
        st.booleans(),
    ),
)
condition = st.one_of(
    atom,
    st.builds(lambda a, b: f"{a} AND {b}", atom, atom),
    st.builds(lambda a, b: f"({a}) OR ({b})", atom, atom),
)


def brute_force(whens: list[str], hit_policy: str, has_default: bool) -> set[tuple]:
    hits = POINTS.select(
        [
            compile_condition(w, schema=SCHEMA).fill_null(False).alias(f"r{i}")
            for i, w in enumerate(whens)
        ]
    )
    cols = [hits[f"r{i}"] for i in range(len(whens))]
    out: set[tuple] = set()
    for j in range(len(whens)):
        if hit_policy == "first" and j:
            first_here = cols[j]
            for i in range(j):
                first_here = first_here & ~cols[i]
            if cols[j].any() and not first_here.any():
                out.add(("shadowed", j + 1))
        if not cols[j].any():
            out.add(("shadowed", j + 1))
        if hit_policy == "collect":
            for i in range(j):
                if (cols[i] & cols[j]).any():
                    out.add(("overlap", i + 1, j + 1))
    if not has_default:
        covered = cols[0]
        for c in cols[1:]:
            covered = covered | c
        if not covered.all():
            out.add(("uncovered",))
    return out


def ours(whens: list[str], hit_policy: str, has_default: bool) -> set[tuple]:
    out: set[tuple] = set()
    for issue in check(whens, hit_policy=hit_policy, has_default=has_default):
        if issue.kind == "shadowed":
            out.add(("shadowed", issue.rows[0]))
        elif issue.kind == "overlap":
            out.add(("overlap", *issue.rows))
        else:
            out.add(("uncovered",))
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(condition, min_size=1, max_size=4),
    st.sampled_from(["first", "collect"]),
    st.booleans(),
)
def test_exact_checker_agrees_with_brute_force(whens, hit_policy, has_default):
    assert ours(whens, hit_policy, has_default) == brute_force(whens, hit_policy, has_default)


def test_tiers_in_the_wrong_order_shadow_a_row():
    issues = check(["clv >= 200", "clv >= 1000", "clv < 200"])
    assert [(i.kind, i.rows) for i in issues] == [("shadowed", (2, 1))]


def test_conditions_outside_the_decidable_subset_are_not_judged():
    assert check(["clv * 2 > 100", "clv > 50"]) == []
    assert check(["upper(segment) = 'A'", "TRUE"]) == []


def test_a_run_adds_findings():
    customers = pl.DataFrame({"customer": ["a", "b"], "clv": [50.0, 2000.0]})
    options = {
        "rows": [
            {"when": "clv >= 200", "tier": "gold"},
            {"when": "clv >= 1000", "tier": "platinum"},
        ],
        "report_unmatched": False,
    }
    result = run_rule("decision_table", options, {"customers": customers}, on="customers")
    found = {(r["subject"], r["severity"]) for r in result.findings.iter_rows(named=True)}
    assert found == {("row 2", "warn"), ("table", "info")}
    quiet = run_rule(
        "decision_table", {**options, "check_rows": False}, {"customers": customers}, on="customers"
    )
    assert quiet.findings.height == 0


def test_validate_prints_located_warnings(tmp_path):
    pack = tmp_path / "tiers.yaml"
    pack.write_text(
        textwrap.dedent(
            """\
            truenorth: 1
            pack: tiers
            datasets:
              customers: {path: customers.csv}
            rules:
              - id: tiers
                kind: decision_table
                on: customers
                with:
                  rows:
                    - {when: "clv >= 200", tier: gold}
                    - {when: "clv >= 1000", tier: platinum}
                  default: {tier: bronze}
            """
        )
    )
    (tmp_path / "customers.csv").write_text("customer,clv\na,5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "truenorth.cli", "validate", str(pack)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {pack}:12:" in proc.stdout
    assert "rule 'tiers': row 2 can never fire" in proc.stdout
