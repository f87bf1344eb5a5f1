"""Customer summary: truenorth (Rust kernel) vs the strongest peers we can write.

Peers, side by side in one run, each group one case:

- ``polars:<variant>``: hand-tuned pure Polars (``peers_summary.VARIANTS``: two-level and
  one-level group-bys, packed Int64 keys for integer ids, a shift/forward-fill scan for
  sorted input; default, streaming and in-memory engines). The headline is the fastest.
- ``duckdb``: DuckDB SQL over the same Polars frame (``peers_summary.SQL``), back as Polars.
- ``reference``: the project's own pure-Polars reference (``truenorth.clv._reference``),
  1M rows only; ``lifetimes``: ``summary_data_from_transaction_data``, integer keys,
  unsorted, one round.

Every Polars, DuckDB and reference result is checked equal to truenorth's (integers and dates
exactly, floats to 1e-9) on the output of the timed call itself.

Cases: seeded synthetic BG/NBD logs (``synthetic.bgnbd_log``: 1M rows / ~100k customers and
10M rows / ~1M customers, ``Date`` times over two years), integer ids (non-contiguous Int64)
and string ids (``"C<id>"``), shuffled or sorted by (customer, time). 1M cases: 5 rounds
(reference 3); 10M cases: one round each.

Run: ``pytest benches/bench_summary.py --benchmark-only -s`` (the conftest prints each
group's ratios, worst first, and writes ``benches/results_ratios.json``). String ids only:
add ``-k str``; CPU instead of wall time: ``--benchmark-timer=time.process_time``. For a
before/after of a kernel change on string ids, interleaved in one process, see
``ab_string_keys.py``. Results and history:
README "Benchmarks", ``benches/RESULTS_peers.md``, ``benches/RESULTS_summary.md``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from truenorth.clv import summarize
from truenorth.clv._reference import reference_summary

sys.path.insert(0, str(Path(__file__).parent))
import peers_summary as peers
from synthetic import bgnbd_log, to_pandas

KW = {"customer": "customer_id", "time": "ts", "amount": "amount"}
SIZES = {"1M": 1_000_000, "10M": 10_000_000}
# at 10M, only the formulations that were within reach at 1M (the others lost by 2x or more)
CONTENDERS_10M = {
    "two_level",
    "two_level_streaming",
    "one_level_streaming",
    "packed_int",
    "packed_int_streaming",
    "sorted_scan",
    "sorted_scan_streaming",
}


def _peers(size: str, keys: str, order: str) -> list[str]:
    names = ["truenorth"]
    variants = [v for v in peers.VARIANTS if size == "1M" or v in CONTENDERS_10M]
    names += [f"polars:{v}" for v in variants if _applies(v, keys, order)]
    names.append("duckdb")
    if size == "1M":
        names.append("reference")
    if keys == "int" and order == "unsorted":
        names.append("lifetimes")
    return names


def _applies(variant: str, keys: str, order: str) -> bool:
    if variant.startswith("packed_int"):
        return keys == "int"
    if variant.startswith("sorted_scan"):
        return order == "sorted"
    return True


CASES = [
    (size, keys, order, peer)
    for size in SIZES
    for keys in ("int", "str")
    for order in ("unsorted", "sorted")
    for peer in _peers(size, keys, order)
]

_FRAMES: dict[tuple[str, str, str], pl.DataFrame] = {}
_EXPECTED: dict[tuple[str, str, str], pl.DataFrame] = {}


def _frame(size: str, keys: str, order: str) -> pl.DataFrame:
    """The case's log; frames of the other size are dropped first (10M frames are large)."""
    key = (size, keys, order)
    if key not in _FRAMES:
        for k in [k for k in _FRAMES if k[0] != size]:
            del _FRAMES[k]
            _EXPECTED.pop(k, None)
        base = _FRAMES.get((size, "int", "unsorted"))
        if base is None:
            base = _FRAMES[(size, "int", "unsorted")] = bgnbd_log(
                SIZES[size], seed=1 if size == "1M" else 2
            )
        df = base
        if keys == "str":
            df = df.with_columns(pl.format("C{}", "customer_id").alias("customer_id"))
        if order == "sorted":
            df = df.sort("customer_id", "ts")
        _FRAMES[key] = df
    return _FRAMES[key]


def _expected(size: str, keys: str, order: str) -> pl.DataFrame:
    key = (size, keys, order)
    if key not in _EXPECTED:
        _EXPECTED[key] = summarize(_frame(*key), **KW)
    return _EXPECTED[key]


_DUCK: list = []  # one connection for all DuckDB runs, made on first use


def _duckdb(log: pl.DataFrame):
    if not _DUCK:
        # in the test extra; the legacy peer environment (README "Benchmarks") has no DuckDB
        _DUCK.append(pytest.importorskip("duckdb").connect())
    return lambda: peers.duckdb_summary(log, _DUCK[0])


def _lifetimes(log: pl.DataFrame):
    utils = pytest.importorskip("lifetimes.utils")
    pdf = to_pandas(log)
    pdf["ts"] = pdf["ts"].astype("datetime64[ns]")

    def run():
        return utils.summary_data_from_transaction_data(
            pdf, "customer_id", "ts", monetary_value_col="amount", freq="D"
        )

    return run


def _callable(peer: str, log: pl.DataFrame):
    if peer == "truenorth":
        return lambda: summarize(log, **KW)
    if peer == "duckdb":
        return _duckdb(log)
    if peer == "reference":
        return lambda: reference_summary(log, **KW)
    if peer == "lifetimes":
        return _lifetimes(log)
    variant = peers.VARIANTS[peer.removeprefix("polars:")]
    return lambda: variant(log)


@pytest.mark.parametrize(("size", "keys", "order", "peer"), CASES, ids=["-".join(c) for c in CASES])
def test_summary(benchmark, size: str, keys: str, order: str, peer: str) -> None:
    log = _frame(size, keys, order)
    expected = _expected(size, keys, order)
    benchmark.group = f"summary-{size}-{keys}-{order}"
    rounds = 1 if size == "10M" or peer == "lifetimes" else 3 if peer == "reference" else 5
    out = benchmark.pedantic(_callable(peer, log), rounds=rounds, iterations=1)
    if peer == "lifetimes":
        assert len(out) == expected.height
        return
    assert_frame_equal(out, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


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
def test_truenorth_10m_peak_memory(benchmark, tmp_path_factory) -> None:
    """Peak RSS of summarize at 10M rows, measured in a fresh process (Rust allocations are
    invisible to tracemalloc): VmHWM is reset just before the call."""
    path = tmp_path_factory.mktemp("mem") / "log.parquet"
    _frame("10M", "int", "unsorted").write_parquet(path)

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
