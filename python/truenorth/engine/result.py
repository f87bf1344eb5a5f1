"""The result of a run: tables, findings, per-rule status and timing.

Example::

    >>> import polars as pl, truenorth
    >>> engine = truenorth.Engine.load({"truenorth": 1, "pack": "demo", "rules": [
    ...     {"id": "big", "kind": "condition", "on": "customers", "when": "clv > 100"}]})
    >>> result = engine.run(data={"customers": pl.DataFrame({"customer": ["a", "b"],
    ...                                                       "clv": [50.0, 150.0]})})
    >>> result.findings.select("rule_id", "subject", "severity").rows()
    [('big', 'b', 'warn')]
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from ..errors import RuleError
from ..io.atomic import atomic_path, atomic_write_text
from .findings import (
    FINDINGS_SCHEMA,
    SEVERITIES,
    SEVERITY_RANK,
    Finding,
    findings_frame,
    jsonable,
    normalize_findings,
)

# re-exported: engine, reporters and tests import them from here
__all__ = [
    "FINDINGS_SCHEMA",
    "SEVERITY_RANK",
    "Result",
    "RuleRun",
    "Status",
    "findings_frame",
    "jsonable",
    "normalize_findings",
]

Status = Literal["ok", "error", "skipped"]


@dataclass
class RuleRun:
    """How one rule went: status, time, findings, tables written, error message."""

    id: str
    kind: str
    status: Status
    seconds: float
    findings: int = 0
    tables: list[str] = field(default_factory=list)
    error: str | None = None
    location: str | None = None
    description: str | None = None
    explain: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[str, str] = field(default_factory=dict)
    traceback: str | None = None
    #: the rule failed on bad input data (a :class:`~truenorth.errors.DataError` raised while it
    #: ran, e.g. an unknown Kano answer or an NPS of 11): the run exits 2, not 3
    data_error: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "seconds": round(self.seconds, 6),
            "findings": self.findings,
            "tables": self.tables,
            "error": self.error,
            "location": self.location,
            "description": self.description,
            "explain": jsonable(self.explain),
            "conditions": self.conditions,
            "data_error": self.data_error,
        }


@dataclass
class Result:
    """Tables, findings and per-rule status of one run of one pack."""

    pack: str
    params: dict[str, Any]
    tables: dict[str, pl.DataFrame]
    findings: pl.DataFrame
    rules: list[RuleRun]
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    #: the SQL each database dataset was read with (role → query), see truenorth.io.sql
    queries: dict[str, str] = field(default_factory=dict)
    #: what changed since a baseline run (``run --baseline``), a
    #: :class:`truenorth.engine.history.RunDiff`; reporters show it when set
    baseline: Any = None
    #: the severity the run is gated on (the CLI's ``--fail-on``; ``none``: no gate), for
    #: reporters that mark pass/fail per rule (``junit``)
    fail_on: str = "none"

    def __repr__(self) -> str:
        status = ", ".join(f"{r.id}={r.status}" for r in self.rules)
        counts = {k: v for k, v in self.counts().items() if v}
        tables = ", ".join(f"{n}[{df.height}]" for n, df in self.tables.items())
        return f"Result(pack={self.pack!r}, rules=({status}), findings={counts}, tables=({tables}))"

    # ------------------------------------------------------------------ summaries
    def finding_records(self) -> list[Finding]:
        """Findings as :class:`~truenorth.Finding` records (evidence decoded from JSON)."""
        out = []
        for row in self.findings.iter_rows(named=True):
            out.append(
                Finding(
                    rule_id=row["rule_id"],
                    kind=row["kind"],
                    severity=row["severity"],
                    subject=row["subject"],
                    message=row["message"],
                    value=row["value"],
                    threshold=row["threshold"],
                    evidence=json.loads(row["evidence"]) if row["evidence"] else {},
                    action=row["action"],
                    location=row["location"],
                )
            )
        return out

    def counts(self) -> dict[str, int]:
        """Number of findings per severity (every severity present as a key)."""
        counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        if self.findings.height:
            for sev, n in self.findings.group_by("severity").len().iter_rows():
                counts[sev] = n
        return counts

    @property
    def errors(self) -> list[RuleRun]:
        """Rules that errored or were skipped because an input was missing."""
        return [r for r in self.rules if r.status != "ok"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def exit_code(self, fail_on: str = "fail") -> int:
        """0 clean; 1 findings at or above ``fail_on`` (``"none"``: never); 2 invalid data; 3 a
        rule errored.

        A rule that failed on bad input data (it raised :class:`~truenorth.errors.DataError`,
        see :attr:`RuleRun.data_error`) gives 2, like data that cannot be read at all — unless
        another rule errored for a different reason, which gives 3. Rules skipped because an
        input table's rule failed follow the rule that failed.
        """
        if self.errors:
            hard = [r for r in self.errors if r.status == "error" and not r.data_error]
            if not hard and any(r.data_error for r in self.errors):
                return 2
            return 3
        if fail_on == "none":
            return 0
        threshold = SEVERITY_RANK[fail_on]
        counts = self.counts()
        if any(n and SEVERITY_RANK[s] >= threshold for s, n in counts.items() if s != "error"):
            return 1
        return 0

    def raise_for_errors(self) -> None:
        """Raise :class:`~truenorth.errors.RuleError` if any rule errored."""
        if self.errors:
            lines = [f"{r.id} ({r.kind}): {r.error}" for r in self.errors]
            raise RuleError("rules failed:\n  " + "\n  ".join(lines))

    def rule(self, rule_id: str) -> RuleRun:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    # ------------------------------------------------------------------ serialisation
    def to_dict(
        self, *, include_tables: bool = False, max_rows: int | None = None
    ) -> dict[str, Any]:
        """A JSON-ready dict: pack, params, counts, rules, findings (+ tables if asked)."""
        findings = []
        for row in self.findings.iter_rows(named=True):
            row = dict(row)
            row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else {}
            findings.append(jsonable(row))
        out: dict[str, Any] = {
            "pack": self.pack,
            "params": jsonable(self.params),
            "files": self.files,
            "seconds": round(self.seconds, 6),
            "counts": self.counts(),
            "rules": [r.to_dict() for r in self.rules],
            "findings": findings,
            "tables": {
                name: {"rows": df.height, "columns": df.columns} for name, df in self.tables.items()
            },
        }
        if include_tables:
            for name, df in self.tables.items():
                frame = df if max_rows is None else df.head(max_rows)
                out["tables"][name]["data"] = [jsonable(r) for r in frame.iter_rows(named=True)]
        if self.queries:
            out["queries"] = dict(self.queries)
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_dict()
        return out

    def to_json(
        self, path: str | Path | None = None, *, include_tables: bool = False, indent: int = 2
    ) -> str:
        """The result as JSON text; also written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(include_tables=include_tables), indent=indent) + "\n"
        if path is not None:
            atomic_write_text(path, text)
        return text

    def write_tables(self, folder: str | Path, *, format: str = "parquet") -> list[Path]:
        """Write every table (and ``findings``) as ``folder/<name>.parquet`` or ``.csv``."""
        if format not in ("parquet", "csv"):
            raise ValueError("format must be 'parquet' or 'csv'")
        folder = Path(folder)
        written = []
        for name, df in {**self.tables, "findings": self.findings}.items():
            target = folder / f"{name}.{format}"
            with atomic_path(target) as tmp:
                try:
                    if format == "parquet":
                        df.write_parquet(tmp)
                    else:
                        _csv_safe(df).write_csv(tmp)
                except (pl.exceptions.ComputeError, OSError) as exc:
                    raise _as_os_error(exc, target) from None
            written.append(target)
        return written


def _as_os_error(exc: Exception, path: Path) -> Exception:
    """Polars reports a failed write (disk full) as a ComputeError (Parquet) or an OSError
    without errno (CSV), the OS error inside the text; a plain OSError with errno and file name
    lets callers treat it as the I/O failure it is.

    >>> _as_os_error(OSError("No space left on device (os error 28)"), Path("t.csv")).errno
    28
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc
    found = re.search(r"os error (\d+)", str(exc))
    if found is None:
        return exc
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def _csv_safe(df: pl.DataFrame) -> pl.DataFrame:
    """CSV cannot hold nested columns: encode lists/structs as JSON text."""
    nested = [c for c, t in df.schema.items() if isinstance(t, (pl.List, pl.Struct, pl.Array))]
    if not nested:
        return df
    return df.with_columns(
        pl.col(c).map_elements(lambda v: json.dumps(jsonable(v)), return_dtype=pl.String)
        for c in nested
    )
