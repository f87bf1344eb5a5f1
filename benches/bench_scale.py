"""One machine at scale: the customer summary of a generated Parquet log, wall time and peak
RSS of each contender in its own process, side by side on the same file.

Contenders (every one reads the Parquet file itself):

- ``truenorth-memory``: ``summarize(pl.scan_parquet(f), memory="1TB")``: the input is read
  into memory (as the batches of one scan) and summarised in one kernel call.
- ``truenorth-spill``: the same call with ``memory=SCALE_BUDGET`` (default 1GB): partitions
  by customer hash on disk, summarised one by one (see ``truenorth/clv/_spill.py``).
- ``truenorth-output``: the spilling call with ``output=`` a Parquet file in the bench
  folder (a result larger than the budget is written range by range, never held), then a
  BG/NBD fitted from ``clv.patterns`` of the returned scan: the bounded-memory path end to end.
- ``duckdb``: ``peers_summary.SQL`` over ``read_parquet(f)`` (DuckDB streams and spills by
  itself), result as Polars.
- ``polars-streaming``: ``peers_summary.two_level`` on ``pl.scan_parquet(f)`` with the
  streaming engine (the fastest Polars formulation at 10M rows for general keys).

Sizes: ``TRUENORTH_BENCH_SCALE`` rows (``2M`` by default, so a plain
``pytest benches/ --benchmark-only`` stays quick; ``100M`` / ``500M`` for the real thing). The
log is ``synthetic.bgnbd_log`` at 10M rows (or fewer) repeated with shifted customer ids
(~1 customer per 10 rows), written once to ``TRUENORTH_BENCH_DIR`` (default the system temp
folder) and reused. Peak RSS is the child's ``VmHWM`` (Linux), which, unlike ``ru_maxrss``,
does not inherit the parent's high-water mark across ``exec``.

Run: ``TRUENORTH_BENCH_SCALE=100M pytest benches/bench_scale.py --benchmark-only -s``;
each group prints ``contender  wall s  peak MiB`` lines. Results: ``benches/RESULTS_scale.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import bgnbd_log

ROWS_TEXT = os.environ.get("TRUENORTH_BENCH_SCALE", "2M")
ROWS = int(float(ROWS_TEXT.rstrip("M")) * 1_000_000) if ROWS_TEXT.endswith("M") else int(ROWS_TEXT)
BUDGET = os.environ.get("SCALE_BUDGET", "1GB")

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[3])
    import polars as pl
    path, who = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    if who == "truenorth-output":
        from truenorth import clv
        lazy = clv.summarize(pl.scan_parquet(path), customer="customer_id", time="ts",
                             amount="amount", memory=sys.argv[4],
                             output=path + ".summary.parquet")
        clv.BetaGeo().fit(clv.patterns(lazy), "weights")
        n, revenue = lazy.select(pl.len(), pl.col("revenue").sum()).collect().row(0)
    elif who.startswith("truenorth"):
        from truenorth.clv import summarize
        memory = "1TB" if who == "truenorth-memory" else sys.argv[4]
        out = summarize(pl.scan_parquet(path), customer="customer_id", time="ts",
                        amount="amount", memory=memory)
    elif who == "duckdb":
        import duckdb
        import peers_summary as peers
        sql = peers.SQL.replace("FROM df", f"FROM read_parquet('{path}')")
        out = duckdb.connect().sql(sql).pl()
    else:
        import peers_summary as peers
        out = peers.two_level(pl.scan_parquet(path), engine="streaming")
    if who != "truenorth-output":
        n, revenue = out.height, float(out["revenue"].sum())
    wall = time.perf_counter() - t0
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print(json.dumps({"wall": wall, "peak": int(hwm.split()[1]) * 1024, "customers": n,
                      "revenue": revenue}))
    """
)

# a contender whose RSS passes this is stopped (the box is shared: an engine that would need
# more than the machine's memory must not take the others down with it) and reported as such
CAP = int(float(os.environ.get("SCALE_RSS_CAP_GB", "12")) * 2**30)


def _run_capped(cmd: list[str]) -> dict:
    """The child's JSON line, or ``{"capped": True, "wall": s}`` if its RSS passed ``CAP``."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                rss = next(line for line in status.read_text().splitlines() if "VmRSS" in line)
            except (OSError, StopIteration):
                rss = "VmRSS: 0 kB"
            if int(rss.split()[1]) * 1024 > CAP:
                proc.kill()
                proc.wait()
                return {"capped": True, "wall": time.perf_counter() - t0}
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        assert proc.returncode == 0, err.read()
        return json.loads(out.read().strip().splitlines()[-1])  # DuckDB may print before it


CONTENDERS = [
    "truenorth-memory",
    "truenorth-spill",
    "truenorth-output",
    "duckdb",
    "polars-streaming",
]


def write_log(rows: int, root: Path) -> Path:
    """The generated log of ``rows`` rows under ``root`` (written once, then reused)."""
    path = root / f"truenorth-scale-{rows}.parquet"
    if not path.exists():
        block = min(rows, 10_000_000)
        base = bgnbd_log(block, seed=7)
        stride = int(base["customer_id"].max()) + 1  # type: ignore[arg-type]
        copies = -(-rows // block)
        parts = [
            base.lazy().with_columns(pl.col("customer_id") + i * stride) for i in range(copies)
        ]
        tmp = path.with_suffix(".tmp")
        pl.concat(parts).head(rows).sink_parquet(tmp, row_group_size=1_000_000)
        tmp.rename(path)
    return path


@pytest.fixture(scope="module")
def log_file() -> Path:
    return write_log(ROWS, Path(os.environ.get("TRUENORTH_BENCH_DIR", tempfile.gettempdir())))


@pytest.mark.parametrize("who", CONTENDERS)
def test_scale(benchmark, log_file: Path, who: str) -> None:
    if who == "duckdb":
        pytest.importorskip("duckdb")
    benchmark.group = f"summary-scale-{ROWS_TEXT}"

    def run() -> dict:
        return _run_capped(
            [sys.executable, "-c", _CHILD, str(log_file), who, str(Path(__file__).parent), BUDGET]
        )

    info = benchmark.pedantic(run, rounds=1, iterations=1)
    if "capped" in info:
        print(
            f"\n{ROWS_TEXT} rows  {who:<18} killed after {info['wall']:.1f} s: RSS above the "
            f"cap of {CAP / 2**30:.0f} GiB (load {os.getloadavg()[0]:.1f})"
        )
        return
    benchmark.extra_info.update(
        {"wall_s": round(info["wall"], 2), "peak_MiB": round(info["peak"] / 2**20)}
    )
    print(
        f"\n{ROWS_TEXT} rows  {who:<18} {info['wall']:8.1f} s  {info['peak'] / 2**20:8.0f} MiB"
        f"  ({info['customers']:,} customers, load {os.getloadavg()[0]:.1f})"
    )
    assert info["customers"] > 0
