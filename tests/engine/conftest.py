from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from truenorth.engine import plugins


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    """Each test sees the environment it sets up (plugin env vars are read per registry)."""
    for var in ("TRUENORTH_STRICT", "TRUENORTH_DISABLE_PLUGINS", "TRUENORTH_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    plugins.clear_cache()
    yield
    plugins.clear_cache()


@pytest.fixture
def write_pack(tmp_path):
    """Write a YAML pack (dedented) to tmp_path and return its path."""

    def write(text: str, name: str = "pack.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write
