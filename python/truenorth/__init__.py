"""truenorth: a customer-value rules engine.

Services load packs once and run them on in-memory frames::

    import polars as pl
    import truenorth

    engine = truenorth.Engine.load("rules/")              # or a pack dict; PackError if invalid
    result = engine.run(data={"transactions": orders_df})  # thread-safe, re-entrant
    result.findings                                        # a Polars DataFrame
    result.tables["customers"]

Plugin authors use the records and the ``hookimpl`` marker re-exported here (``RuleKind``,
``Options``, ``Reader``, ``Reporter``, ``RuleContext``, ``RuleOutput``, ``Finding``,
``FINDINGS_SCHEMA`` — the columns of a ``RuleOutput.findings_frame``) and test
their kinds with :mod:`truenorth.testing`. Plugins that read YAML files of their own (a canvas,
ratings) use :func:`parse_yaml` / :func:`load_yaml`: the pack loader's safe, located parsing
(values plus ``Located.loc(path)``), so their errors carry file:line:column too. Everything under ``truenorth.engine`` that is not
re-exported is private.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# The exceptions are small and what callers catch; everything else loads on first use (module
# ``__getattr__``), so ``import truenorth`` and ``truenorth --help`` cost about what
# ``import polars`` costs, and a service pays for pydantic, YAML and the plugins when it
# first loads a pack.
from . import errors
from .errors import DataError, PackError, PluginError, RuleError, TruenorthError, UsageError

if TYPE_CHECKING:
    from .engine.engine import Engine
    from .engine.findings import FINDINGS_SCHEMA
    from .engine.hookspecs import hookimpl
    from .engine.records import (
        Finding,
        Location,
        Options,
        Reader,
        Reporter,
        Rule,
        RuleContext,
        RuleKind,
        RuleOutput,
        Severity,
    )
    from .engine.result import Result, RuleRun
    from .engine.templates import template_fields
    from .engine.yamlsrc import Located, PackLimits, load_yaml
    from .engine.yamlsrc import load_text as parse_yaml

    __version__: str

# public name -> (module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "Engine": (".engine.engine", "Engine"),
    "FINDINGS_SCHEMA": (".engine.findings", "FINDINGS_SCHEMA"),
    "hookimpl": (".engine.hookspecs", "hookimpl"),
    **{
        name: (".engine.records", name)
        for name in (
            "Finding",
            "Location",
            "Options",
            "Reader",
            "Reporter",
            "Rule",
            "RuleContext",
            "RuleKind",
            "RuleOutput",
            "Severity",
        )
    },
    "Result": (".engine.result", "Result"),
    "RuleRun": (".engine.result", "RuleRun"),
    "template_fields": (".engine.templates", "template_fields"),
    "Located": (".engine.yamlsrc", "Located"),
    "PackLimits": (".engine.yamlsrc", "PackLimits"),
    "load_yaml": (".engine.yamlsrc", "load_yaml"),
    "parse_yaml": (".engine.yamlsrc", "load_text"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module, __name__), attr)
    elif name == "__version__":  # importlib.metadata is slow to import: only when asked
        from ._version import __version__ as value
    elif not name.startswith("_"):
        try:  # a subpackage (truenorth.clv, truenorth.segment, ...), as after an explicit import
            value = import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # resolved once; later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "FINDINGS_SCHEMA",
    "DataError",
    "Engine",
    "Finding",
    "Located",
    "Location",
    "Options",
    "PackError",
    "PackLimits",
    "PluginError",
    "Reader",
    "Reporter",
    "Result",
    "Rule",
    "RuleContext",
    "RuleError",
    "RuleKind",
    "RuleOutput",
    "RuleRun",
    "Severity",
    "TruenorthError",
    "UsageError",
    "__version__",
    "errors",
    "hookimpl",
    "load_yaml",
    "parse_yaml",
    "template_fields",
]
