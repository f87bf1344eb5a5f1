"""String customer ids: truenorth before/after a kernel change vs the best Polars and DuckDB
formulations, side by side in one process (calls interleaved, best of N rounds, CPU and wall).

``python benches/ab_string_keys.py OLD_CORE_SO [rounds_1M rounds_10M]``: ``OLD_CORE_SO`` is a
``_core`` extension built from the baseline commit; "after" is the one on ``PYTHONPATH``. Keys
are ``"C<id>"`` (``synthetic.bgnbd_log``, as ``bench_summary.py``'s ``-str`` cases); every
result is checked equal to truenorth's. Prints one line per case and contender, then the ratio
best peer / truenorth for before and after, worst first: by CPU against the peer with the least
CPU time, by wall against the peer with the least wall time (they can differ: Polars' streaming
engine trades CPU for wall on two cores). The load average is printed before and after: wall
ratios are only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import time
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

sys.path.insert(0, str(Path(__file__).parent))
import duckdb

import peers_summary as peers
from synthetic import bgnbd_log
from truenorth.clv import summarize
from truenorth.clv import summary as summary_mod

KW = {"customer": "customer_id", "time": "ts", "amount": "amount"}
PEERS = {
    "unsorted": ["two_level", "two_level_streaming", "one_level_streaming"],
    "sorted": ["sorted_scan", "sorted_scan_streaming", "one_level_streaming"],
}


def _load_old(path: str):
    loader = importlib.machinery.ExtensionFileLoader("tn_before._core", path)
    spec = importlib.util.spec_from_file_location("tn_before._core", path, loader=loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main() -> None:
    old = _load_old(sys.argv[1])
    new = summary_mod._core
    rounds = {"1M": int(sys.argv[2]) if len(sys.argv) > 2 else 5}
    rounds["10M"] = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    con = duckdb.connect()
    ratios = []
    load_before = os.getloadavg()
    for size, n in (("1M", 1_000_000), ("10M", 10_000_000)):
        base = bgnbd_log(n, seed=1 if size == "1M" else 2)
        base = base.with_columns(pl.format("C{}", "customer_id").alias("customer_id"))
        for order in ("unsorted", "sorted"):
            df = base.sort("customer_id", "ts") if order == "sorted" else base
            expected = summarize(df, **KW)

            def tn(core, df=df):
                def run():
                    summary_mod._core = core
                    try:
                        return summarize(df, **KW)
                    finally:
                        summary_mod._core = new

                return run

            calls = {
                "before": tn(old),
                "after": tn(new),
                "duckdb": lambda df=df: peers.duckdb_summary(df, con),
            }
            for v in PEERS[order]:
                calls[f"polars:{v}"] = lambda v=v, df=df: peers.VARIANTS[v](df)
            best = {k: [1e9, 1e9] for k in calls}
            for _ in range(rounds[size]):
                for name, f in calls.items():
                    c, w = time.process_time(), time.perf_counter()
                    out = f()
                    c, w = time.process_time() - c, time.perf_counter() - w
                    best[name] = [min(best[name][0], c), min(best[name][1], w)]
                    assert_frame_equal(out, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
            others = [k for k in best if k not in ("before", "after")]
            peer = [min(others, key=lambda k, i=i: best[k][i]) for i in (0, 1)]
            case = f"{size}-str-{order}"
            for name, (c, w) in best.items():
                print(f"{case:<16} {name:<28} cpu {c:7.3f} s  wall {w:7.3f} s", flush=True)
            r = [best[peer[i]][i] / best[who][i] for who in ("before", "after") for i in (0, 1)]
            ratios.append((case, " / ".join(dict.fromkeys(peer)), *r))
    print(f"\nload before {load_before}, after {os.getloadavg()}, {os.cpu_count()} cores")
    print("ratio = best peer / truenorth: CPU (peer with least CPU) / wall (least wall)")
    print(
        f"{'case':<16} {'best peer cpu / wall':<44} {'before cpu/wall':>16} {'after cpu/wall':>16}"
    )
    for case, peer, bc, bw, ac, aw in sorted(ratios, key=lambda r: min(r[4], r[5])):
        print(f"{case:<16} {peer:<44} {bc:7.2f} / {bw:5.2f}   {ac:7.2f} / {aw:5.2f}")


if __name__ == "__main__":
    main()
