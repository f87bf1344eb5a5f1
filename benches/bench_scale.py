"""One machine at scale: the customer summary of a generated Parquet log, wall time and peak
RSS of each contender in its own process, side by side on the same file.

Contenders (every one reads the Parquet file itself):

- ``truenorth-memory``: ``summarize(pl.scan_parquet(f), memory="1TB")``: the input is read
  into memory (as the batches of one scan) and summarised in one kernel call.
- ``truenorth-spill``: the same call with ``memory=SCALE_BUDGET`` (default 1GB): partitions
  by customer hash on disk, summarised one by one (see ``truenorth/clv/_spill.py``).
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
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import bgnbd_log

ROWS_TEXT = os.environ.get("TRUENORTH_BENCH_SCALE", "2M")
ROWS = int(float(ROWS_TEXT.rstrip("M")) * 1_000_000) if ROWS_TEXT.endswith("M") else int(ROWS_TEXT)
BUDGET = os.environ.get("SCALE_BUDGET", "1GB")
BLOCK = min(ROWS, 10_000_000)

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[3])
    import polars as pl
    path, who = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    if who.startswith("truenorth"):
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
    wall = time.perf_counter() - t0
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print(json.dumps({"wall": wall, "peak": int(hwm.split()[1]) * 1024, "customers": out.height,
                      "revenue": float(out["revenue"].sum())}))
    """
)

CONTENDERS = ["truenorth-memory", "truenorth-spill", "duckdb", "polars-streaming"]


@pytest.fixture(scope="module")
def log_file() -> Path:
    root = Path(os.environ.get("TRUENORTH_BENCH_DIR", tempfile.gettempdir()))
    path = root / f"truenorth-scale-{ROWS}.parquet"
    if not path.exists():
        base = bgnbd_log(BLOCK, seed=7)
        stride = int(base["customer_id"].max()) + 1  # type: ignore[arg-type]
        copies = -(-ROWS // BLOCK)
        parts = [
            base.lazy().with_columns(pl.col("customer_id") + i * stride) for i in range(copies)
        ]
        tmp = path.with_suffix(".tmp")
        pl.concat(parts).head(ROWS).sink_parquet(tmp, row_group_size=1_000_000)
        tmp.rename(path)
    return path


@pytest.mark.parametrize("who", CONTENDERS)
def test_scale(benchmark, log_file: Path, who: str) -> None:
    if who == "duckdb":
        pytest.importorskip("duckdb")
    benchmark.group = f"summary-scale-{ROWS_TEXT}"

    def run() -> dict:
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, str(log_file), who, str(Path(__file__).parent), BUDGET],
            capture_output=True,
            text=True,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])  # DuckDB may print before it

    info = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(
        {"wall_s": round(info["wall"], 2), "peak_MiB": round(info["peak"] / 2**20)}
    )
    print(
        f"\n{ROWS_TEXT} rows  {who:<18} {info['wall']:8.1f} s  {info['peak'] / 2**20:8.0f} MiB"
        f"  ({info['customers']:,} customers, load {os.getloadavg()[0]:.1f})"
    )
    assert info["customers"] > 0
