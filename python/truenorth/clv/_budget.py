"""The memory budget of a summary: parsing ``"2GB"``-style sizes, the default, and the scoped
setting the CLI uses (``truenorth run --memory``) so rules need not pass it along.

Resolution order: an explicit ``memory=`` argument, then :func:`memory_limit`'s scope, then the
``TRUENORTH_MEMORY`` environment variable, then half of the memory available when the summary
starts (``MemAvailable`` on Linux, else half the physical memory, else 4 GB). Half leaves room
for what the caller holds and for the fixed overhead of Polars' streaming engine (measured
~250-450 MB on a 2-core box, independent of the input's size).

Example::

    >>> parse_memory("2GB"), parse_memory("512MiB"), parse_memory(10**9)
    (2000000000, 536870912, 1000000000)
    >>> with memory_limit("1GB", progress=False):
    ...     current().memory
    1000000000
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "MemoryBudgetWarning", "current", "memory_limit", "parse_memory"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*$")
# below this a budget cannot hold even one batch of a scan and the kernel's scratch
_MIN_BUDGET = 32 * 2**20


def parse_memory(value: int | str, what: str = "memory") -> int:
    """Bytes from an int or a size such as ``"2GB"``, ``"1.5 GiB"``, ``"200MB"`` (decimal
    units: GB = 10^9; binary: GiB = 2^30) or ``"50%"`` (of the memory available now)."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a size like '2GB', got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            pct = float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"{what}: bad percentage {value!r}") from None
        if not 0 < pct <= 100:
            raise ValueError(f"{what}: a percentage must be in (0, 100], got {value!r}")
        n = int(available_memory() * pct / 100)
    elif isinstance(value, str) and (m := _SIZE.match(value)) and m[2].lower() in _UNITS:
        n = int(float(m[1]) * _UNITS[m[2].lower()])
    else:
        raise ValueError(
            f"{what}: expected a size such as '2GB', '512MiB', '50%' or a number of bytes, "
            f"got {value!r}"
        )
    if n < _MIN_BUDGET:
        raise ValueError(f"{what}: {value!r} is below the minimum of 32 MiB")
    return n


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), else the
    physical memory, else 8 GB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 10**9


class MemoryBudgetWarning(UserWarning):
    """A summary whose result alone is larger than the memory budget, returned in memory
    anyway; ``summarize(..., output=...)`` writes it to a file within the budget instead."""


@dataclass(frozen=True)
class Limits:
    """Resolved settings: the budget in bytes, where spill folders go, whether to report
    progress on stderr."""

    memory: int
    spill_dir: Path | None
    progress: bool


@dataclass(frozen=True)
class _Scope:
    memory: int | str | None
    spill_dir: str | Path | None
    progress: bool | None


_SCOPE: ContextVar[_Scope | None] = ContextVar("truenorth_memory_limit", default=None)


@contextmanager
def memory_limit(
    memory: int | str | None = None,
    *,
    spill_dir: str | Path | None = None,
    progress: bool | None = None,
) -> Iterator[None]:
    """Within the block, summaries of lazy inputs default to this budget, spill folder and
    progress setting (``truenorth run --memory`` wraps the run in it).

    Args:
        memory: bytes or a size such as ``"2GB"``, ``"512MiB"``, ``"50%"`` (of the memory
            available); ``None`` keeps the default (``TRUENORTH_MEMORY``, else half the
            available memory).
        spill_dir: folder for temporary partitions (default ``TRUENORTH_SPILL_DIR``, else the
            system's temp folder).
        progress: report the long phases of a spill on stderr (default: when stderr is a
            terminal).

    Example:
        A pack run whose transaction summaries stay within 2 GB::

            >>> import truenorth
            >>> with truenorth.clv.memory_limit("2GB", progress=False):
            ...     pass  # engine.run(...), clv.summarize(pl.scan_parquet(...), ...)
    """
    if memory is not None:
        parse_memory(memory)  # refuse a bad size at the start, not inside a rule
    token = _SCOPE.set(_Scope(memory, spill_dir, progress))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current(
    memory: int | str | None = None,
    spill_dir: str | Path | None = None,
    progress: bool | None = None,
) -> Limits:
    """The limits for one summary: explicit arguments first, then the scope, the environment
    (``TRUENORTH_MEMORY``, ``TRUENORTH_SPILL_DIR``) and the defaults."""
    scope = _SCOPE.get() or _Scope(None, None, None)
    mem = memory if memory is not None else scope.memory
    if mem is None:
        mem = os.environ.get("TRUENORTH_MEMORY") or None
    budget = parse_memory(mem) if mem is not None else max(available_memory() // 2, _MIN_BUDGET)
    where = spill_dir if spill_dir is not None else scope.spill_dir
    if where is None:
        where = os.environ.get("TRUENORTH_SPILL_DIR") or None
    show = progress if progress is not None else scope.progress
    if show is None:
        show = sys.stderr.isatty()
    return Limits(budget, Path(where) if where is not None else None, show)
