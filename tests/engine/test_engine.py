"""Running packs: planning order, results, errors, params, threads, outputs."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

import truenorth
from truenorth.errors import DataError, RuleError, UsageError
from truenorth.testing import run_rule

CUSTOMERS = pl.DataFrame(
    {
        "customer": ["a", "b", "c", "d"],
        "clv": [50.0, 250.0, 1200.0, 400.0],
        "p_alive": [0.9, 0.1, 0.05, 0.8],
    }
)


def pack(*rules, **extra):
    return {"truenorth": 1, "pack": "t", "rules": list(rules), **extra}


TIERS = {
    "id": "tiers",
    "kind": "decision_table",
    "on": "customers",
    "with": {
        "rows": [{"when": "clv >= 1000", "tier": "gold"}, {"when": "clv >= 200", "tier": "silver"}],
        "default": {"tier": "bronze"},
    },
}
ALERT = {
    "id": "alert",
    "kind": "condition",
    "on": "customers",
    "when": "tier = 'gold' AND p_alive < 0.1",
    "severity": "fail",
    "action": "call",
    "message": "{customer} ({tier}) P(alive)={p_alive:.2f}",
}


def test_rules_are_ordered_by_tables_not_by_file_order():
    # the alert reads `tier`, which the decision table adds: it must run after it
    engine = truenorth.Engine.load(pack(ALERT, TIERS))
    assert [r.id for r in engine.rules] == ["tiers", "alert"]
    result = engine.run(data={"customers": CUSTOMERS})
    assert result.findings.select("subject", "severity", "action", "message").rows() == [
        ("c", "fail", "call", "c (gold) P(alive)=0.05")
    ]
    assert json.loads(result.findings["evidence"][0]) == {"p_alive": 0.05, "tier": "gold"}
    assert result.findings["location"][0].startswith("<dict>:")
    assert result.tables["customers"].sort("customer")["tier"].to_list() == [
        "bronze",
        "silver",
        "gold",
        "silver",
    ]
    assert [r.status for r in result.rules] == ["ok", "ok"]
    assert all(r.seconds >= 0 for r in result.rules)


def test_findings_frame_has_the_documented_columns():
    result = truenorth.Engine.load(pack(TIERS, ALERT)).run(data={"customers": CUSTOMERS})
    assert result.findings.columns == [
        "rule_id",
        "kind",
        "severity",
        "subject",
        "message",
        "value",
        "threshold",
        "evidence",
        "action",
        "location",
    ]
    empty = truenorth.Engine.load(pack(TIERS)).run(data={"customers": CUSTOMERS})
    assert empty.findings.height == 0 and empty.findings.columns == result.findings.columns


def test_a_rule_that_raises_becomes_an_error_finding_and_dependents_are_skipped():
    boom_kind = truenorth.RuleKind(
        name="boom",
        options_model=truenorth.Options,
        evaluate=lambda ctx: (_ for _ in ()).throw(ZeroDivisionError("no data to divide")),
        writes=lambda o, r: {"boomed": None},
    )
    from truenorth.testing import _plugin_for

    rules = [
        {"id": "explode", "kind": "boom", "on": "customers"},
        {"id": "after", "kind": "condition", "on": "boomed", "when": "x > 1"},
        {"id": "independent", "kind": "condition", "on": "customers", "when": "clv > 1000"},
    ]
    engine = truenorth.Engine.load(pack(*rules), plugins=[_plugin_for(boom_kind)])
    result = engine.run(data={"customers": CUSTOMERS})
    status = {r.id: r.status for r in result.rules}
    assert status == {"explode": "error", "after": "skipped", "independent": "ok"}
    assert result.rule("explode").error == "ZeroDivisionError: no data to divide"
    assert "rule 'explode' failed" in result.rule("after").error
    assert result.counts()["error"] == 2
    assert result.exit_code("fail") == 3
    with pytest.raises(RuleError, match="explode"):
        result.raise_for_errors()
    with pytest.raises(RuleError, match="rule 'explode' \\(boom\\) failed"):
        engine.run(data={"customers": CUSTOMERS}, fail_fast=True)


def test_exit_codes_follow_fail_on():
    result = truenorth.Engine.load(
        pack({"id": "w", "kind": "condition", "on": "customers", "when": "clv > 1000"})
    ).run(data={"customers": CUSTOMERS})
    assert result.counts()["warn"] == 1
    assert result.exit_code("fail") == 0
    assert result.exit_code("warn") == 1
    assert result.exit_code("info") == 1


def test_missing_and_unknown_data_roles_fail_before_running():
    engine = truenorth.Engine.load(pack(TIERS))
    with pytest.raises(DataError, match="no data for: 'customers' \\(read by tiers\\)"):
        engine.run()
    with pytest.raises(UsageError, match=r"no dataset role.*'custmers'"):
        engine.run(data={"customers": CUSTOMERS, "custmers": CUSTOMERS})


def test_runtime_column_check_when_schema_unknown():
    engine = truenorth.Engine.load(
        pack({"id": "r", "kind": "condition", "on": "customers", "when": "ltv > 1"})
    )
    result = engine.run(data={"customers": CUSTOMERS})
    assert result.rules[0].status == "error"
    assert "unknown column 'ltv'" in result.rules[0].error


def test_params_at_run_time_recompile_and_cache():
    engine = truenorth.Engine.load(
        pack(
            {"id": "r", "kind": "condition", "on": "customers", "when": "clv > ${limit}"},
            params={"limit": 1000},
        )
    )
    assert engine.run(data={"customers": CUSTOMERS}).findings.height == 1
    assert engine.run(data={"customers": CUSTOMERS}, params={"limit": 100}).findings.height == 3
    assert engine.run(data={"customers": CUSTOMERS}, params={"limit": 100}).params == {"limit": 100}
    assert engine.compiled({"limit": 100}) is engine.compiled({"limit": 100})
    assert engine.run(data={"customers": CUSTOMERS}).findings.height == 1


def test_concurrent_runs_are_independent():
    engine = truenorth.Engine.load(
        pack(TIERS, {**ALERT, "when": "clv > ${limit}", "severity": "warn"}, params={"limit": 0})
    )
    frames = {
        n: pl.DataFrame(
            {
                "customer": [f"c{i}" for i in range(n)],
                "clv": [float(i) for i in range(n)],
                "p_alive": [0.5] * n,
            }
        )
        for n in range(5, 45, 5)
    }
    barrier = threading.Barrier(4)

    def job(n):
        if n <= 20:
            barrier.wait(timeout=10)
        r = engine.run(data={"customers": frames[n]}, params={"limit": n // 2})
        return n, r.findings.height, r.tables["customers"].height

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(job, list(frames) * 3))
    for n, findings, rows in results:
        assert rows == n
        assert findings == sum(1 for i in range(n) if i > n // 2)


def _demo_frame(n: int, *, seed: int, extra: bool = False) -> pl.DataFrame:
    import random

    rng = random.Random(seed)
    df = pl.DataFrame(
        {
            "cust_id": [f"C{i:04d}" for i in range(n)],
            "clv": [round(rng.lognormvariate(5.5, 1), 2) for _ in range(n)],
            "p_alive": [round(rng.random(), 3) for _ in range(n)],
            "orders": [rng.randint(1, 30) for _ in range(n)],
            "region": [rng.choice(["north", "south"]) for _ in range(n)],
        },
        schema={
            "cust_id": pl.String,
            "clv": pl.Float64,
            "p_alive": pl.Float64,
            "orders": pl.Int64,
            "region": pl.String,
        },
    )
    if extra:  # another input schema, for which the kinds build (and cache) other plans:
        # integer clv, and a stale `tier` column first that the decision table replaces
        df = df.select(pl.lit("old").alias("tier"), pl.all()).with_columns(
            pl.col("clv").round().cast(pl.Int64)
        )
    return df


def test_concurrent_runs_equal_sequential_runs_on_fresh_engines():
    # one engine, many threads, two input schemas and two params sets at once: every result
    # equals the same run made alone on an engine of its own (no plan built for one run,
    # schema or params leaks into another; messages with format specs render the same)
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "rules" / "engine-demo.yaml"
    shared = truenorth.Engine.load(path)
    jobs = [
        (n, seed, extra, params)
        for n, seed in ((0, 1), (7, 2), (120, 3), (1_000, 4))
        for extra in (False, True)
        for params in ((), (("high_value", 200),))
    ]
    frames = {
        (n, seed, extra): _demo_frame(n, seed=seed, extra=extra) for n, seed, extra, _ in jobs
    }

    def run(engine, job):
        n, seed, extra, params = job
        r = engine.run(data={"customers": frames[(n, seed, extra)]}, params=dict(params))
        return r.findings, r.tables["customers"], [(x.id, x.status, x.findings) for x in r.rules]

    expected = {job: run(truenorth.Engine.load(path), job) for job in jobs}
    assert any(f.height > 50 for f, _, _ in expected.values())
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: (job, run(shared, job)), jobs * 4))
    for job, (findings, table, rules) in results:
        want_findings, want_table, want_rules = expected[job]
        assert findings.equals(want_findings), job
        assert table.equals(want_table), job
        assert rules == want_rules, job


def test_messages_with_format_specs_render_as_row_by_row():
    # fields with a spec (or of a type whose text Polars writes differently from str()) are
    # rendered a column at a time: the same text as the template rendered row by row
    from datetime import date

    from truenorth.engine.context import render_message

    template = "{c}|{x:.2f}|{x}|{i:>4}|{b}|{d}|{s:>3}|{missing}|{{lit}}|{x:,.0f}|{i:.1%}"
    df = pl.DataFrame(
        {
            "c": ["a", None, "c", "d", "e"],
            "x": [1.005, None, float("inf"), 1e20, 2.5],
            "i": [1, 2, None, -4, 0],
            "b": [True, False, None, True, False],
            "d": [date(2024, 1, 2), None, date(1999, 12, 31), None, date(2000, 1, 1)],
            "s": ["x", "yy", None, "", "zzzz"],
        }
    )
    rule = {"id": "m", "kind": "condition", "on": "t", "when": "i IS NULL OR i < 99"}
    engine = truenorth.Engine.load(pack({**rule, "message": template, "with": {"subject": "c"}}))
    got = engine.run(data={"t": df}).findings["message"].to_list()
    want = [render_message(template, row) for row in df.iter_rows(named=True)]
    assert got == want


def test_column_mapping_for_passed_frames_and_files(tmp_path):
    csv = tmp_path / "c.csv"
    CUSTOMERS.rename({"customer": "cust_id"}).write_csv(csv)
    spec = pack(
        {"id": "r", "kind": "condition", "on": "customers", "when": "clv > 1000"},
        datasets={
            "customers": {"path": str(csv), "columns": {"customer": "cust_id", "clv": "clv"}}
        },
    )
    engine = truenorth.Engine.load(spec)
    assert engine.run().findings["subject"].to_list() == ["c"]
    other = CUSTOMERS.rename({"customer": "cust_id"})
    assert engine.run(data={"customers": other}).findings["subject"].to_list() == ["c"]
    with pytest.raises(DataError, match="missing column\\(s\\) 'cust_id' \\(for 'customer'\\)"):
        engine.run(data={"customers": CUSTOMERS.rename({"customer": "id"})})


def test_missing_file_is_a_data_error(tmp_path):
    spec = pack(
        {"id": "r", "kind": "condition", "on": "customers", "when": "clv > 1"},
        datasets={"customers": {"path": str(tmp_path / "nope.csv")}},
    )
    with pytest.raises(DataError, match="file not found"):
        truenorth.Engine.load(spec).run()


def test_result_json_and_tables_written_atomically(tmp_path):
    result = truenorth.Engine.load(pack(TIERS, ALERT)).run(data={"customers": CUSTOMERS})
    text = result.to_json(tmp_path / "r.json", include_tables=True)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data == json.loads(text)
    assert data["counts"]["fail"] == 1 and data["findings"][0]["evidence"]["tier"] == "gold"
    assert (
        data["tables"]["customers"]["rows"] == 4 and len(data["tables"]["customers"]["data"]) == 4
    )
    written = result.write_tables(tmp_path / "out", format="parquet")
    assert {p.name for p in written} == {"customers.parquet", "findings.parquet"}
    back = pl.read_parquet(tmp_path / "out" / "customers.parquet")
    assert back.equals(result.tables["customers"])
    result.write_tables(tmp_path / "out", format="csv")
    assert pl.read_csv(tmp_path / "out" / "findings.csv").height == 1
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    from truenorth.io import atomic_write

    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_explain_gives_compiled_conditions_and_steps():
    engine = truenorth.Engine.load(pack(TIERS, ALERT))
    info = engine.explain("alert")
    assert info["reads"] == ["customers"] and info["order"] == 2
    assert 'col("tier")' in info["conditions"]["when"]
    result = engine.run(data={"customers": CUSTOMERS})
    steps = {s["step"]: s.get("count") for s in result.rule("tiers").explain}
    assert steps == {"rows in": 4, "row 1: clv >= 1000": 1, "row 2: clv >= 200": 2, "unmatched": 1}
    with pytest.raises(UsageError):
        engine.explain("nope")


def test_pack_tests_pass_and_fail(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        """
truenorth: 1
pack: pt
rules:
  - {id: big, kind: condition, on: customers, when: "clv > 100"}
tests:
  - name: passes
    given:
      customers: [{customer: a, clv: 500.0}, {customer: b, clv: 5.0}]
    expect:
      findings: [{rule: big, subject: a, severity: warn}]
  - name: fails
    given:
      customers: [{customer: a, clv: 500.0}]
    expect:
      count: 0
"""
    )
    outcomes = truenorth.Engine.load(path).run_tests()
    assert [(o.name, o.passed) for o in outcomes] == [("passes", True), ("fails", False)]
    assert outcomes[1].failures == ["expected 0 findings, got 1"]
    assert outcomes[1].location.line == 12


def test_run_rule_accepts_a_rulekind_record():
    class Opts(truenorth.Options):
        n: int = 1

    def evaluate(ctx):
        return truenorth.RuleOutput(findings=[ctx.finding("x", f"n={ctx.rule.options.n}")])

    kind = truenorth.RuleKind(name="counter", options_model=Opts, evaluate=evaluate)
    result = run_rule(kind, {"n": 3}, {})
    assert result.findings["message"].to_list() == ["n=3"]
    with pytest.raises(truenorth.PackError, match="unknown key 'm'"):
        run_rule(kind, {"m": 3}, {})


def _frame_kind(frame_fn):
    def evaluate(ctx):
        df = ctx.table(ctx.rule.on).collect()
        return truenorth.RuleOutput(findings_frame=frame_fn(df))

    return truenorth.RuleKind(name="framer", options_model=truenorth.Options, evaluate=evaluate)


def test_vectorised_findings_frame_is_normalised():
    kind = _frame_kind(
        lambda df: df.select(
            subject=pl.col("customer"),
            message=pl.format("clv {}", "clv"),
            value="clv",
            evidence=pl.struct("clv", "p_alive"),
        )
    )
    result = run_rule(kind, {}, {"customers": CUSTOMERS}, severity="info", action="look")
    f = result.findings
    assert f.height == 4 and f.columns == list(truenorth.FINDINGS_SCHEMA)
    assert set(f["severity"]) == {"info"} and set(f["action"]) == {"look"}
    assert set(f["rule_id"]) == {"rule"} and set(f["kind"]) == {"framer"}
    assert json.loads(f["evidence"][1]) == {"clv": 250.0, "p_alive": 0.1}
    assert result.rules[0].findings == 4


@pytest.mark.parametrize(
    ("frame_fn", "error"),
    [
        (
            lambda df: df.select(subject="customer", message=pl.lit("m"), colour=pl.lit("red")),
            "unknown column(s) colour",
        ),
        (lambda df: df.select(subject="customer"), "needs at least 'subject' and 'message'"),
        (
            lambda df: df.select(subject="customer", message=pl.lit("m"), severity=pl.lit("bad")),
            "invalid severity 'bad'",
        ),
    ],
)
def test_bad_findings_frames_are_rule_errors(frame_fn, error):
    result = run_rule(_frame_kind(frame_fn), {}, {"customers": CUSTOMERS}, raise_errors=False)
    assert result.rules[0].status == "error"
    assert error in result.rules[0].error


def test_no_io_when_frames_are_given_and_arrow_tables_accepted(tmp_path):
    import pyarrow as pa

    spec = pack(
        {"id": "r", "kind": "condition", "on": "customers", "when": "clv > 1000"},
        datasets={"customers": {"path": str(tmp_path / "does-not-exist.csv")}},
    )
    engine = truenorth.Engine.load(spec)  # loading reads no data either
    table = pa.table({"customer": ["x", "y"], "clv": [5.0, 5000.0]})
    assert engine.run(data={"customers": table}).findings["subject"].to_list() == ["y"]
    with pytest.raises(DataError, match="expected a Polars DataFrame/LazyFrame"):
        engine.run(data={"customers": 42})
