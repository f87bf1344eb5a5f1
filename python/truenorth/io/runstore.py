"""The run history (``truenorth run --store PATH``): a folder of Parquet files, one folder per run.

Layout::

    PATH/truenorth-store.json            {"truenorth_store": 1}: the layout version
    PATH/runs/<run id>/run.json          run id, time, pack, pack hash, params (+ hash), version
    PATH/runs/<run id>/findings.parquet  the findings
    PATH/runs/<run id>/rules.parquet     each rule: kind, status, findings, worst severity
    PATH/runs/<run id>/tables/<t>.parquet  the tables the pack keeps (``keep:``)

Why a folder of Parquet and not one DuckDB file: a run is *added*, never rewritten, so each run is
its own folder, written beside the others and renamed into place in one step (the house pattern
of :mod:`.outset`): a killed run leaves nothing half-written, and earlier runs are never touched
again. Parquet needs no dependency beyond Polars, and every tool reads it (DuckDB:
``SELECT * FROM 'PATH/runs/*/findings.parquet'``). One DuckDB file would need the ``duckdb``
package for every user and a rewrite of one shared file per run.

Example::

    >>> import tempfile, polars as pl
    >>> store = RunStore.open(tempfile.mkdtemp() + "/history")
    >>> run = StoredRun(meta={"run_id": "r1", "pack": "demo", "created": "2026-01-01T00:00:00+00:00"},
    ...                 findings=pl.DataFrame({"rule_id": ["a"], "subject": ["x"]}),
    ...                 rules=pl.DataFrame({"rule_id": ["a"], "status": ["ok"]}), tables={})
    >>> store.save(run)
    'r1'
    >>> [r["run_id"] for r in store.runs("demo")]
    ['r1']
    >>> store.load("r1").findings["subject"].to_list()
    ['x']
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import OutputError, UsageError
from .lock import LockHeld, describe_holder, lock_beside
from .outset import RUN_ID, _fsync_dir, _remove_tree

STORE_FILE = "truenorth-store.json"
#: the layout this version writes and reads; a store (or run) with a higher number is refused
STORE_VERSION = 1
_TABLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


class StoreError(OutputError):
    """The store cannot be used: not a store, written by a newer truenorth, unwritable (exit 2)."""


@dataclass
class StoredRun:
    """One run as kept: ``meta`` (run.json), findings, rule statuses and kept tables."""

    meta: dict[str, Any]
    findings: pl.DataFrame
    rules: pl.DataFrame
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.meta["run_id"])


class RunStore:
    """A run history folder; create or open it with :meth:`open`."""

    def __init__(self, root: Path):
        self.root = root
        self.runs_dir = root / "runs"

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> RunStore:
        """Open the store at ``path`` (created when missing and ``create``).

        Raises :class:`StoreError` when ``path`` is a file, a non-empty folder that is not a
        store, or a store written by a newer truenorth.
        """
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise StoreError(f"--store {root}: is a file; expected a run-history folder")
        marker = root / STORE_FILE
        if marker.exists():
            _check_version(_read_json(marker, root), marker)
        elif root.exists() and any(root.iterdir()):
            raise StoreError(
                f"--store {root}: a folder that is not a truenorth run history (no {STORE_FILE}); "
                "give a new or empty folder"
            )
        elif not create:
            raise StoreError(
                f"--store {root}: no run history here (no {STORE_FILE}); store a first run "
                "with --store and without --baseline"
            )
        else:
            try:
                (root / "runs").mkdir(parents=True, exist_ok=True)
                _write_json(marker, {"truenorth_store": STORE_VERSION})
            except OSError as exc:
                raise StoreError(
                    f"--store {root}: cannot create it: {exc.strerror or exc}"
                ) from None
        return cls(root)

    # ------------------------------------------------------------------ reading
    def runs(self, pack: str | None = None) -> list[dict[str, Any]]:
        """The stored runs (their run.json), oldest first; only those of ``pack`` if given."""
        out: list[dict[str, Any]] = []
        if not self.runs_dir.is_dir():
            return out
        for folder in self.runs_dir.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue  # a run being written (or one a crash left) is not a run
            meta_file = folder / "run.json"
            if not meta_file.exists():
                continue
            meta = _read_json(meta_file, self.root)
            _check_version(meta, meta_file)
            if pack is None or meta.get("pack") == pack:
                out.append(meta)
        return sorted(out, key=lambda m: (str(m.get("created", "")), str(m.get("run_id"))))

    def resolve(self, ref: str, pack: str | None = None) -> str:
        """A run id from ``ref``: a run id, a unique prefix of one, ``latest`` or ``latest~N``."""
        runs = self.runs(pack)
        where = f" of pack {pack!r}" if pack else ""
        m = re.fullmatch(r"latest(?:~(\d+))?", ref)
        if m:
            back = int(m.group(1) or 0)
            if len(runs) <= back:
                raise UsageError(
                    f"--store {self.root}: {len(runs)} stored run(s){where}, so no {ref!r}"
                    + (" (run once with --store and without --baseline first)" if not runs else "")
                )
            return str(runs[-1 - back]["run_id"])
        hits = [r for r in runs if str(r["run_id"]).startswith(ref)]
        exact = [r for r in hits if r["run_id"] == ref]
        if exact or len(hits) == 1:
            return str((exact or hits)[0]["run_id"])
        recent = ", ".join(str(r["run_id"]) for r in runs[-3:]) or "none"
        if hits:
            raise UsageError(
                f"run {ref!r} is ambiguous in {self.root}: {len(hits)} runs{where} start with it"
            )
        raise UsageError(f"no run {ref!r}{where} in {self.root} (latest: {recent})")

    def load(self, run_id: str) -> StoredRun:
        folder = self.runs_dir / run_id
        meta_file = folder / "run.json"
        if not RUN_ID.fullmatch(run_id) or not meta_file.exists():
            raise UsageError(f"no run {run_id!r} in {self.root}")
        meta = _read_json(meta_file, self.root)
        _check_version(meta, meta_file)
        tables = {}
        for name in meta.get("tables", []):
            tables[name] = _read_parquet(folder / "tables" / f"{name}.parquet")
        return StoredRun(
            meta=meta,
            findings=_read_parquet(folder / "findings.parquet"),
            rules=_read_parquet(folder / "rules.parquet"),
            tables=tables,
        )

    # ------------------------------------------------------------------ writing
    def save(self, run: StoredRun) -> str:
        """Add ``run``: written into ``runs/.staging-<id>`` and renamed into place (atomic).

        Raises :class:`StoreError` when another run is being stored, the run id exists, or the
        disk refuses; the store is then unchanged.
        """
        run_id = run.run_id
        if not RUN_ID.fullmatch(run_id):
            raise ValueError(f"run id {run_id!r}: expected 1 to 64 of A-Z a-z 0-9 _ -")
        bad = [t for t in run.tables if not _TABLE_NAME.fullmatch(t)]
        if bad:
            raise ValueError(f"table names {bad} cannot be file names")
        try:
            lock = lock_beside(self.runs_dir)
        except LockHeld as exc:
            raise StoreError(
                f"--store {self.root}: another truenorth run ({describe_holder(exc.holder)}) "
                "is storing a run; try again when it is done"
            ) from None
        except OSError as exc:
            raise StoreError(
                f"--store {self.root}: cannot lock it: {exc.strerror or exc}"
            ) from None
        staging = self.runs_dir / f".staging-{run_id}"
        final = self.runs_dir / run_id
        try:
            if final.exists():
                raise StoreError(f"--store {self.root}: run {run_id!r} is already stored")
            _remove_tree(staging)
            (staging / "tables").mkdir(parents=True)
            run.findings.write_parquet(staging / "findings.parquet")
            run.rules.write_parquet(staging / "rules.parquet")
            for name, table in run.tables.items():
                table.write_parquet(staging / "tables" / f"{name}.parquet")
            meta = {
                "truenorth_store": STORE_VERSION,
                **run.meta,
                "tables": sorted(run.tables),
            }
            _write_json(staging / "run.json", meta)  # last: a folder with run.json is complete
            for folder in (staging / "tables", staging):
                for f in folder.iterdir():
                    if f.is_file():
                        _fsync_file(f)
                _fsync_dir(folder)
            os.rename(staging, final)
            _fsync_dir(self.runs_dir)
        except OSError as exc:
            _remove_tree(staging)
            raise StoreError(
                f"--store {self.root}: cannot store run {run_id}: {exc.strerror or exc}; "
                "the history is unchanged"
            ) from None
        except BaseException:
            _remove_tree(staging)
            raise
        finally:
            lock.release()
        return run_id


def _check_version(meta: Any, where: Path) -> None:
    version = meta.get("truenorth_store") if isinstance(meta, dict) else None
    if not isinstance(version, int):
        raise StoreError(f"{where}: not a truenorth run history file (no truenorth_store version)")
    if version > STORE_VERSION:
        from .._version import __version__

        raise StoreError(
            f"{where}: written by a newer truenorth (store format {version}; truenorth "
            f"{__version__} reads format {STORE_VERSION} and older): upgrade truenorth to read it"
        )


def _read_json(path: Path, root: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"--store {root}: cannot read {path}: {exc}") from None


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
