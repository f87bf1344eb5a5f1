"""An exclusive lock on a folder for one writer at a time, held through a lock file beside it.

The lock is an ``flock`` on ``<parent>/.<name>.lock``: the kernel releases it when the holder
exits, however it exits (``kill -9`` included), so a lock is never stale. A second writer does
not wait: :func:`lock_beside` raises :class:`LockHeld` at once, naming the holder (pid, host,
start time) from what the holder wrote into the lock file.

Example::

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with lock_beside(out):
    ...     try:
    ...         lock_beside(out)
    ...     except LockHeld as exc:
    ...         print("held by pid", exc.holder["pid"] == os.getpid())
    held by pid True
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX (Windows): writers are not serialised there
    fcntl = None  # type: ignore[assignment]


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` is what it recorded (may be empty)."""

    def __init__(self, lock_file: Path, holder: dict[str, Any]):
        self.lock_file = lock_file
        self.holder = holder
        super().__init__(f"{lock_file} is held by {describe_holder(holder)}")


def describe_holder(holder: dict[str, Any]) -> str:
    """``pid 123 on host, since 2026-12-06 23:40:01 UTC`` (or ``another process``)."""
    if not holder.get("pid"):
        return "another process"
    text = f"pid {holder['pid']}"
    if holder.get("host"):
        text += f" on {holder['host']}"
    if holder.get("since"):
        text += f", since {holder['since']}"
    return text


class FolderLock:
    """A held lock; :meth:`release` (or leaving the ``with`` block) frees it."""

    def __init__(self, lock_file: Path, fd: int):
        self.lock_file = lock_file
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock: a writer that opened the old file will see that
        # its inode is no longer the lock file and retry (see lock_beside).
        try:
            os.unlink(self.lock_file)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_file_for(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def lock_beside(target: Path) -> FolderLock:
    """Lock ``target`` (a folder path, which need not exist) for this process, or raise
    :class:`LockHeld`. The parent folder must exist and be writable."""
    lock_file = lock_file_for(target)
    while True:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        if fcntl is None:  # pragma: no cover
            return FolderLock(lock_file, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # The holder writes its pid just after taking the lock: give it a moment, so the
            # error names the other run rather than "another process".
            holder = _read_holder(fd)
            for _ in range(20):
                if holder:
                    break
                time.sleep(0.005)
                holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(lock_file, holder) from None
        except BaseException:
            os.close(fd)
            raise
        # The previous holder may have unlinked the file between our open and our flock: then
        # we hold a lock nobody else can see, and must take the one now at the path.
        try:
            same = os.stat(lock_file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        _write_holder(fd)
        return FolderLock(lock_file, fd)


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
