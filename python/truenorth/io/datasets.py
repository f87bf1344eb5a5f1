"""Datasets → Polars LazyFrames, with the pack's column mapping (canonical ← source).

Example::

    >>> import polars as pl
    >>> lf = apply_columns(pl.LazyFrame({"cust_id": [1]}), {"customer": "cust_id"}, role="t")
    >>> lf.collect().columns
    ['customer']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DataError


def to_lazy(data: Any, *, role: str = "data") -> pl.LazyFrame:
    """A LazyFrame from a Polars frame or anything speaking the Arrow PyCapsule interface."""
    if isinstance(data, pl.LazyFrame):
        return data
    if isinstance(data, pl.DataFrame):
        return data.lazy()
    if hasattr(data, "__arrow_c_stream__"):
        try:
            return pl.DataFrame(data).lazy()
        except Exception as exc:
            raise DataError(f"data for {role!r}: cannot convert to a Polars frame: {exc}") from None
    if isinstance(data, (dict, list)):
        try:
            return pl.DataFrame(data).lazy()
        except Exception as exc:
            raise DataError(f"data for {role!r}: cannot build a table: {exc}") from None
    raise DataError(
        f"data for {role!r}: expected a Polars DataFrame/LazyFrame or an Arrow-compatible "
        f"table, got {type(data).__name__}"
    )


def apply_columns(
    lf: pl.LazyFrame, columns: Mapping[str, str], *, role: str, source: str | None = None
) -> pl.LazyFrame:
    """Rename source columns to canonical names; missing columns are a :class:`DataError`."""
    if not columns:
        return lf
    try:
        names = lf.collect_schema().names()
    except Exception as exc:
        where = f" ({source})" if source else ""
        raise DataError(f"dataset {role!r}{where}: cannot read: {_first_line(exc)}") from None
    rename = {}
    missing = []
    for canonical, src in columns.items():
        if src in names:
            if src != canonical:
                rename[src] = canonical
        elif canonical not in names:
            missing.append(f"{src!r} (for {canonical!r})")
    if missing:
        where = f" ({source})" if source else ""
        raise DataError(
            f"dataset {role!r}{where}: missing column(s) {', '.join(missing)}; "
            f"it has: {', '.join(names)}"
        )
    clash = [c for c in rename.values() if c in names and c not in rename]
    if clash:
        lf = lf.drop(clash)
    return lf.rename(rename) if rename else lf


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_dataset(path: Path, *, reader: Any, options: Mapping[str, Any], role: str) -> pl.LazyFrame:
    """Read ``path`` with a registered :class:`~truenorth.Reader`; errors become DataError."""
    if not path.exists():
        raise DataError(f"dataset {role!r}: file not found: {path}")
    try:
        lf = reader.read(path, dict(options))
    except DataError:
        raise
    except TypeError as exc:
        raise DataError(
            f"dataset {role!r} ({path}): bad options for reader {reader.name!r}: {_first_line(exc)}"
        ) from None
    except Exception as exc:
        raise DataError(f"dataset {role!r} ({path}): cannot read: {_first_line(exc)}") from None
    if not isinstance(lf, pl.LazyFrame):
        lf = to_lazy(lf, role=role)
    return lf


def diagnose_csv(path: Path, *, separator: str = ",", limit: int = 50_000_000) -> str | None:
    """Where a CSV file that Polars could not parse goes wrong: ``"line N: ..."``, or ``None``.

    Only called after a read failed (it reads the file in Python): finds the first invalid
    UTF-8 byte and the first row whose number of fields differs from the header's.
    """
    import csv
    import io

    try:
        raw = Path(path).read_bytes()[:limit]
    except OSError:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return (
            f"line {line}, character {column}: byte 0x{raw[exc.start]:02x} is not UTF-8 "
            "(expected a UTF-8 encoded file; re-save it as UTF-8)"
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator or ",")
    try:
        header = next(reader)
        for row in reader:
            if row and len(row) != len(header):
                return (
                    f"line {reader.line_num}: {len(row)} fields, expected {len(header)} "
                    f"like the header ({separator.join(header)})"
                )
    except (csv.Error, StopIteration):
        return None
    return None
