"""Bounded-memory summaries: a LazyFrame larger than the budget is partitioned by customer on
disk and summarised partition by partition, with exactly the in-memory result, its row
numbers in error messages, and no temporary files left behind (success, error, Ctrl-C).

Small logs are forced to spill by lowering the 32 MiB floor of budgets; the limit test at the
end runs a log several times its budget in a subprocess and checks its peak RSS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from truenorth.clv import _budget, _spill, memory_limit, summarize
from truenorth.clv._units import summary_unit


def _log(n: int, n_cust: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "c": rng.integers(0, n_cust, n) * 7 + 3,
            "t": pl.Series(rng.integers(0, 700, n), dtype=pl.Int32).cast(pl.Date),
            "a": np.round(rng.normal(20, 10, n), 2),
        }
    ).with_columns(pl.col("t") + pl.duration(days=18_000))


@pytest.fixture
def tiny_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_budget, "_MIN_BUDGET", 1)


def _spilled(lf: pl.LazyFrame, spill_dir: Path, capsys: pytest.CaptureFixture[str], **kw):
    with memory_limit(None, progress=True):
        out = summarize(lf, memory=200_000, spill_dir=spill_dir, **kw)
    assert "spilling into" in capsys.readouterr().err  # it did take the spill path
    assert list(spill_dir.iterdir()) == []  # and cleaned up after itself
    return out


CASES = {
    "int": (lambda df: df, {}),
    "str": (lambda df: df.with_columns(pl.format("cust-{}", "c").alias("c")), {}),
    "categorical": (
        lambda df: df.with_columns(pl.col("c").cast(pl.String).cast(pl.Categorical)),
        {},
    ),
    "holdout-weeks": (lambda df: df, {"period": "1w", "calibration_end": date(2020, 6, 1)}),
    "months": (lambda df: df, {"period": "1mo"}),
    "tz-datetime": (
        lambda df: df.with_columns(
            (pl.col("t").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("c") % 24))
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone("Europe/Berlin")
            .alias("t")
        ),
        {"period": "12h", "unit": "1d"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_spilled_summary_equals_in_memory(case, tiny_floor, tmp_path, capsys) -> None:
    shape, kw = CASES[case]
    df = shape(_log(60_000, 5_000, seed=len(case)))
    expected = summarize(df, customer="c", time="t", amount="a", **kw)
    got = _spilled(df.lazy(), tmp_path, capsys, customer="c", time="t", amount="a", **kw)
    assert_frame_equal(got, expected, check_exact=True)
    assert summary_unit(got) == summary_unit(expected)


def test_observation_end_is_the_whole_logs_latest(tiny_floor, tmp_path, capsys) -> None:
    # one customer bought last: every other partition's T must still run to that day
    df = _log(30_000, 3_000, seed=4)
    late = pl.DataFrame({"c": [10**9], "t": [date(2060, 1, 1)], "a": [1.0]})
    df = pl.concat([df, late])
    got = _spilled(df.lazy(), tmp_path, capsys, customer="c", time="t")
    assert_frame_equal(got, summarize(df, customer="c", time="t"), check_exact=True)
    assert got.filter(pl.col("c") == 3)["T"].item() > 3000


def test_partitions_split_again_when_still_too_large(
    tiny_floor, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(_spill, "_MAX_PARTS", 2)  # two partitions of ~400 KB, budget 200 KB
    df = _log(40_000, 4_000, seed=5)
    got = _spilled(df.lazy(), tmp_path, capsys, customer="c", time="t", amount="a")
    assert_frame_equal(got, summarize(df, customer="c", time="t", amount="a"), check_exact=True)


def test_input_that_fits_is_not_spilled(tmp_path, capsys) -> None:
    df = _log(10_000, 1_000)
    with memory_limit("1GB", spill_dir=tmp_path, progress=True):
        got = summarize(df.lazy(), customer="c", time="t", amount="a")
    assert "spilling" not in capsys.readouterr().err
    assert_frame_equal(got, summarize(df, customer="c", time="t", amount="a"))


def test_bad_rows_are_numbered_over_the_whole_input(tiny_floor, tmp_path) -> None:
    df = _log(50_000, 5_000, seed=6).with_row_index("i")
    bad = df.with_columns(
        pl.when(pl.col("i") == 41_234).then(float("nan")).otherwise(pl.col("a")).alias("a")
    ).drop("i")
    with pytest.raises(ValueError, match=r"column 'a': non-finite amount NaN at row 41235;"):
        summarize(
            bad.lazy(), customer="c", time="t", amount="a", memory=200_000, spill_dir=tmp_path
        )
    assert list(tmp_path.iterdir()) == []
    null_t = df.with_columns(
        pl.when(pl.col("i") == 33_000).then(None).otherwise(pl.col("t")).alias("t")
    ).drop("i")
    with pytest.raises(ValueError, match=r"column 't': null time at row 33001; nulls are not"):
        summarize(null_t.lazy(), customer="c", time="t", memory=200_000, spill_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    # a wrong dtype is refused from the schema, before anything is spilled
    with pytest.raises(ValueError, match=r"column 'a': expected numeric amounts, got String"):
        summarize(
            df.lazy().with_columns(pl.col("a").cast(pl.String)),
            customer="c",
            time="t",
            amount="a",
            memory=200_000,
            spill_dir=tmp_path,
        )


def test_no_purchase_in_the_window_says_so(tiny_floor, tmp_path) -> None:
    df = _log(30_000, 3_000)
    with pytest.raises(ValueError, match="no purchases on or before the observation end"):
        summarize(
            df.lazy(),
            customer="c",
            time="t",
            observation_end=date(1990, 1, 1),
            memory=200_000,
            spill_dir=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), ("1.5 GiB", int(1.5 * 2**30)), (10**9, 10**9)],
)
def test_memory_sizes_parse(text, expected) -> None:
    assert _budget.parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "2XB", "0%", "1KB", True])
def test_bad_memory_sizes_are_refused(text) -> None:
    with pytest.raises(ValueError, match="memory"):
        _budget.parse_memory(text)


def test_default_budget_is_half_the_available_memory(monkeypatch) -> None:
    monkeypatch.delenv("TRUENORTH_MEMORY", raising=False)
    monkeypatch.setattr(_budget, "available_memory", lambda: 8 * 10**9)
    assert _budget.current().memory == 4 * 10**9
    monkeypatch.setenv("TRUENORTH_MEMORY", "3GB")
    assert _budget.current().memory == 3 * 10**9
    with memory_limit("1GB"):
        assert _budget.current().memory == 10**9
        assert _budget.current("5GB").memory == 5 * 10**9


# ------------------------------------------------------------------ subprocess: RSS, Ctrl-C

BUDGET = 64 * 10**6
# peaks are the child's own VmHWM (Linux): its ru_maxrss, and so the parent's RUSAGE_CHILDREN,
# starts from the forking parent's RSS (the kernel carries the high-water mark across exec),
# which here holds the generated log
# Polars' streaming engine holds row groups in flight and a write buffer per partition,
# independent of the input's size (measured 250-450 MiB on 2 cores, 20M-60M rows), plus the
# interpreter with Polars and truenorth loaded (~50 MiB)
OVERHEAD = 500 * 2**20
_RUN = textwrap.dedent(
    """
    import json, sys
    import polars as pl
    from truenorth.clv import memory_limit, summarize
    path, memory, out, spill = sys.argv[1:5]
    with memory_limit(memory, spill_dir=spill, progress=True):
        s = summarize(pl.scan_parquet(path), customer="c", time="t", amount="a")
    s.write_parquet(out)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print(json.dumps({"peak": int(hwm.split()[1]) * 1024}))
    """
)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> tuple[Path, int]:
    """12M rows (~240 MB in memory: Int64 ids, Date, Float64), about 4x the budget."""
    path = tmp_path_factory.mktemp("big") / "log.parquet"
    df = _log(12_000_000, 1_000_000, seed=9)
    df.write_parquet(path, row_group_size=500_000)
    return path, df.estimated_size()


def _child(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", _RUN, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status (VmHWM)")
def test_peak_rss_stays_within_budget_plus_overhead(big_log, tmp_path) -> None:
    path, size = big_log
    assert size > 3 * BUDGET
    spill = tmp_path / "spill"
    spill.mkdir()
    res = _child(path, str(BUDGET), tmp_path / "bounded.parquet", spill)
    assert res.returncode == 0, res.stderr
    assert "spilling into" in res.stderr
    bounded_peak = json.loads(res.stdout)["peak"]
    res = _child(path, "16GB", tmp_path / "memory.parquet", spill)
    assert res.returncode == 0, res.stderr
    assert "spilling" not in res.stderr
    memory_peak = json.loads(res.stdout)["peak"]
    assert_frame_equal(
        pl.read_parquet(tmp_path / "bounded.parquet"),
        pl.read_parquet(tmp_path / "memory.parquet"),
        check_exact=True,
    )
    assert list(spill.iterdir()) == []
    mib = 2**20
    print(f"peak RSS: bounded {bounded_peak / mib:.0f} MiB, in memory {memory_peak / mib:.0f} MiB")
    assert bounded_peak < BUDGET + OVERHEAD


def test_ctrl_c_removes_the_spill_folder(big_log, tmp_path) -> None:
    path, _ = big_log
    spill = tmp_path / "spill"
    spill.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(path), str(BUDGET), str(tmp_path / "o.parquet"), spill],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not any(spill.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the summary ended before it could be interrupted"
    assert any(spill.iterdir())  # the spill has started
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert list(spill.iterdir()) == []
    assert not (tmp_path / "o.parquet").exists()


PACK = Path(__file__).resolve().parents[1] / "python" / "truenorth" / "packs" / "clv.yaml"


def test_truenorth_run_memory_spills_the_clv_rules_summary(tiny_floor, tmp_path, capsys) -> None:
    from truenorth.cli import main

    def tables(out: Path) -> dict[str, pl.DataFrame]:
        files = sorted(out.rglob("*.parquet")) + sorted(out.rglob("*.csv"))
        assert files, f"no tables written under {out}"
        return {
            f.name: pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_csv(f) for f in files
        }

    spill = tmp_path / "spill"
    spill.mkdir()
    args = ["run", str(PACK), "--format", "tables"]
    assert main([*args, "--out", str(tmp_path / "mem"), "-q"]) == 0
    capsys.readouterr()
    code = main(
        [*args, "--out", str(tmp_path / "disk"), "--memory", "300KB", "--spill-dir", str(spill)]
    )
    assert code == 0
    assert "spilling into" in capsys.readouterr().err  # progress on stderr without --quiet
    assert list(spill.iterdir()) == []
    mem, disk = tables(tmp_path / "mem"), tables(tmp_path / "disk")
    assert mem.keys() == disk.keys() and any("customers" in k for k in mem)
    # a 300 KB budget is smaller than the customer table: the clv rule says so in a finding
    budget = pl.col("subject") == "memory"
    said = disk["findings.parquet"].filter(budget)
    assert said.height == 1 and "summarize(..., output=...)" in said["message"].item()
    assert mem["findings.parquet"].filter(budget).is_empty()
    disk["findings.parquet"] = disk["findings.parquet"].filter(~budget)
    disk["findings.csv"] = disk["findings.csv"].filter(~budget)
    for name in mem:
        if name.startswith("clv_"):
            # model: auto's backtest tables: fits whose parallel sums may add in another order
            assert_frame_equal(disk[name], mem[name], check_exact=False, rel_tol=1e-9)
        else:
            assert_frame_equal(disk[name], mem[name], check_exact=True)
    assert main([*args, "--out", str(tmp_path / "q"), "-q", "--memory", "300KB"]) == 0
    assert "spilling" not in capsys.readouterr().err  # --quiet silences it
    assert main([*args, "--memory", "lots"]) != 0
    assert "--memory: expected a size" in capsys.readouterr().err
