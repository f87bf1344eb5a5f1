"""QA regressions (issue 9): ``run --out`` killed with SIGKILL, or raced by a second run, never
leaves a folder mixing two runs.

The kill loop runs the real command and kills it at random points: half of the kills land at a
random moment after start, half while the output set is being written (once its staging folder
appears). After every kill the folder must be exactly one published set: every file listed in
its manifest with the right checksum, nothing else, and each report's params those of the run
the manifest names. ``TRUENORTH_KILL_LOOP=N`` runs N iterations (default 8).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import truenorth
from truenorth.io.lock import lock_beside
from truenorth.io.outset import read_manifest, verify

DEMO = Path(truenorth.__file__).parent / "packs" / "engine-demo.yaml"
ITERATIONS = int(os.environ.get("TRUENORTH_KILL_LOOP", "8"))


@pytest.fixture(scope="module")
def customers(tmp_path_factory) -> Path:
    """Enough customers that writing the set takes a while (about 5 MB of reports and tables)."""
    n = 8000
    rng = np.random.default_rng(9)
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    pl.DataFrame(
        {
            "cust_id": [f"C{i}" for i in range(n)],
            "clv": rng.gamma(2.0, 300.0, n).round(2),
            "p_alive": rng.uniform(0, 1, n).round(3),
            "orders": rng.integers(1, 30, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    ).write_csv(path)
    return path


def start(out: Path, customers: Path, high_value: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    args = ["run", str(DEMO), "--out", str(out), "--data", f"customers={customers}"]
    return subprocess.Popen(
        [sys.executable, "-m", "truenorth.cli", *args, "--set", f"high_value={high_value}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def assert_one_complete_set(out: Path) -> str:
    """``out`` is exactly one run's published set; returns that run's id."""
    assert verify(out) == [], verify(out)
    manifest = read_manifest(out)
    assert manifest is not None
    (pack,) = manifest["packs"]
    report = json.loads((out / pack["folder"] / "report.json").read_text())
    assert report["params"] == pack["params"]  # reports and manifest from the same run
    table = pl.read_csv(out / pack["folder"] / "customers.csv")
    gold_below_floor = (table["tier"] == "gold") & (table["clv"] < pack["params"]["high_value"])
    assert not gold_below_floor.any()  # the tables come from that run too
    return manifest["run_id"]


def staged(out: Path) -> bool:
    """Files of the running set are being written (its staging folder is not empty)."""
    for folder in out.parent.glob(f".{out.name}.staging-*"):
        try:
            if any(folder.iterdir()):
                return True
        except OSError:  # removed meanwhile (published, or the old set cleaned up)
            continue
    return False


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_kill_9_at_random_points_never_leaves_a_mixed_set(tmp_path, customers):
    rng = random.Random(os.environ.get("TRUENORTH_KILL_SEED", "9"))
    out = tmp_path / "out"
    first = start(out, customers, 300)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    last_run = assert_one_complete_set(out)
    phases = {"before rules ran": 0, "while rules ran": 0, "while writing": 0, "published": 0}
    for i in range(ITERATIONS):
        proc = start(out, customers, 1000 if i % 2 == 0 else 300)
        if i % 2 == 0:  # at a random moment of the run
            time.sleep(rng.uniform(0.0, 3.0))
        else:  # while the set is written: once files appear in the staging folder
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline and not staged(out):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.3))
        phase = "while writing" if staged(out) else None
        if phase is None and any(".staging-" in name for name in leftovers(out)):
            phase = "while rules ran"
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=60)
        assert code in (0, -signal.SIGKILL), proc.stderr.read()  # a run that ended, ended well
        run = assert_one_complete_set(out)
        phases["published" if run != last_run else phase or "before rules ran"] += 1
        last_run = run
    print(f"\nkill loop: {ITERATIONS} iterations, {phases}")
    assert sum(phases.values()) == ITERATIONS

    # The next run cleans what the killed ones left (staging folders, the lock file).
    final = start(out, customers, 300)
    assert final.wait(timeout=120) == 0, final.stderr.read()
    run = assert_one_complete_set(out)
    assert f"(run {run}," in final.stderr.read()
    assert leftovers(out) == []


def test_a_run_into_a_locked_out_folder_fails_at_once_naming_the_writer(tmp_path, customers):
    out = tmp_path / "out"
    assert start(out, customers, 300).wait(timeout=120) == 0
    before = (out / "_manifest.json").read_text()
    with lock_beside(out):  # as a run in another process holds it
        proc = start(out, customers, 1000)
        assert proc.wait(timeout=120) == 2
        err = proc.stderr.read()
    assert f"another truenorth run (pid {os.getpid()} on " in err and "--out" in err, err
    assert "wrote" not in err and "Traceback" not in err
    assert (out / "_manifest.json").read_text() == before and leftovers(out) == []


def test_two_concurrent_runs_give_one_complete_set(tmp_path, customers):
    out = tmp_path / "out"
    collisions = 0
    for _ in range(2):
        procs = [start(out, customers, hv) for hv in (300, 1000)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        winners = set()
        for code, err in results:
            assert code in (0, 2), err
            if code == 2:
                collisions += 1
                assert "another truenorth run (pid " in err and "wrote" not in err, err
            else:
                winners.add(err.split("(run ", 1)[1].split(",", 1)[0])
        assert assert_one_complete_set(out) in winners
        assert leftovers(out) == []
    print(f"\nconcurrent pairs: 2, refused with the lock error: {collisions}")
