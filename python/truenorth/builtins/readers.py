"""Built-in dataset readers: CSV/TSV, Parquet, Arrow IPC, NDJSON and JSON — all lazy scans.

Options from the pack's ``datasets.<role>.options`` are passed to the Polars scan function
(e.g. ``{separator: ";", try_parse_dates: true}`` for CSV).

Paths are literal: ``data[1].csv`` is the file of that name, not a wildcard pattern (Polars
would expand ``[1]``, ``*`` and ``?`` as a glob and find no file). A dataset is one file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

import truenorth

_GLOB_CHARS = re.compile(r"([\[\]*?])")


def _literal(path: Path) -> str:
    """``path`` as a glob pattern matching only itself, for scans without ``glob=False``."""
    return _GLOB_CHARS.sub(r"[\1]", str(path))


def read_csv(path: Path, options: Mapping[str, Any]) -> pl.LazyFrame:
    opts = {"try_parse_dates": True, "glob": False, **options}
    if path.suffix.lower() in (".tsv", ".tab") and "separator" not in opts:
        opts["separator"] = "\t"
    return pl.scan_csv(path, **opts)


def read_parquet(path: Path, options: Mapping[str, Any]) -> pl.LazyFrame:
    return pl.scan_parquet(path, **{"glob": False, **options})


def read_ipc(path: Path, options: Mapping[str, Any]) -> pl.LazyFrame:
    return pl.scan_ipc(path, **{"glob": False, **options})


def read_ndjson(path: Path, options: Mapping[str, Any]) -> pl.LazyFrame:
    return pl.scan_ndjson(_literal(path), **options)


def read_json(path: Path, options: Mapping[str, Any]) -> pl.LazyFrame:
    return pl.read_json(path, **options).lazy()


READERS = (
    truenorth.Reader("csv", (".csv", ".tsv", ".tab", ".csv.gz"), read_csv, "CSV/TSV (lazy scan)"),
    truenorth.Reader("parquet", (".parquet", ".pq"), read_parquet, "Parquet (lazy scan)"),
    truenorth.Reader("ipc", (".arrow", ".ipc", ".feather"), read_ipc, "Arrow IPC / Feather"),
    truenorth.Reader("ndjson", (".ndjson", ".jsonl"), read_ndjson, "newline-delimited JSON"),
    truenorth.Reader("json", (".json",), read_json, "a JSON array of records"),
)


@truenorth.hookimpl
def register_readers(register):
    for reader in READERS:
        register(reader)
