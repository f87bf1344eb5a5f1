"""truenorth: a customer-value rules engine.

The public API for plugin authors is re-exported here; everything under ``truenorth.engine``
that is not re-exported is private.
"""

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("truenorth")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = [
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
    "__version__",
    "hookimpl",
]
