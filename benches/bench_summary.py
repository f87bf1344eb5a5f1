"""Customer summary: truenorth (Rust kernel) vs the pure-Polars reference vs lifetimes.

Synthetic, seeded BG/NBD logs (``synthetic.bgnbd_log``), unsorted unless stated: 1M rows
(~100k customers) and 10M rows (~1M customers); lifetimes runs one round at each size.

Run: ``pytest benches/ --benchmark-only`` (ratios printed at the end).

Measured 2026-11-23 on the shared 2-core dev box, load average 6-8 from other jobs (so absolute
times swing 2-3x between runs; the groups ran side by side in one session), medians, after the
24-byte scatter change (run 2); run 1 (before it) in brackets:

=====================  ===============  ================  ===============  =========  ============
case                   truenorth        Polars reference  lifetimes (1 rd)  vs Polars  vs lifetimes
=====================  ===============  ================  ===============  =========  ============
1M rows, unsorted      0.130 s [0.150]   0.647 s [1.48]   0.880 s [3.22]   5.0x [9.9]  6.8x [21.5]
10M rows, unsorted     1.33 s [2.01]     20.9 s [12.6]    17.5 s [30.7]   15.7x [6.2] 13.2x [15.3]
10M rows, sorted       0.601 s [0.487]   15.8 s [7.60]          -         26.3x [15.6]      -
=====================  ===============  ================  ===============  =========  ============

CPU time (``time.process_time``, quieter than wall time here) at 1M rows: truenorth ~0.09 s,
Polars reference ~0.7 s, lifetimes ~1.0-1.2 s. The >= 50x-vs-lifetimes target is NOT met:
lifetimes 0.11.3 on pandas 3 is far faster than the target assumed.

Peak memory of summarize at 10M rows (fresh process, VmHWM reset before the call; the frame is
read from Parquet, so each column has 81 chunks): input frame 191 MiB (``estimated_size``).

- Before the grouped scatter: RSS 274-285 MiB before, peak +481..493 MiB. Where it went: 194 MiB
  Python-side rechunk of the three columns (the kernel took one chunk only), then the kernel's
  scattered copy of every row (24 B/row = 229 MiB) with the per-partition customers (64 B each,
  61 MiB) alive beside it; sorting and output assembly (~120 MiB) stayed below that.
- After (kernel reads aligned chunks in place; partitions scattered group by group into a reused
  64 MiB buffer, 1 B/row of partition ids; customers gathered in key order after the buffer is
  freed): RSS ~280 MiB before, peak +147..162 MiB (+152 in this test). String keys: +72..86 MiB
  (was +556..562). With an unbounded buffer the same code peaks at +354 MiB.

Grouped scatter vs main, 2026-11-23, A/B in one process (main's ``_core`` .so and summary.py
loaded beside this branch's, calls alternating, medians of 7 runs; 2-core box shared with other
agents, load 5-8, so wall times are noisy — CPU time is the steadier figure), wall / CPU seconds:

==========================  ==============  ==============  ===============
case                        main            grouped         ratio wall/CPU
==========================  ==============  ==============  ===============
1M int keys                 0.091 / 0.062   0.092 / 0.070   1.01 / 1.12 [*]
1M string keys              0.394 / 0.249   0.336 / 0.213   0.85 / 0.86
1M Datetime[us]             0.083 / 0.062   0.083 / 0.065   1.00 / 1.04 [*]
10M int keys                1.99 / 1.16     1.68 / 1.09     0.84 / 0.93
10M string keys             6.97 / 4.09     6.09 / 3.59     0.87 / 0.88
10M int, Parquet chunks     2.45 / 1.20     1.93 / 1.13     0.79 / 0.94
10M sorted                  0.432 / 0.266   0.376 / 0.260   0.87 / 0.98
==========================  ==============  ==============  ===============

[*] a 25-run rerun of the 1M cases gave CPU ratios 1.02 (int) and 0.96 (Datetime): parity.

Kernel-returned keys and first/last times vs main (a6e72b3), 2026-11-23 23:32 UTC, same A/B
(``/work/scratch-summary/ab.py 7``: main's ``_core`` .so + summary.py beside this branch's,
alternating calls, medians of 7; load ~1.6-2.5), wall / CPU seconds. Integer keys and times
without a zone now come back from the kernel (Python only reinterprets dtypes) instead of
three Polars gathers by row, which are slow on chunked frames:

==========================  ==============  ==============  ===============
case                        main            this branch     ratio wall/CPU
==========================  ==============  ==============  ===============
1M int keys                 0.052 / 0.085   0.046 / 0.079   0.88 / 0.94
1M string keys              0.141 / 0.247   0.144 / 0.272   1.02 / 1.10 [+]
1M Datetime[us]             0.053 / 0.077   0.045 / 0.075   0.85 / 0.98
10M int keys                0.663 / 1.085   0.655 / 1.071   0.99 / 0.99
10M string keys             2.32 / 4.16     2.37 / 4.29     1.02 / 1.03 [+]
10M int, Parquet chunks     1.061 / 1.491   0.724 / 1.167   0.68 / 0.78
10M sorted                  0.271 / 0.356   0.290 / 0.373   1.07 / 1.05 [+]
==========================  ==============  ==============  ===============

[+] string keys still gather in Polars (unchanged path, plus an unused key vector in the
kernel); reruns of the same build gave 1M string keys 0.91 / 0.94 and 10M sorted 1.03 / 1.00
(11 runs) and 0.88 / 0.89 (9 runs), 10M int 0.93 / 0.97: within the box's run-to-run noise. Peak memory at 10M rows (``mem.py``, Parquet,
81 chunks): +157 MiB main, +157 MiB this branch (string keys +78 / +81 MiB).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from truenorth.clv import summarize
from truenorth.clv._reference import reference_summary

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import bgnbd_log, to_pandas

KW = {"customer": "customer_id", "time": "ts", "amount": "amount"}


@pytest.fixture(scope="module")
def log_1m() -> pl.DataFrame:
    return bgnbd_log(1_000_000, seed=1)


@pytest.fixture(scope="module")
def log_10m() -> pl.DataFrame:
    return bgnbd_log(10_000_000, seed=2)


@pytest.mark.benchmark(group="summary-1M-unsorted")
def test_truenorth_1m(benchmark, log_1m) -> None:
    out = benchmark(summarize, log_1m, **KW)
    assert out.height == log_1m["customer_id"].n_unique()


@pytest.mark.benchmark(group="summary-1M-unsorted")
def test_polars_reference_1m(benchmark, log_1m) -> None:
    benchmark(reference_summary, log_1m, **KW)


@pytest.mark.benchmark(group="summary-1M-unsorted")
def test_lifetimes_1m(benchmark, log_1m) -> None:
    _lifetimes_summary(benchmark, log_1m)


def _lifetimes_summary(benchmark, log: pl.DataFrame) -> None:
    utils = pytest.importorskip("lifetimes.utils")
    pdf = to_pandas(log)
    pdf["ts"] = pdf["ts"].astype("datetime64[ns]")
    benchmark.pedantic(
        utils.summary_data_from_transaction_data,
        args=(pdf, "customer_id", "ts"),
        kwargs={"monetary_value_col": "amount", "freq": "D"},
        rounds=1,
        iterations=1,
    )


@pytest.mark.benchmark(group="summary-10M-unsorted")
def test_lifetimes_10m(benchmark, log_10m) -> None:
    """One round only (tens of seconds)."""
    _lifetimes_summary(benchmark, log_10m)


@pytest.mark.benchmark(group="summary-10M-unsorted")
def test_truenorth_10m(benchmark, log_10m) -> None:
    out = benchmark.pedantic(summarize, args=(log_10m,), kwargs=KW, rounds=3, iterations=1)
    assert out.height == log_10m["customer_id"].n_unique()


@pytest.mark.benchmark(group="summary-10M-unsorted")
def test_polars_reference_10m(benchmark, log_10m) -> None:
    benchmark.pedantic(reference_summary, args=(log_10m,), kwargs=KW, rounds=3, iterations=1)


@pytest.fixture(scope="module")
def sorted_10m(log_10m) -> pl.DataFrame:
    return log_10m.sort("customer_id", "ts")


@pytest.mark.benchmark(group="summary-10M-sorted")
def test_truenorth_10m_sorted(benchmark, sorted_10m) -> None:
    benchmark.pedantic(summarize, args=(sorted_10m,), kwargs=KW, rounds=3, iterations=1)


@pytest.mark.benchmark(group="summary-10M-sorted")
def test_polars_reference_10m_sorted(benchmark, sorted_10m) -> None:
    benchmark.pedantic(reference_summary, args=(sorted_10m,), kwargs=KW, rounds=3, iterations=1)


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import polars as pl
    from truenorth.clv import summarize

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    df = pl.read_parquet(sys.argv[1])
    size = df.estimated_size()
    rss_before = status("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM to the current RSS
    out = summarize(df, customer="customer_id", time="ts", amount="amount")
    peak = status("VmHWM:")
    print(json.dumps({"input_bytes": size, "rss_before": rss_before, "peak": peak,
                      "output_bytes": out.estimated_size()}))
    """
)


@pytest.mark.benchmark(group="summary-10M-memory")
def test_truenorth_10m_peak_memory(benchmark, log_10m, tmp_path_factory) -> None:
    """Peak RSS of summarize at 10M rows, measured in a fresh process (Rust allocations are
    invisible to tracemalloc): VmHWM is reset just before the call."""
    path = tmp_path_factory.mktemp("mem") / "log.parquet"
    log_10m.write_parquet(path)

    def run() -> dict:
        res = subprocess.run(
            [sys.executable, "-c", _MEMORY_SCRIPT, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(res.stdout)

    info = benchmark.pedantic(run, rounds=1, iterations=1)
    mib = 1024 * 1024
    benchmark.extra_info.update(
        {
            "input_MiB": round(info["input_bytes"] / mib),
            "rss_before_MiB": round(info["rss_before"] / mib),
            "peak_MiB": round(info["peak"] / mib),
            "extra_over_rss_MiB": round((info["peak"] - info["rss_before"]) / mib),
            "output_MiB": round(info["output_bytes"] / mib),
        }
    )
