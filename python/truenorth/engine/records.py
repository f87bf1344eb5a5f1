"""Typed records that plugins register, and the values rules exchange with the engine.

These are the public plugin API (re-exported from :mod:`truenorth`). Everything a rule kind
needs from the engine arrives through :class:`RuleContext`; everything it gives back is a
:class:`RuleOutput`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import polars as pl
from pydantic import BaseModel, ConfigDict

from ..errors import Location
from .findings import SEVERITIES, Finding, Severity

if TYPE_CHECKING:
    from .result import Result

# Location, Finding, Severity and SEVERITIES live below this module (errors, findings) so that
# nothing the engine's results need imports the plugin records; they are re-exported here.
__all__ = [
    "SEVERITIES",
    "Finding",
    "Location",
    "Options",
    "OptionsT",
    "Reader",
    "Reporter",
    "ReporterDefault",
    "Rule",
    "RuleContext",
    "RuleKind",
    "RuleOutput",
    "Schema",
    "Severity",
]

# A declared table schema: column name -> Polars dtype. ``None`` means "not known until run".
Schema = Mapping[str, pl.DataType | type[pl.DataType]]


class Options(BaseModel):
    """Base class of every rule kind's options model (the rule's ``with:`` mapping).

    Unknown keys are errors, so a typo never silently weakens a rule.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


#: The options model of a rule kind; ``RuleKind``, ``Rule`` and ``RuleContext`` are
#: generic over it, so ``ctx.rule.options`` has the kind's own options type.
OptionsT = TypeVar("OptionsT", bound=Options)


@dataclass(frozen=True)
class Rule(Generic[OptionsT]):
    """One rule of a pack, after parameter substitution and validation."""

    id: str
    kind: str
    options: OptionsT
    on: str | None = None
    when: str | None = None
    warn: str | None = None
    fail: str | None = None
    severity: Severity = "warn"
    action: str | None = None
    message: str | None = None
    location: Location | None = None
    description: str | None = None


@dataclass
class RuleOutput:
    """What a rule's evaluate function returns: named tables and findings."""

    tables: dict[str, pl.DataFrame | pl.LazyFrame] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Many findings at once, vectorised: a frame with (a subset of) the columns of
    # ``truenorth.FINDINGS_SCHEMA``; ``evidence`` may be a struct column.
    # Missing rule_id/kind/severity/action/location columns are filled in from the rule.
    findings_frame: pl.DataFrame | None = None


class RuleContext(Protocol[OptionsT]):
    """What the engine hands a rule's evaluate function.

    ``RuleContext[MyOptions]`` types ``ctx.rule.options`` as ``MyOptions``. For unit tests of an
    evaluate function, :func:`truenorth.testing.rule_context` builds one backed by the engine.
    """

    rule: Rule[OptionsT]
    params: Mapping[str, Any]

    def table(self, name: str) -> pl.LazyFrame:
        """A dataset role or a table produced by an earlier rule."""
        ...

    def has_table(self, name: str) -> bool: ...

    def resource(self, name: str | None = None) -> Any:
        """An in-memory object passed to ``Engine.run(resources=...)`` (``None`` if absent).

        Keyed by rule id by default, e.g. a fitted CLV model a service loaded once:
        ``engine.run(data=..., resources={"value": {"purchase": model, "spend": gg}})``.
        """
        ...

    def resolve_path(self, path: str) -> Path:
        """A path from the rule's options, resolved against the pack file's folder."""
        ...

    def finding(
        self,
        subject: str,
        message: str,
        *,
        severity: Severity | None = None,
        value: float | None = None,
        threshold: str | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> Finding:
        """A finding with rule id, kind, action and location filled in from the rule."""
        ...

    def check_thresholds(
        self, frame: pl.DataFrame, *, value: str = "value", subject: str = "subject"
    ) -> list[Finding]:
        """Evaluate the rule's ``warn``/``fail`` conditions on each row of ``frame``.

        ``fail`` wins over ``warn``; each row that meets one becomes a finding whose subject is
        the row's ``subject`` column and whose value is its ``value`` column.
        """
        ...

    def condition(self, text: str, schema: Mapping[str, Any] | None = None) -> pl.Expr:
        """Compile a condition (SQL expression) to a Polars expression (cached per run).

        With ``schema`` (e.g. ``lf.collect_schema()``), also check it against the real table:
        unknown columns or a non-boolean result raise ``ValueError`` with a clear message.
        The rule's own ``when``/``warn``/``fail`` were already checked at load time against the
        declared schemas; this catches what only the data can tell.
        """
        ...

    def note(self, step: str, count: int | None = None, **info: Any) -> None:
        """Record a step for ``truenorth run --explain`` (e.g. rows in, rows matched)."""
        ...

    def render(self, template: str, row: Mapping[str, Any]) -> str:
        """Fill a ``{column}`` message template from a row (missing names stay visible)."""
        ...


def _reads_on(options: Any, rule: Rule[Any]) -> Sequence[str]:
    return (rule.on,) if rule.on else ()


def _writes_nothing(options: Any, rule: Rule[Any]) -> Mapping[str, Schema | None]:
    return {}


#: The rule fields that can hold a condition (a SQL expression).
CONDITION_FIELDS: tuple[str, ...] = ("when", "warn", "fail")


@dataclass(frozen=True)
class RuleKind(Generic[OptionsT]):
    """A kind of rule: its options model, the tables it reads and writes, and how it runs.

    ``reads`` names the tables (dataset roles or tables of other rules) a rule needs;
    ``writes`` maps each table it produces to its declared schema (so conditions on it can be
    checked before any data is read), or ``None`` when the schema is only known at run time.

    Capabilities tell the engine what to check at load time, so a third-party kind gets the
    same checks as a built-in one by declaring them (the engine never looks at kind names):

    ``row_predicates``
        Which of ``when``/``warn``/``fail`` are row predicates over the rule's ``on`` table;
        their columns are checked against that table's declared schema. By default only
        ``when`` is; a kind whose ``warn``/``fail`` apply to a frame it computes (its
        metrics, handed to ``ctx.check_thresholds``) leaves them out.
    ``message_columns``
        ``message:`` placeholders name columns of the ``on`` table (one finding per row), so
        an unknown placeholder is an error at load time.
    ``filters_input``
        ``when:`` only keeps rows of the input table (``on``, or the only table the rule
        reads) and the kind uses no other row. The engine may then push the condition's
        simple parts into a database query (:mod:`truenorth.io.sql.pushdown`); the kind still
        applies the whole condition.

    Example::

        >>> import truenorth
        >>> kind = truenorth.RuleKind(
        ...     name="flag_rows", options_model=truenorth.Options,
        ...     evaluate=lambda ctx: truenorth.RuleOutput(),
        ...     row_predicates=("when", "warn", "fail"), message_columns=True)
        >>> kind.row_predicates
        ('when', 'warn', 'fail')
    """

    name: str
    options_model: type[OptionsT]
    evaluate: Callable[[RuleContext[OptionsT]], RuleOutput]
    reads: Callable[[OptionsT, Rule[OptionsT]], Sequence[str]] = _reads_on
    writes: Callable[[OptionsT, Rule[OptionsT]], Mapping[str, Schema | None]] = _writes_nothing
    summary: str = ""
    doc: str = ""
    # Optional load-time checks beyond the options model: ``validate(options, rule, vctx)`` with
    # a :class:`truenorth.engine.compiler.ValidationContext` (located errors, declared schemas,
    # condition compilation). Runs before any data is read.
    validate: Callable[[OptionsT, Rule[OptionsT], Any], None] | None = None
    # Example YAML snippets of rules of this kind, shown by ``truenorth kinds KIND``.
    examples: tuple[str, ...] = ()
    row_predicates: tuple[str, ...] = ("when",)
    message_columns: bool = False
    filters_input: bool = False


@dataclass(frozen=True)
class Reader:
    """Reads a dataset into a LazyFrame; chosen by file extension (``.csv``) or scheme."""

    name: str
    extensions: tuple[str, ...]
    read: Callable[[Path, Mapping[str, Any]], pl.LazyFrame]
    summary: str = ""


#: When ``truenorth run`` writes a format nobody asked for with ``--format``.
ReporterDefault = Literal["never", "always", "out"]


@dataclass(frozen=True)
class Reporter:
    """Writes a run's result in one format (console, json, markdown, html, ...).

    ``write(result, path)``: ``path`` is ``None`` for "the terminal / standard output";
    otherwise, when ``extension`` is set (``".json"``), the file to write (``OUT/report.json``),
    and when it is ``None``, the output *folder* (e.g. the ``tables`` reporter). Write files
    atomically with :func:`truenorth.io.atomic_write`.

    ``default`` says whether ``truenorth run`` without ``--format`` uses it: ``"always"``
    (the console summary), ``"out"`` (only when ``--out DIR`` is given) or ``"never"``.
    """

    name: str
    write: Callable[[Result, Path | None], None]
    extension: str | None = None
    summary: str = ""
    default: ReporterDefault = "never"
