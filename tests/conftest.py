"""Fixtures every test folder shares: a fresh plugin registry per test, and the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from truenorth.engine import plugins

PLUGIN_ENV = ("TRUENORTH_STRICT", "TRUENORTH_DISABLE_PLUGINS", "TRUENORTH_PLUGINS")


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees the environment it sets up (plugin env vars are read per registry)."""
    for var in PLUGIN_ENV:
        monkeypatch.delenv(var, raising=False)
    plugins.clear_cache()
    yield
    plugins.clear_cache()


Tn = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def tn() -> Tn:
    """Run ``python -m truenorth.cli ARGS`` as a user would: ``tn("run", path, env=..., cwd=...)``.

    The child gets no ``TRUENORTH_*`` variables except those in ``env``, and its standard error
    must hold no Python traceback (a CLI error is one clear line, never a stack).
    """

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "truenorth.cli", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            timeout=600,  # the CLV and review packs fit models on 2 shared cores
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    return run
