"""A guarded worker process for fuzz cases: each case ends in an outcome or counts as runaway.

The fuzz tests (``test_fuzz_*.py``) hand cases to :class:`Guard`, which runs them one at a
time in a spawned worker process and watches it: a case that takes longer than
``seconds`` or grows the worker's resident memory by more than ``megabytes`` is a runaway —
the worker is killed (and restarted for the next case) and the case fails. The worker also has
an address-space limit, so a single huge allocation fails there instead of on the machine.
This is a guard against runaway work (an alias bomb, a 100 MB padded message), not a speed
assertion: the budgets are far above what any case needs.

Inside the worker a case returns an :class:`Outcome`: ``"result"`` (the pack loaded and ran),
``"error"`` (a truenorth error; ``located`` says whether it carries a file:line:column or names
the dataset/column), or ``"crash"`` (any other exception, with its traceback: a bug).
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import resource
import time
import traceback
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    status: str  # "result" | "error" | "crash"
    error_type: str = ""
    message: str = ""
    located: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class Runaway(AssertionError):
    """A case broke the time or memory budget."""


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _worker(conn: Any, address_space_mb: int) -> None:
    import truenorth  # noqa: F401  (imported before the limit: its import maps large libraries)

    soft = address_space_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (soft, resource.RLIM_INFINITY))
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        module, name, kwargs = item
        try:
            out = getattr(importlib.import_module(module), name)(**kwargs)
        except MemoryError:
            out = Outcome("crash", "MemoryError", "address-space limit reached")
        except BaseException as exc:  # report, keep serving
            out = Outcome(
                "crash", type(exc).__name__, "".join(traceback.format_exception(exc))[-4000:]
            )
        conn.send(out)


class Guard:
    """Runs ``module.function(**kwargs)`` cases in a watched worker process."""

    def __init__(self, seconds: float = 30.0, megabytes: int = 1024, address_space_mb: int = 0):
        self.seconds = seconds
        self.megabytes = megabytes
        # virtual address space: Polars' thread pool and allocator reserve a lot of it
        # without touching it, so the hard cap sits well above the resident budget
        self.address_space_mb = address_space_mb or 16 * 1024
        self.cases = 0
        self.peak_growth_mb = 0.0
        self.slowest = 0.0
        self._proc: Any = None
        self._conn: Any = None
        self._base_rss = 0.0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker, args=(child, self.address_space_mb), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        self._base_rss = 0.0

    def run(self, module: str, function: str, **kwargs: Any) -> Outcome:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send((module, function, kwargs))
        t0 = time.monotonic()
        pid = self._proc.pid
        base = self._base_rss or _rss_mb(pid)
        while not self._conn.poll(0.02):
            elapsed = time.monotonic() - t0
            growth = _rss_mb(pid) - base
            self.peak_growth_mb = max(self.peak_growth_mb, growth)
            if elapsed > self.seconds or growth > self.megabytes:
                self._kill()
                raise Runaway(
                    f"case {function}({_short(kwargs)}) ran away: {elapsed:.1f} s, "
                    f"+{growth:.0f} MB resident (budget {self.seconds:.0f} s, "
                    f"{self.megabytes} MB)"
                )
            if not self._proc.is_alive():
                self._kill()
                raise Runaway(f"case {function}({_short(kwargs)}) killed the worker")
        out: Outcome = self._conn.recv()
        self.slowest = max(self.slowest, time.monotonic() - t0)
        # the first case warms the imports and thread pools: measure growth from there on
        self._base_rss = max(self._base_rss, _rss_mb(pid))
        self.cases += 1
        return out

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(5)
            except (BrokenPipeError, OSError):
                pass
        self._kill()


def _short(kwargs: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return text if len(text) < 600 else text[:600] + "..."


def budget_seconds() -> float:
    """Per-case time budget (``TRUENORTH_FUZZ_SECONDS`` overrides; a loaded CI box is slow)."""
    return float(os.environ.get("TRUENORTH_FUZZ_SECONDS", "30"))
