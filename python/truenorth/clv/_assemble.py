"""The result of a spilled summary, from the partitions' summaries waiting on disk (Arrow IPC,
each sorted by customer): in memory, or written to a Parquet file within the budget.

- **In memory** (:func:`in_memory`): column by column in key order, the result plus one
  column and a 4-byte order per customer at a time (sorting the concatenation would hold it
  twice). Nothing bounds the result itself (~64 bytes a customer), so a result larger than the
  budget is announced by a :class:`~truenorth.clv.MemoryBudgetWarning` before it is built.
- **To Parquet** (:func:`to_parquet`): the customers are cut into key ranges of at most a
  quarter of the budget each; every partition holds a range's customers as one contiguous run
  (it is sorted), found by a binary search of its key column, so a range is a few slices,
  concatenated and sorted. The ranges, written in key order, are streamed into one Parquet
  file. Peak: one key column, and one range twice. The cut points are quantiles of a sample
  of every partition's keys: the hash that made the partitions spreads the keys evenly, so
  each partition's sorted keys sample the whole order.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import polars as pl

from ._budget import Limits, MemoryBudgetWarning

__all__ = ["in_memory", "to_parquet", "write"]

# sampled keys per range: the ranges' sizes vary by ~1/sqrt of it around the target
_SAMPLES_PER_RANGE = 256


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e7 else f"{n / 1e6:.1f} MB"


def result_bytes(files: list[Path]) -> int:
    """The in-memory size of the result (uncompressed IPC is the memory layout)."""
    return sum(f.stat().st_size for f in files)


def in_memory(files: list[Path], customer: str, limits: Limits) -> pl.DataFrame:
    """The partitions' summaries as one frame sorted by customer, built column by column."""
    size = result_bytes(files)
    if size > limits.memory:
        warnings.warn(
            f"the summary itself takes ~{_mb(size)} in memory, more than the memory budget of "
            f"{_mb(limits.memory)}; it is returned in memory anyway. For memory bounded by "
            "the budget, pass summarize(..., output='summary.parquet'): the summary is written "
            "there and a LazyFrame scanning it is returned (fit it with "
            "clv.patterns(...), score it with clv.score(..., output=...))",
            MemoryBudgetWarning,
            stacklevel=6,
        )

    def column(name: str) -> pl.Series:
        parts = [pl.read_ipc(f, columns=[name]) for f in files]
        return pl.concat(parts, rechunk=False).to_series()

    order = column(customer).arg_sort()
    names = pl.read_ipc_schema(files[0]).keys()
    return pl.DataFrame([column(name).gather(order) for name in names])


def to_parquet(files: list[Path], customer: str, limits: Limits, output: Path) -> None:
    """The partitions' summaries, sorted by customer, written to ``output`` (Parquet)."""
    size = result_bytes(files)
    ranges = max(1, math.ceil(size / max(limits.memory // 4, 1)))
    pieces_dir = files[0].parent / "ranges"
    pieces_dir.mkdir()
    cuts = _cut_points(files, customer, ranges)
    # each partition's row offsets of the cut points: one key column in memory at a time
    offsets = []
    for f in files:
        keys = pl.read_ipc(f, columns=[customer]).to_series()
        inner = keys.search_sorted(cuts, side="left").to_list() if cuts is not None else []
        offsets.append([0, *inner, keys.len()])
        del keys
    pieces: list[Path] = []
    for r in range(len(offsets[0]) - 1):
        slices = [
            pl.scan_ipc(f).slice(off[r], off[r + 1] - off[r])
            for f, off in zip(files, offsets, strict=True)
            if off[r + 1] > off[r]
        ]
        if not slices:
            continue
        piece = pl.concat(slices).collect().sort(customer)
        pieces.append(pieces_dir / f"range-{r:05d}.ipc")
        piece.write_ipc(pieces[-1], compression="uncompressed")
        del piece
    write(pl.scan_ipc(pieces), output)


def write(frame: pl.DataFrame | pl.LazyFrame, output: Path) -> None:
    """``frame`` as the Parquet file ``output`` (a scan is streamed, not collected)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # written beside the output and renamed: a failed run leaves no half-written file
    partial = output.with_name(f".{output.name}.partial")
    try:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(partial)
        else:
            frame.write_parquet(partial)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def _cut_points(files: list[Path], customer: str, ranges: int) -> pl.Series | None:
    """``ranges - 1`` keys splitting the customers into ranges of about equal size."""
    if ranges <= 1:
        return None
    total = sum(pl.scan_ipc(f).select(pl.len()).collect().item() for f in files)
    step = max(1, total // (ranges * _SAMPLES_PER_RANGE))
    sample = pl.concat(
        [pl.read_ipc(f, columns=[customer]).to_series().gather_every(step) for f in files]
    ).sort()
    at = [sample.len() * i // ranges for i in range(1, ranges)]
    return sample.gather(at).unique(maintain_order=True)
