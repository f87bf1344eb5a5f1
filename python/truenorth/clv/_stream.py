"""One-pass Arrow streams (a PyArrow ``RecordBatchReader``, a DuckDB relation) as summary
inputs within the memory budget.

A stream cannot be read twice, but the spill path (``_spill.summarize_lazy``) restarts its
scan when the input turns out larger than the budget. So the stream is read batch by batch
(only the summary's columns kept) while it fits, and is the kernel's input like any frame;
once the batches cross the budget, they and the rest of the stream are written to one Arrow
IPC file in a temporary folder, whose scan (restartable) then takes the
LazyFrame path: one more sequential write and read of the narrowed input, in exchange for
memory bounded by the budget instead of by the stream. The folder goes on success, error and
Ctrl-C.

Eager Arrow producers (PyArrow tables, pandas frames) are already in memory and are not
streams here. PyArrow (not a dependency of truenorth) reads the stream; without it a DuckDB
relation is read whole, as before.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from ._budget import Limits
from ._spill import fits

__all__ = ["is_stream", "stream_input"]


def is_stream(data: Any) -> bool:
    """Whether ``data`` is a one-pass Arrow stream read within the budget."""
    pa = sys.modules.get("pyarrow")  # a RecordBatchReader means PyArrow is imported
    if pa is not None and isinstance(data, pa.RecordBatchReader):
        return True
    return (
        type(data).__name__ == "DuckDBPyRelation"
        and importlib.util.find_spec("pyarrow") is not None
    )


def _reader(data: Any) -> Any:
    import pyarrow as pa

    if isinstance(data, pa.RecordBatchReader):
        return data
    try:
        return pa.RecordBatchReader.from_stream(data)
    except Exception as e:  # a producer that PyArrow cannot read
        raise ValueError(f"could not read the input as an Arrow stream: {e}") from e


@contextmanager
def stream_input(
    data: Any, columns: list[str], limits: Limits
) -> Iterator[pl.DataFrame | pl.LazyFrame]:
    """The stream ``data`` narrowed to ``columns``: a DataFrame when it fits
    ``limits.memory``, else a scan of its copy on disk (valid inside the ``with`` block)."""
    import pyarrow as pa

    reader = _reader(data)
    names = reader.schema.names
    for c in columns:
        if c not in names:
            raise ValueError(f"column '{c}' not found; the input has columns {names}")
    kept: list[Any] = []
    size = 0
    for batch in reader:
        narrow = batch.select(columns)
        kept.append(narrow)
        size += narrow.nbytes
        if not fits(size, limits.memory):
            break
    else:
        schema = pa.schema([reader.schema.field(c) for c in columns])
        table = pa.Table.from_batches(kept, schema=schema)
        del kept
        frame = pl.from_arrow(table, rechunk=False)
        assert isinstance(frame, pl.DataFrame)
        yield frame
        return
    root = Path(tempfile.mkdtemp(prefix="truenorth-spill-", dir=limits.spill_dir))
    try:
        path = root / "input.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, kept[0].schema) as out:
            for b in kept:
                out.write_batch(b)
            del kept
            for batch in reader:
                out.write_batch(batch.select(columns))
        yield pl.scan_ipc(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)
