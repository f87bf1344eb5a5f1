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

from . import errors
from ._version import __version__
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
from .errors import DataError, PackError, PluginError, RuleError, TruenorthError, UsageError

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
