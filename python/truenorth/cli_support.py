"""What every ``truenorth`` command shares: exit codes, the plugin registry of the
command line (``--plugin``, ``--strict``), ``NAME=VALUE`` options and loading engines."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_RULE_ERROR = 0, 1, 2, 3


def bundled_packs() -> Path:
    return Path(__file__).parent / "packs"


# ------------------------------------------------------------------------------ helpers
def _err(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")


def _load_plugin_file(spec: str) -> Any:
    from .errors import UsageError

    path = Path(spec)
    if path.suffix == ".py" or path.exists():
        if not path.exists():
            raise UsageError(f"--plugin: no such file {spec}")
        name = f"truenorth_local_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise UsageError(f"--plugin: cannot load {spec}")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise UsageError(
                f"--plugin {spec}: import failed: {type(exc).__name__}: {exc}"
            ) from None
        module.__name__ = path.stem
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise UsageError(f"--plugin {spec}: {exc}") from None


def _registry(args: argparse.Namespace) -> Any:
    from .engine.plugins import load_registry

    plugins = [_load_plugin_file(p) for p in getattr(args, "plugin", None) or []]
    strict = True if getattr(args, "strict", False) else None
    reg = load_registry(plugins, strict=strict)
    if not getattr(args, "quiet_plugins", False):
        for p in reg.errors:
            where = " ".join(x for x in (p.dist or "local", p.version) if x)
            _err(f"warning: plugin {p.name} ({where}): {p.error}")
    return reg


def _parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, str]:
    from .errors import UsageError

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} expects NAME=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _engines(args: argparse.Namespace, params: dict[str, Any] | None = None) -> list[Any]:
    from .engine.engine import Engine

    paths = args.paths or [str(bundled_packs())]
    reg = _registry(args)
    root = getattr(args, "data_root", None)
    return Engine.load_all(paths, params=params, registry=reg, data_root=root)
