"""Findings: the record a rule reports, its severities, and findings as one Polars frame.

Below the plugin records and the run result (both import it), so results never need the
plugin API. Example::

    >>> f = Finding("r1", "condition", "warn", "alice", "alice is lapsing", value=0.2)
    >>> findings_frame([f]).select("subject", "severity", "value").rows()
    [('alice', 'warn', 0.2)]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

import polars as pl

Severity = Literal["info", "warn", "fail", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warn", "fail", "error")


@dataclass(frozen=True)
class Finding:
    """One thing a rule found. ``evidence`` holds the values that triggered it."""

    rule_id: str
    kind: str
    severity: Severity
    subject: str
    message: str
    value: float | None = None
    threshold: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    action: str | None = None
    location: str | None = None


FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "kind": pl.String(),
    "severity": pl.String(),
    "subject": pl.String(),
    "message": pl.String(),
    "value": pl.Float64(),
    "threshold": pl.String(),
    "evidence": pl.String(),  # JSON object
    "action": pl.String(),
    "location": pl.String(),
}
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
_SCHEMA = pl.Schema(FINDINGS_SCHEMA)
_EMPTY = pl.DataFrame(schema=FINDINGS_SCHEMA)
_ALLOWED_SEVERITIES = {*SEVERITIES, None}  # a null severity passes the check, as it always has


def jsonable(value: Any) -> Any:
    """Convert Polars/Python values to JSON-friendly ones (dates → ISO strings, NaN → null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, pl.Series):
        return [jsonable(v) for v in value.to_list()]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def findings_frame(findings: list[Finding]) -> pl.DataFrame:
    """Findings as a DataFrame with :data:`FINDINGS_SCHEMA` (evidence as JSON text)."""
    if not findings:
        return empty_findings()
    rows = {k: [] for k in FINDINGS_SCHEMA}  # type: dict[str, list[Any]]
    for f in findings:
        rows["rule_id"].append(f.rule_id)
        rows["kind"].append(f.kind)
        rows["severity"].append(f.severity)
        rows["subject"].append(None if f.subject is None else str(f.subject))
        rows["message"].append(f.message)
        v = f.value
        rows["value"].append(
            float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        )
        rows["threshold"].append(f.threshold)
        rows["evidence"].append(json.dumps(jsonable(dict(f.evidence or {})), sort_keys=True))
        rows["action"].append(f.action)
        rows["location"].append(None if f.location is None else str(f.location))
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA)


def empty_findings() -> pl.DataFrame:
    """A new empty frame with :data:`FINDINGS_SCHEMA` (building one from the schema costs
    about 0.1 ms; most rules of a run find nothing)."""
    return _EMPTY.clear()


def normalize_findings(frame: pl.DataFrame, rule: Any) -> pl.DataFrame:
    """A kind's vectorised findings frame → :data:`FINDINGS_SCHEMA`, defaults from the rule."""
    unknown = [c for c in frame.columns if c not in FINDINGS_SCHEMA]
    if unknown:
        raise TypeError(
            f"findings_frame has unknown column(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(FINDINGS_SCHEMA)})"
        )
    if "subject" not in frame.columns or "message" not in frame.columns:
        raise TypeError("findings_frame needs at least 'subject' and 'message' columns")
    defaults: dict[str, Any] = {
        "rule_id": rule.id,
        "kind": rule.kind,
        "severity": rule.severity,
        "value": None,
        "threshold": None,
        "evidence": "{}",
        "action": rule.action,
        "location": str(rule.location) if rule.location else None,
    }
    if frame.schema == _SCHEMA:  # already normalised: check, do not copy
        out = frame
    else:
        out = frame.select(_normalising_exprs(frame, defaults))
    severity = out.get_column("severity")
    # a set of a few thousand strings is built faster than Polars runs one more operation
    seen = set(severity.to_list() if severity.len() <= 4096 else severity.unique().to_list())
    if not seen <= _ALLOWED_SEVERITIES:
        bad = ~severity.is_in(list(SEVERITIES))
        raise TypeError(f"findings_frame: invalid severity {severity.filter(bad)[0]!r}")
    return out


def _normalising_exprs(frame: pl.DataFrame, defaults: dict[str, Any]) -> list[pl.Expr]:
    exprs = []
    for col, dtype in FINDINGS_SCHEMA.items():
        if col not in frame.columns:
            exprs.append(pl.lit(defaults[col], dtype=dtype).alias(col))
        elif col == "evidence" and isinstance(frame.schema[col], pl.Struct):
            exprs.append(pl.col(col).struct.json_encode().alias(col))
        else:
            exprs.append(pl.col(col).cast(dtype).alias(col))
    return exprs
