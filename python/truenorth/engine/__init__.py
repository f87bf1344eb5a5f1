"""The rules engine: packs, plugins, planning, evaluation and results.

Public entry points are re-exported from :mod:`truenorth`: :class:`~truenorth.Engine`,
:class:`~truenorth.Result`, :class:`~truenorth.RuleRun`. (Attributes here are imported lazily to keep import order simple.)
"""

from typing import Any

# Only what :mod:`truenorth` re-exports; the submodules are private.
_LAZY = {
    "Engine": ".engine",
    "Result": ".result",
    "RuleRun": ".result",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)


__all__ = sorted(_LAZY)
