"""Run history: what `run --store` keeps, `truenorth diff` and `run --baseline` (new, resolved
and unchanged findings, metric deltas, flipped rules, pack/params changes), `--fail-on new`, the
HTML section, and bad input (a missing run, a newer store, a store that is not one): exit 2 with
nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from truenorth.io.runstore import STORE_FILE, RunStore, StoredRun, StoreError

PACK = """\
truenorth: 1
pack: shop
datasets:
  customers:
    path: customers.csv
    columns: {customer: customer, segment: segment, spend: spend, effort: effort}
params:
  big: 100
rules:
  - id: big-spenders
    kind: condition
    on: customers
    when: "spend > ${big}"
    message: "{customer} spent {spend}"
    with: {subject: customer, value: spend}
  - id: effort
    kind: kpi
    with: {metric: ces, source: customers, column: effort, by: segment, table: kpi_effort}
    warn: "value < 4"
    message: "effort {value:.2f} for {subject}"
keep: [kpi_effort]
"""

DAY1 = "customer,segment,spend,effort\na,vip,150,6\nb,vip,90,5\nc,casual,120,3\nd,casual,20,4\n"
# b becomes a big spender (new), c drops below (resolved), a stays (unchanged);
# casual effort 3.5 -> 5 (the effort rule's warn resolves), vip 5.5 -> 6
DAY2 = "customer,segment,spend,effort\na,vip,160,6\nb,vip,190,6\nc,casual,80,5\nd,casual,20,5\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "shop.yaml").write_text(PACK)
    (tmp_path / "day1.csv").write_text(DAY1)
    (tmp_path / "day2.csv").write_text(DAY2)
    (tmp_path / "customers.csv").write_text(DAY1)
    return tmp_path


def run(tn: Any, folder: Path, *args: str) -> Any:
    return tn("run", "shop.yaml", "--store", "history", "-q", *args, cwd=folder)


def stored(folder: Path) -> list[Path]:
    runs = folder / "history" / "runs"
    return sorted(p for p in runs.iterdir()) if runs.exists() else []


def two_days(tn: Any, shop: Path) -> None:
    assert run(tn, shop, "--data", "customers=day1.csv").returncode == 0
    assert run(tn, shop, "--data", "customers=day2.csv").returncode == 0


def test_a_stored_run_keeps_findings_rule_outcomes_hashes_and_kept_tables(
    tn: Any, shop: Path
) -> None:
    proc = run(tn, shop, "--set", "big=100")
    assert proc.returncode == 0, proc.stderr
    [folder] = stored(shop)
    meta = json.loads((folder / "run.json").read_text())
    assert meta["run_id"] == folder.name and meta["pack"] == "shop"
    assert meta["params"] == {"big": 100} and len(meta["pack_hash"]) == 64
    assert meta["tables"] == ["kpi_effort"] and meta["truenorth_store"] == 1
    findings = pl.read_parquet(folder / "findings.parquet")
    assert sorted(findings.filter(pl.col("rule_id") == "big-spenders")["subject"]) == ["a", "c"]
    rules = pl.read_parquet(folder / "rules.parquet")
    assert dict(zip(rules["rule_id"], rules["outcome"], strict=True)) == {
        "big-spenders": "warn",
        "effort": "warn",  # casual 3.5 < 4
    }
    kpi = pl.read_parquet(folder / "tables" / "kpi_effort.parquet")
    assert kpi.filter(pl.col("subject") == "casual")["value"].item() == pytest.approx(3.5)


def test_diff_of_the_last_two_runs(tn: Any, shop: Path) -> None:
    two_days(tn, shop)
    proc = tn("diff", "--store", "history", "--format", "json", cwd=shop)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    a, b = (p.name for p in stored(shop))
    assert (d["a"]["run_id"], d["b"]["run_id"]) == (a, b)
    big = {
        k: sorted(f["subject"] for f in d[k] if f["rule_id"] == "big-spenders")
        for k in ("new", "resolved", "unchanged")
    }
    assert big == {"new": ["b"], "resolved": ["c"], "unchanged": ["a"]}
    assert {"rule_id": "effort", "baseline": "warn", "now": "clean"} in d["flipped"]
    assert not d["pack_changed"] and not d["params_changed"]
    casual = next(
        m for m in d["metrics"]
        if m["table"] == "kpi_effort" and m["key"].get("subject") == "casual" and m["column"] == "value"
    )  # fmt: skip
    assert casual["baseline"] == pytest.approx(3.5) and casual["now"] == pytest.approx(5.0)
    assert casual["delta"] == pytest.approx(1.5) and casual["relative"] == pytest.approx(1.5 / 3.5)
    text = tn("diff", "--store", "history", cwd=shop).stdout
    assert "findings: 1 new, 2 resolved, 1 unchanged" in text  # c, and the casual effort warn
    assert "effort: warn → clean" in text and "+42.9 %" in text
    md = tn("diff", a, b, "--store", "history", "--format", "markdown", cwd=shop).stdout
    assert "| warn | `big-spenders` | b | b spent 190 |" in md and "### Metric deltas" in md


def test_changed_pack_and_params_are_flagged(tn: Any, shop: Path) -> None:
    assert run(tn, shop).returncode == 0
    assert run(tn, shop, "--set", "big=50").returncode == 0
    d = json.loads(tn("diff", "--store", "history", "--format", "json", cwd=shop).stdout)
    assert d["params_changed"] and d["changed_params"] == {"big": [100, 50]}
    assert not d["pack_changed"]
    (shop / "shop.yaml").write_text(PACK.replace("spent {spend}", "bought for {spend}"))
    assert run(tn, shop, "--set", "big=50").returncode == 0
    d = json.loads(tn("diff", "--store", "history", "--format", "json", cwd=shop).stdout)
    assert d["pack_changed"] and not d["params_changed"]
    assert "the pack changed" in tn("diff", "--store", "history", cwd=shop).stdout


def test_baseline_and_fail_on_new_gate_on_new_findings_only(tn: Any, shop: Path) -> None:
    assert run(tn, shop, "--data", "customers=day1.csv").returncode == 0
    same = run(tn, shop, "--data", "customers=day1.csv", "--baseline", "latest", "--fail-on", "new")
    assert same.returncode == 0, same.stderr
    assert "findings: 0 new, 0 resolved, 3 unchanged" in same.stdout
    new = run(tn, shop, "--data", "customers=day2.csv", "--baseline", "latest", "--fail-on", "new")
    assert new.returncode == 1
    assert "+ warn  big-spenders  b: b spent 190" in new.stdout
    assert len(stored(shop)) == 3  # a gated run is still kept
    first = stored(shop)[0].name
    # Drop the last two hex digits: still unique (time, pid and four random digits), but a
    # prefix. A cut inside the pid could match a second run started in the same second.
    again = run(
        tn, shop, "--data", "customers=day2.csv", "--baseline", first[:-2], "--fail-on", "new"
    )
    assert again.returncode == 1  # a unique prefix of a run id names that run


def test_html_report_shows_the_deltas(tn: Any, shop: Path) -> None:
    assert run(tn, shop, "--data", "customers=day1.csv").returncode == 0
    proc = run(
        tn, shop, "--data", "customers=day2.csv", "--baseline", "latest",
        "--format", "html,json", "--out", "out",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    html = (shop / "out" / "shop" / "report.html").read_text()
    assert "Since the baseline" in html and "New findings (1)" in html
    assert "b spent 190" in html and "+42.9 %" in html
    report = json.loads((shop / "out" / "shop" / "report.json").read_text())
    assert report["baseline"]["summary"]["new"] == 1


def test_markdown_report_shows_the_deltas(tn: Any, shop: Path) -> None:
    assert run(tn, shop, "--data", "customers=day1.csv").returncode == 0
    base = stored(shop)[0].name
    proc = run(
        tn, shop, "--data", "customers=day2.csv", "--baseline", "latest", "--format", "markdown"
    )
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    since, rules = md.index("\n## Since the baseline\n"), md.index("\n## Rules\n")
    assert md.index("# truenorth report: shop") < since < rules
    section = md[since:rules]
    assert f"against `{base}`" in section
    assert "**1 new**, 2 resolved, 1 unchanged findings" in section
    assert "| warn | `big-spenders` | b | b spent 190 |" in section  # new
    assert "| warn | `big-spenders` | c | c spent 120 |" in section  # resolved
    assert "| `effort` | warn | clean |" in section and "+42.9 %" in section
    assert "Not like for like" not in section and "> **Note:**" not in section
    plain = tn("run", "shop.yaml", "-q", "--format", "markdown", cwd=shop).stdout
    assert "Since the baseline" not in plain and "\n## Rules\n" in plain
    changed = run(
        tn, shop, "--data", "customers=day2.csv", "--set", "big=50", "--baseline", "latest",
        "--format", "markdown",
    )  # fmt: skip
    assert "> **Note:** param big: 100 → 50" in changed.stdout


# ------------------------------------------------------------------------------ bad input
def test_a_missing_baseline_run_is_exit_2_and_nothing_is_written(tn: Any, shop: Path) -> None:
    assert run(tn, shop).returncode == 0
    proc = run(tn, shop, "--baseline", "20990101T000000Z-1-abcdef", "--out", "out")
    assert proc.returncode == 2
    assert "no run '20990101T000000Z-1-abcdef'" in proc.stderr and "latest:" in proc.stderr
    assert len(stored(shop)) == 1 and not (shop / "out").exists()
    none = tn("run", "shop.yaml", "--store", "empty", "--baseline", "latest", cwd=shop)
    assert none.returncode == 2 and "no run history here" in none.stderr
    assert not (shop / "empty").exists()  # --baseline never creates a store
    (shop / "shop.yaml").write_text(PACK.replace("pack: shop", "pack: other"))
    other = run(tn, shop, "--baseline", "latest")
    assert other.returncode == 2 and "0 stored run(s) of pack 'other'" in other.stderr
    diff = tn("diff", "nope", "--store", "history", cwd=shop)
    assert diff.returncode == 2 and "no run 'nope'" in diff.stderr
    lone = tn("diff", "--store", "history", cwd=shop)
    assert lone.returncode == 2 and "only one stored run" in lone.stderr


def test_options_that_need_each_other(tn: Any, shop: Path) -> None:
    proc = tn("run", "shop.yaml", "--fail-on", "new", cwd=shop)
    assert proc.returncode == 2 and "--fail-on new needs --baseline" in proc.stderr
    proc = tn("run", "shop.yaml", "--baseline", "latest", cwd=shop)
    assert proc.returncode == 2 and "--baseline needs --store" in proc.stderr


def test_a_store_from_a_newer_version_is_refused(tn: Any, shop: Path) -> None:
    assert run(tn, shop).returncode == 0
    marker = shop / "history" / STORE_FILE
    marker.write_text(json.dumps({"truenorth_store": 99}))
    for proc in (run(tn, shop), tn("diff", "--store", "history", cwd=shop)):
        assert proc.returncode == 2
        assert "written by a newer truenorth (store format 99" in proc.stderr
    assert len(stored(shop)) == 1
    marker.write_text(json.dumps({"truenorth_store": 1}))
    meta_file = stored(shop)[0] / "run.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "truenorth_store": 7}))
    proc = tn("diff", "--store", "history", cwd=shop)
    assert proc.returncode == 2 and "store format 7" in proc.stderr


def test_a_store_path_that_is_not_a_store(tn: Any, shop: Path) -> None:
    (shop / "file.duckdb").write_text("x")
    proc = tn("run", "shop.yaml", "--store", "file.duckdb", cwd=shop)
    assert proc.returncode == 2 and "is a file; expected a run-history folder" in proc.stderr
    (shop / "busy").mkdir()
    (shop / "busy" / "notes.txt").write_text("mine")
    proc = tn("run", "shop.yaml", "--store", "busy", cwd=shop)
    assert proc.returncode == 2 and "not a truenorth run history" in proc.stderr
    assert sorted(p.name for p in (shop / "busy").iterdir()) == ["notes.txt"]


def test_keep_names_a_table_of_the_pack(tn: Any, shop: Path) -> None:
    (shop / "shop.yaml").write_text(PACK.replace("keep: [kpi_effort]", "keep: [kpi_efort]"))
    proc = tn("validate", "shop.yaml", cwd=shop)
    assert proc.returncode == 2
    assert "shop.yaml:21:8: keep: 'kpi_efort' is not a table of this pack's rules" in proc.stderr


def _run(run_id: str, pack: str = "p") -> StoredRun:
    return StoredRun(
        meta={"run_id": run_id, "pack": pack, "created": f"2026-01-01T00:00:0{run_id[-1]}"},
        findings=pl.DataFrame({"rule_id": ["r"], "subject": ["s"]}),
        rules=pl.DataFrame({"rule_id": ["r"], "outcome": ["warn"]}),
        tables={"t": pl.DataFrame({"k": ["a"], "v": [1.0]})},
    )


def test_a_failed_write_leaves_no_half_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore.open(tmp_path / "h")
    store.save(_run("r1"))
    real = pl.DataFrame.write_parquet

    def disk_full(self: pl.DataFrame, path: Any, *a: Any, **k: Any) -> None:
        if Path(path).parent.name == "tables":
            raise OSError(28, "No space left on device")
        real(self, path, *a, **k)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", disk_full)
    with pytest.raises(StoreError, match="No space left on device; the history is unchanged"):
        store.save(_run("r2"))
    assert sorted(p.name for p in store.runs_dir.iterdir()) == ["r1"]
    assert [r["run_id"] for r in store.runs()] == ["r1"]


def test_one_writer_at_a_time_and_no_duplicate_ids(tmp_path: Path) -> None:
    from truenorth.io.lock import lock_beside

    store = RunStore.open(tmp_path / "h")
    store.save(_run("r1"))
    with pytest.raises(StoreError, match="already stored"):
        store.save(_run("r1"))
    with lock_beside(store.runs_dir), pytest.raises(StoreError, match="is storing a run"):
        store.save(_run("r2"))
    assert [r["run_id"] for r in store.runs()] == ["r1"]


def test_diff_needs_a_pack_when_the_store_holds_several(tn: Any, tmp_path: Path) -> None:
    store = RunStore.open(tmp_path / "h")
    for rid, pack in (("a1", "p"), ("b2", "q"), ("a3", "p")):
        store.save(_run(rid, pack))
    proc = tn("diff", "--store", str(tmp_path / "h"))
    assert proc.returncode == 2 and "several packs (p, q): give --pack NAME" in proc.stderr
    proc = tn("diff", "--store", str(tmp_path / "h"), "--pack", "p", "--format", "json")
    d = json.loads(proc.stdout)
    assert (d["a"]["run_id"], d["b"]["run_id"]) == ("a1", "a3")
