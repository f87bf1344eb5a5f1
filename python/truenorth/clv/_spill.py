"""Summaries of lazy inputs within a memory budget: read in batches while the input fits,
otherwise route rows by customer hash into on-disk partitions and summarise one at a time.

Why this shape:

- **One pass when it fits.** The scan is read batch by batch (``collect_batches``) into
  memory; if the batches end within the budget they are the kernel's input (aligned chunks,
  no copy), so an input that fits costs what ``collect()`` did. Only when the accumulated size
  crosses the budget is the scan restarted as a spill: re-reading at most one budget's worth
  of rows is cheaper than counting every input first (a full pass for a filtered plan).
- **Partitions by customer hash** (Polars' streaming ``sink_ipc`` with ``PartitionBy``: Arrow
  IPC, uncompressed, multi-threaded, order kept within a partition). Every row of a customer
  lands in one partition, so a partition's summary is final and the output is the
  concatenation, re-sorted by key. Rows keep their input order within a partition, so sums
  run in the same order and results are bit-identical to the in-memory path.
- **Sizing**: partitions aim at a third of the budget (hash skew, the kernel's extras); one
  that still does not fit is split again with another hash seed (at most
  :data:`_MAX_LEVEL` levels: a single customer with more rows than the budget cannot be split
  and is summarised in memory).
- **Memory model** of the in-memory path, from the kernel's measurements (benches/
  RESULTS_summary.md): the input, plus 1 byte per row, the 64 MiB scatter scratch, and ~250
  bytes per customer for the kernel's customer vectors and the output columns. Customers are
  unknown before the summary, so :func:`fits` budgets the worst realistic case, input x 2 +
  scratch.
- **The output** (~64 bytes a customer) is the one thing that grows with customers: each
  partition's summary is written next to the partitions (Arrow IPC) instead of being held
  while later partitions run, and the result is assembled column by column in key order (the
  result + one column + a 4-byte order per customer), not by sorting a concatenation, which
  held it twice. Measured at 100M rows / 10M customers, budget 1 GB: peak RSS 2.2 GB before,
  0.88 GB after (benches/RESULTS_scale.md). A result larger than the budget is written to a
  Parquet file range by range instead when an ``output`` is given (``_assemble``).
- The default observation end is the latest purchase of the whole input (not of a
  partition): it is read from the spilled time columns (memory-mapped IPC) before the first
  partition is summarised.
- Temporary folders (``truenorth-spill-*`` under the configured directory, default the
  system's temp dir) are removed on success, error and Ctrl-C (``KeyboardInterrupt`` unwinds
  through ``finally``); each partition's files go as soon as it is summarised.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from . import _assemble
from ._budget import Limits

__all__ = ["fits", "locate_bad_row", "summarize_lazy"]

# rows per batch while reading into memory: ~5 MB at 20 bytes a row; finer than any sensible
# budget, coarse enough that the per-batch cost is invisible (200k and 1M row batches timed
# alike on 20M rows)
_BATCH_ROWS = 1 << 18
_SCRATCH = 64 * 2**20  # the kernel's scatter scratch (kernel.rs DEFAULT_SCRATCH_BYTES)
_MAX_LEVEL = 3
_MAX_PARTS = 512
_PART = "__truenorth_part"

Run = Callable[[pl.DataFrame, Any], "pl.DataFrame | None"]


def fits(input_bytes: int, budget: int) -> bool:
    """Whether the in-memory summary of an input of this size stays within ``budget``."""
    return 2 * input_bytes + min(_SCRATCH, input_bytes) <= budget


def _say(limits: Limits, text: str) -> None:
    if limits.progress:
        print(f"truenorth: {text}", file=sys.stderr, flush=True)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def summarize_lazy(
    lf: pl.LazyFrame,
    *,
    customer: str,
    time: str,
    limits: Limits,
    run: Run,
    observation_end: Any,
    level: int = 0,
    where: Path | None = None,
    output: Path | None = None,
) -> pl.DataFrame | pl.LazyFrame | None:
    """The summary of ``lf`` (already narrowed to the summary's columns) by ``run(frame,
    observation_end)``, in memory if it fits ``limits.memory``, else partition by partition.
    ``None`` when no partition has a customer (``run`` returned ``None`` everywhere). With
    ``output`` (level 0 only), a spilled summary is written there (Parquet) and a scan of it
    is returned, never the whole result in memory; the in-memory path returns its frame."""
    batches: list[pl.DataFrame] = []
    size = 0
    spill = False
    stream = lf.collect_batches(chunk_size=_BATCH_ROWS)
    for batch in stream:
        batches.append(batch)
        size += int(batch.estimated_size())
        if not fits(size, limits.memory) and level < _MAX_LEVEL:
            spill = True
            break
    if not spill:
        df = pl.concat(batches, rechunk=False) if batches else lf.clear().collect()
        del batches
        return run(df, observation_end)
    rows = sum(b.height for b in batches)
    del batches, stream
    per_row = size / max(rows, 1)
    total = pl.LazyFrame.select(lf, pl.len()).collect().item()
    return _spilled(
        lf,
        customer=customer,
        time=time,
        limits=limits,
        run=run,
        observation_end=observation_end,
        level=level,
        where=where,
        est_bytes=total * per_row,
        rows=total,
        output=output,
    )


def _spilled(
    lf: pl.LazyFrame,
    *,
    customer: str,
    time: str,
    limits: Limits,
    run: Run,
    observation_end: Any,
    level: int,
    where: Path | None,
    est_bytes: float,
    rows: int,
    output: Path | None = None,
) -> pl.DataFrame | pl.LazyFrame | None:
    # the largest input that fits, and partitions at 70% of it (hash skew): more, smaller
    # partitions cost sink memory (a write buffer each: 8 -> 64 partitions of 60M rows
    # measured 373 -> 487 MiB peak), and one that ends up too large is split again anyway
    largest = (
        (limits.memory - _SCRATCH) // 2 if limits.memory > 3 * _SCRATCH else limits.memory // 3
    )
    parts = min(max(2, math.ceil(est_bytes / (0.7 * largest))), _MAX_PARTS)
    if level == 0:
        root = Path(tempfile.mkdtemp(prefix="truenorth-spill-", dir=limits.spill_dir))
    else:
        assert where is not None
        root = where / f"split{level}"
    try:
        t0 = _time.perf_counter()
        _say(
            limits,
            f"{rows:,} rows (~{_mb(est_bytes)}) exceed the memory budget of "
            f"{_mb(limits.memory)}: spilling into {parts} partitions under {root}",
        )
        part = (pl.col(customer).hash(seed=1 + level) % parts).alias(_PART)
        lf.with_columns(part).sink_ipc(
            pl.PartitionBy(root, key=_PART, include_key=False), mkdir=True
        )
        dirs = sorted(d for d in root.iterdir() if d.is_dir())
        _say(limits, f"spilled in {_time.perf_counter() - t0:.1f} s; summarising partitions")
        if observation_end is None:
            files = [f for d in dirs for f in sorted(d.glob("*.ipc"))]
            observation_end = pl.scan_ipc(files).select(pl.col(time).max()).collect().item()
        outs: list[Path] = []
        for i, d in enumerate(dirs, 1):
            files = sorted(d.glob("*.ipc"))
            nbytes = sum(f.stat().st_size for f in files)
            scan = pl.scan_ipc(files)
            out: pl.DataFrame | pl.LazyFrame | None
            if fits(nbytes, limits.memory) or level + 1 >= _MAX_LEVEL:
                out = run(scan.collect(), observation_end)
            else:
                out = summarize_lazy(
                    scan,
                    customer=customer,
                    time=time,
                    limits=limits,
                    run=run,
                    observation_end=observation_end,
                    level=level + 1,
                    where=d,
                )
            del scan
            _remove(d)
            assert not isinstance(out, pl.LazyFrame)  # nested levels have no output file
            if out is not None:
                # the summaries wait on disk: held in memory they would grow with customers
                # (~64 bytes each, 0.6 GB at 10M) beside every later partition's working set
                outs.append(root / f"summary-{i}.ipc")
                out.write_ipc(outs[-1], compression="uncompressed")
                del out
            if i == len(dirs) or i % max(1, len(dirs) // 10) == 0:
                _say(limits, f"partition {i}/{len(dirs)} ({_time.perf_counter() - t0:.1f} s)")
        if not outs:
            return None
        if output is None:
            return _assemble.in_memory(outs, customer, limits)
        _say(limits, f"writing the summary to {output}")
        _assemble.to_parquet(outs, customer, limits, output)
        return pl.scan_parquet(output)
    finally:
        if level == 0:
            # Polars reports Ctrl-C inside sink_ipc and Python's own handler may raise it again
            # at the next call: retry until the folder is gone; the first interrupt propagates
            while True:
                try:
                    _remove(root)
                    break
                except KeyboardInterrupt:
                    continue


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def locate_bad_row(lf: pl.LazyFrame, customer: str, time: str, amount: str | None) -> str | None:
    """The in-memory path's message for the first null id/time/amount or non-finite amount of
    ``lf`` (rows numbered from 1 over the whole input), or ``None``. Partitions number rows
    locally, so a partition's error is re-located on the original input (error path only)."""
    checks: list[tuple[pl.Expr, str]] = [
        (pl.col(customer).is_null(), f"column '{customer}': null customer id at row {{row}}"),
        (pl.col(time).is_null(), f"column '{time}': null time at row {{row}}"),
    ]
    if amount is not None:
        checks.append((pl.col(amount).is_null(), f"column '{amount}': null amount at row {{row}}"))
    for cond, text in checks:  # in the in-memory path's order: ids, times, amounts
        hit = lf.with_row_index("__row").filter(cond).select("__row").head(1).collect()
        if hit.height:
            return (text + "; nulls are not allowed").format(row=int(hit.item()) + 1)
    if amount is not None:
        hit = (
            lf.with_row_index("__row")
            .filter(~pl.col(amount).cast(pl.Float64).is_finite())
            .select("__row", amount)
            .head(1)
            .collect()
        )
        if hit.height:
            row, value = hit.row(0)
            shown = "NaN" if math.isnan(value) else str(float(value))  # as the kernel prints
            return (
                f"column '{amount}': non-finite amount {shown} at row {row + 1}; "
                "amounts must be finite numbers"
            )
    return None
