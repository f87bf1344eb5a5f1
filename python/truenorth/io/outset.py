"""Whole-run output sets: every file of a run is published together, or none is.

A run writes its files into a staging folder beside the target folder ``T`` (same parent, so
the same filesystem) and then swaps it in with one rename. The protocol, with ``P`` the parent
of ``T``:

1. **Lock** ``P/.T.lock`` (``flock``, non-blocking; :mod:`.lock`). A second writer fails at
   once with :class:`~truenorth.errors.OutputError` naming the holder; it never waits.
2. **Recover** from killed runs (under the lock, so no live writer owns them): when ``T`` is
   missing but ``P/.T.old-*`` exists (a run killed between the two renames of step 5's
   fallback), rename it back to ``T``; then remove every ``P/.T.staging-*`` and ``P/.T.old-*``.
3. **Check** that ``T`` is absent, empty, or a set this protocol published: every file in it is
   listed in its ``_manifest.json``. Anything else is refused before any rule runs, because
   the swap replaces the whole folder and truenorth never deletes files it did not write.
4. **Write** every file into ``S = P/.T.staging-<run id>/``.
5. **Publish**: write ``S/_manifest.json`` last (run id, time, truenorth version, the caller's
   metadata, and every file with its size and SHA-256), fsync the files and ``S``, check ``T``
   again, then

   * ``T`` absent: ``rename(S, T)``;
   * ``T`` present: ``renameat2(S, T, RENAME_EXCHANGE)`` (Linux) swaps the two folders in one
     step, then the old set (now at ``S``) is removed;
   * where the exchange is not available (other systems, some filesystems):
     ``rename(T, P/.T.old-<run id>)``, ``rename(S, T)``, remove the old set.

   and fsync ``P``.
6. **Unlock.**

Guarantee: at every instant ``T`` holds the complete previous set or the complete new set, never
a mix of two runs and never a partial set — with the fallback of step 5, ``T`` may also be
briefly absent (until the next run's step 2 after a crash in that window). A failed or killed
run leaves ``T`` untouched; its staging folder is removed when it fails and by the next run
when it was killed.

Example::

    >>> import tempfile, pathlib, json
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with OutputSet.open(out) as run:
    ...     _ = (run.staging / "report.txt").write_text("hello")
    ...     manifest = run.publish({"packs": ["demo"]})
    >>> sorted(p.name for p in out.iterdir())
    ['_manifest.json', 'report.txt']
    >>> [f["path"] for f in json.loads((out / MANIFEST).read_text())["files"]]
    ['report.txt']
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import OutputError
from .lock import FolderLock, LockHeld, describe_holder, lock_beside

MANIFEST = "_manifest.json"
MANIFEST_VERSION = 1
#: run ids have no dot, so ``.<name>.staging-<id>`` of one target never matches another target's
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RENAME_EXCHANGE = 2  # linux/fs.h


def new_run_id() -> str:
    """``20261206T234001Z-1234-9f3a2c``: sortable by time, unique per process and call."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{os.getpid()}-{secrets.token_hex(3)}"


class OutputSet:
    """One run's output set for the folder ``target``; see the module docs for the protocol.

    Use :meth:`open` in a ``with`` block: leaving it without :meth:`publish` (an error, an
    interrupt) removes the staging folder; leaving it always releases the lock.
    """

    def __init__(self, target: Path, lock: FolderLock, run_id: str):
        self.target = target
        self.run_id = run_id
        self.staging = target.parent / f".{target.name}.staging-{run_id}"
        self.published = False
        self._lock: FolderLock | None = lock

    @classmethod
    def open(cls, target: str | Path, run_id: str | None = None) -> OutputSet:
        """Lock ``target``, recover from killed runs, check it, and create the staging folder.

        Raises :class:`~truenorth.errors.OutputError` (exit code 2) when ``target`` cannot be
        an output folder, another writer holds it, or it holds files truenorth did not write.
        """
        if run_id is not None and not RUN_ID.fullmatch(run_id):
            raise ValueError(f"run id {run_id!r}: expected 1 to 64 of A-Z a-z 0-9 _ -")
        target = _resolve(Path(target))
        _check_parent(target)
        try:
            lock = lock_beside(target)
        except LockHeld as exc:
            raise OutputError(
                f"{target}: another truenorth run ({describe_holder(exc.holder)}) is writing "
                f"this folder (lock {exc.lock_file}); wait for it to finish or give another folder"
            ) from None
        except OSError as exc:
            raise _io_error(target, "cannot create the lock file beside it", exc) from None
        try:
            recover(target)
            _check_target(target)
            out = cls(target, lock, run_id or new_run_id())
            try:
                os.mkdir(out.staging, 0o777)  # the umask decides, as for any new folder
            except OSError as exc:
                raise _io_error(target, "cannot create the staging folder", exc) from None
            return out
        except BaseException:
            lock.release()
            raise

    def publish(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the manifest and swap the staging folder in; returns the manifest.

        An ``OSError`` (disk full, permissions) becomes :class:`OutputError`; ``target`` is then
        unchanged and the staging folder removed.
        """
        if self.published or self._lock is None:
            raise RuntimeError("this output set is already published or closed")
        try:
            manifest = self._write_manifest(meta or {})
            _check_target(self.target)  # a file added since open() would be deleted by the swap
            _swap_in(self.staging, self.target, self.run_id)
        except OSError as exc:
            self.discard()
            raise _io_error(self.target, "cannot publish the output set", exc) from None
        except BaseException:
            self.discard()
            raise
        self.published = True
        _remove_tree(self.staging)  # the previous set, after an exchange; absent otherwise
        return manifest

    def discard(self) -> None:
        """Remove the staging folder (nothing is published)."""
        if not self.published:
            _remove_tree(self.staging)

    def close(self) -> None:
        """Discard an unpublished set and release the lock (idempotent)."""
        try:
            self.discard()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_manifest(self, meta: dict[str, Any]) -> dict[str, Any]:
        files = []
        for path in sorted(_files_under(self.staging)):
            rel = path.relative_to(self.staging).as_posix()
            if rel == MANIFEST:
                continue
            size, digest = _hash_and_sync(path)
            files.append({"path": rel, "bytes": size, "sha256": digest})
        from .._version import __version__

        manifest = {
            "truenorth_manifest": MANIFEST_VERSION,
            "run_id": self.run_id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "truenorth": __version__,
            **meta,
            "files": files,
        }
        path = self.staging / MANIFEST
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(manifest, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for folder in {self.staging, *(p.parent for p in _files_under(self.staging))}:
            _fsync_dir(folder)
        return manifest


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest of a published set, or ``None`` when ``folder`` has none (or a bad one)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    return data


def verify(folder: str | Path) -> list[str]:
    """Problems with a published set: files missing, extra or changed against its manifest.

    An empty list means ``folder`` is exactly the set its manifest names.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"{folder}: no readable {MANIFEST}"]
    listed = {f["path"]: f for f in manifest["files"]}
    present = {p.relative_to(folder).as_posix() for p in _files_under(folder)} - {MANIFEST}
    problems = [f"missing: {p}" for p in sorted(set(listed) - present)]
    problems += [f"not in the manifest: {p}" for p in sorted(present - set(listed))]
    for rel in sorted(present & set(listed)):
        size, digest = _hash_and_sync(folder / rel, sync=False)
        if (size, digest) != (listed[rel]["bytes"], listed[rel]["sha256"]):
            problems.append(f"changed: {rel}")
    return problems


def recover(target: Path) -> None:
    """Step 2: undo an interrupted fallback swap, then remove what killed runs left beside
    ``target``. Call only while holding the lock."""
    ours = re.compile(rf"\.{re.escape(target.name)}\.(staging|old)-{RUN_ID.pattern}")
    leftovers = sorted(p for p in target.parent.iterdir() if ours.fullmatch(p.name))
    olds = [p for p in leftovers if p.name.startswith(f".{target.name}.old-")]
    if olds and not os.path.lexists(target):
        os.rename(olds[-1], target)
        leftovers.remove(olds[-1])
    for p in leftovers:
        _remove_tree(p)


# ------------------------------------------------------------------------------ steps
def _resolve(target: Path) -> Path:
    """The real folder: a symlinked target is swapped where it points, not replaced."""
    return Path(os.path.realpath(target))


def _check_parent(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder (expected a folder path)")
    if target.parent == target or os.path.ismount(target):
        raise OutputError(
            f"{target}: is a mount point; truenorth replaces the output folder as a whole, "
            f"so give a folder inside it (e.g. {target / 'reports'})"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _io_error(target, "cannot create the folder", exc) from None
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{target}: the folder that holds it ({target.parent}) is not writable; truenorth "
            "writes a new set beside the output folder and swaps it in, so it needs to"
        )


def _check_target(target: Path) -> None:
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder (expected a folder path)")
    manifest = read_manifest(target)
    ours = {MANIFEST} | ({f["path"] for f in manifest["files"]} if manifest else set())
    foreign = sorted(
        p.relative_to(target).as_posix()
        for p in _files_under(target)
        if p.relative_to(target).as_posix() not in ours and not _is_temp(p.name)
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise OutputError(
            f"{target}: holds files that truenorth did not write ({shown}); each run replaces "
            "the output folder as a whole, so give a new or empty folder, or one written by an "
            "earlier run (with its _manifest.json)"
        )


def _is_temp(name: str) -> bool:
    """The hidden ``.<file>.<random>.tmp`` files of atomic writes from killed runs."""
    return name.startswith(".") and name.endswith(".tmp")


def _files_under(folder: Path) -> list[Path]:
    """Files (and symlinks, not followed) anywhere under ``folder``."""
    out = []
    for root, dirs, files in os.walk(folder):
        out += [Path(root, f) for f in files]
        out += [Path(root, d) for d in dirs if os.path.islink(os.path.join(root, d))]
    return out


def _hash_and_sync(path: Path, *, sync: bool = True) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        if (
            sync
        ):  # a writer (polars, a plugin) may not have: the set must be on disk before the swap
            os.fsync(fh.fileno())
    return size, digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _swap_in(staging: Path, target: Path, run_id: str) -> None:
    if not os.path.lexists(target):
        _rename(staging, target)
    elif not _exchange(staging, target):
        old = target.parent / f".{target.name}.old-{run_id}"
        _rename(target, old)
        try:
            _rename(staging, target)
        except BaseException:
            _rename(old, target)
            raise
        try:  # publish() then removes the previous set from the staging path
            _rename(old, staging)
        except OSError:  # published all the same; the next run's recover() removes it
            pass
    _fsync_dir(target.parent)


def _rename(src: Path, dst: Path) -> None:
    os.rename(src, dst)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where that is not available."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(-100, os.fsencode(a), -100, os.fsencode(b), _RENAME_EXCHANGE) == 0:  # AT_FDCWD
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # this filesystem or kernel cannot exchange: use the fallback
    raise OSError(err, os.strerror(err), str(a), None, str(b))


_RENAMEAT2: list[Any] = []


def _renameat2() -> Any:
    if not _RENAMEAT2:
        fn = None
        if sys.platform.startswith("linux"):
            try:
                fn = ctypes.CDLL(None, use_errno=True).renameat2
                c_int, c_path = ctypes.c_int, ctypes.c_char_p
                fn.argtypes = [c_int, c_path, c_int, c_path, ctypes.c_uint]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28, musl
                fn = None
        _RENAMEAT2.append(fn)
    return _RENAMEAT2[0]


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _io_error(target: Path, what: str, exc: OSError) -> OutputError:
    detail = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target) else ""
    return OutputError(f"{target}: {what}: {detail}{where}; nothing was published")
