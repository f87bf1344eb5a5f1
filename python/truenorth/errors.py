"""Errors truenorth raises for bad input.

Every user-facing error derives from :class:`TruenorthError`; the CLI prints ``str(error)`` and
exits with :attr:`TruenorthError.exit_code` instead of a traceback.

Example::

    >>> from truenorth.errors import Location, PackError, Problem
    >>> err = PackError([Problem("unknown key 'whn'", Location("p.yaml", 7, 5), rule_id="r1",
    ...                          expected="one of: id, kind, when")])
    >>> print(err)
    p.yaml:7:5: rule 'r1': unknown key 'whn' (expected one of: id, kind, when)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where something stands in a YAML file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One located problem in a pack: what is wrong, where, in which rule, what was expected."""

    message: str
    location: Location | None = None
    rule_id: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}: ")
        if self.rule_id:
            parts.append(f"rule '{self.rule_id}': ")
        parts.append(self.message)
        if self.expected:
            parts.append(f" (expected {self.expected})")
        return "".join(parts)

    def to_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
            "rule_id": self.rule_id,
            "expected": self.expected,
        }


class TruenorthError(Exception):
    """Base of all errors caused by user input (packs, data, options, plugins)."""

    exit_code = 2


class PackError(TruenorthError):
    """A pack is invalid. Holds *every* problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._text()


class DataError(TruenorthError):
    """A dataset is missing, unreadable, or lacks a column the pack declares."""


class PluginError(TruenorthError):
    """A plugin failed to load or register (raised only in strict mode), or names clash."""


class UsageError(TruenorthError):
    """Bad command-line or API usage (unknown format, bad ``--set``, ...)."""


class OutputError(TruenorthError):
    """An output set could not be written or published: a locked, unusable or foreign target
    folder, or an I/O failure (disk full, permissions). Nothing of the run was published."""


class RuleError(TruenorthError):
    """A rule could not run. Raised by :meth:`Result.raise_for_errors` and in fail-fast mode."""

    exit_code = 3


__all__ = [
    "DataError",
    "Location",
    "OutputError",
    "PackError",
    "PluginError",
    "Problem",
    "RuleError",
    "TruenorthError",
    "UsageError",
]
