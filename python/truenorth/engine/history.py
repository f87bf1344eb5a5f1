"""Run history: what a run keeps (:func:`record`) and what changed between two runs
(:func:`compare`).

Findings are matched by rule id + subject (a rule's finding about the same customer, segment or
KPI is "the same finding", whatever its message or value now says); metric deltas come from the
tables a pack keeps (``keep:``), rows matched on their text/date columns; rules whose outcome
(clean, the worst severity found, error, skipped) changed are listed; and the pack and params
hashes say whether a moved number may come from a changed pack rather than a changed business.

Example::

    >>> import truenorth
    >>> engine = truenorth.Engine.load({"truenorth": 1, "pack": "demo", "params": {"limit": 100},
    ...     "rules": [{"id": "big", "kind": "condition", "on": "t", "when": "clv > ${limit}",
    ...                "with": {"subject": "customer"}}]})
    >>> import polars as pl
    >>> df = pl.DataFrame({"customer": ["a", "b"], "clv": [50.0, 150.0]})
    >>> before = record(engine.run(data={"t": df}), engine, run_id="r1")
    >>> after = record(engine.run(data={"t": df}, params={"limit": 10}), engine, run_id="r2")
    >>> d = compare(before, after)
    >>> [f["subject"] for f in d.new], [f["subject"] for f in d.unchanged], d.params_changed
    (['a'], ['b'], True)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ..io.runstore import StoredRun
from .result import Result, jsonable

SEVERITY_RANK = {"info": 1, "warn": 2, "fail": 3}


def pack_hash(engine: Any) -> str:
    """SHA-256 of the pack's content (every file's parsed YAML), not of where it lies: moving
    or reformatting a pack keeps its hash; changing a rule, a dataset or a default changes it."""
    docs = sorted(
        json.dumps(jsonable(f.doc.value), sort_keys=True, default=str) for f in engine.source.files
    )
    return hashlib.sha256("\n".join(docs).encode()).hexdigest()


def params_hash(params: dict[str, Any]) -> str:
    text = json.dumps(jsonable(params), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def record(result: Result, engine: Any, *, run_id: str, keep: list[str] | None = None) -> StoredRun:
    """What the store keeps of ``result``: meta, findings, rule outcomes, the ``keep:`` tables."""
    from .._version import __version__

    kept = engine.pack.keep if keep is None else keep  # `keep:` takes no ${params}
    worst: dict[str, str] = {}
    for rid, sev in result.findings.select("rule_id", "severity").iter_rows():
        if SEVERITY_RANK.get(sev, 0) > SEVERITY_RANK.get(worst.get(rid, ""), 0):
            worst[rid] = sev
    rules = pl.DataFrame(
        {
            "rule_id": [r.id for r in result.rules],
            "kind": [r.kind for r in result.rules],
            "status": [r.status for r in result.rules],
            "findings": [r.findings for r in result.rules],
            "outcome": [_outcome(r, worst) for r in result.rules],
            "seconds": [float(r.seconds) for r in result.rules],
        },
        schema={
            "rule_id": pl.String,
            "kind": pl.String,
            "status": pl.String,
            "findings": pl.Int64,
            "outcome": pl.String,
            "seconds": pl.Float64,
        },
    )
    meta = {
        "run_id": run_id,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "pack": result.pack,
        "pack_hash": pack_hash(engine),
        "params": jsonable(result.params),
        "params_hash": params_hash(result.params),
        "files": list(result.files),
        "truenorth": __version__,
        "counts": {k: int(v) for k, v in result.counts().items()},
    }
    tables = {t: result.tables[t] for t in kept if t in result.tables}
    return StoredRun(meta=meta, findings=result.findings, rules=rules, tables=tables)


def _outcome(rr: Any, worst: dict[str, str]) -> str:
    if rr.status != "ok":
        return str(rr.status)
    return worst.get(rr.id, "clean")


@dataclass
class RunDiff:
    """What changed from run ``a`` (the baseline) to run ``b``; see :func:`compare`."""

    a: dict[str, Any]
    b: dict[str, Any]
    new: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    flipped: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def pack_changed(self) -> bool:
        return self.a.get("pack_hash") != self.b.get("pack_hash")

    @property
    def params_changed(self) -> bool:
        return self.a.get("params_hash") != self.b.get("params_hash")

    def changed_params(self) -> dict[str, tuple[Any, Any]]:
        pa, pb = self.a.get("params") or {}, self.b.get("params") or {}
        return {k: (pa.get(k), pb.get(k)) for k in sorted({*pa, *pb}) if pa.get(k) != pb.get(k)}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``truenorth diff --format json``)."""

        def run(m: dict[str, Any]) -> dict[str, Any]:
            keys = ("run_id", "created", "pack", "pack_hash", "params_hash", "params")
            return {k: m.get(k) for k in keys}

        return jsonable(
            {
                "a": run(self.a),
                "b": run(self.b),
                "pack_changed": self.pack_changed,
                "params_changed": self.params_changed,
                "changed_params": {k: list(v) for k, v in self.changed_params().items()},
                "summary": {
                    "new": len(self.new),
                    "resolved": len(self.resolved),
                    "unchanged": len(self.unchanged),
                    "flipped": len(self.flipped),
                    "metrics_changed": len(self.metrics),
                },
                "new": self.new,
                "resolved": self.resolved,
                "unchanged": self.unchanged,
                "flipped": self.flipped,
                "metrics": self.metrics,
                "notes": self.notes,
            }
        )


_FINDING_COLS = ("rule_id", "subject", "severity", "message", "value")


def compare(a: StoredRun, b: StoredRun) -> RunDiff:
    """Compare run ``b`` against the baseline ``a``.

    Findings: a (rule id, subject) pair seen k times in ``a`` and m times in ``b`` gives
    min(k, m) unchanged findings and m - k new (or k - m resolved) ones.
    """
    diff = RunDiff(a=a.meta, b=b.meta)
    if a.meta.get("pack") != b.meta.get("pack"):
        diff.notes.append(f"different packs: {a.meta.get('pack')!r} and {b.meta.get('pack')!r}")
    _compare_findings(a.findings, b.findings, diff)
    _compare_rules(a.rules, b.rules, diff)
    for name in sorted(set(a.tables) | set(b.tables)):
        if name not in a.tables or name not in b.tables:
            which = "baseline" if name not in a.tables else "this run"
            diff.notes.append(f"table {name!r} is not kept in the {which}: not compared")
            continue
        _compare_table(name, a.tables[name], b.tables[name], diff)
    return diff


def _rows(frame: pl.DataFrame) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cols = [c for c in _FINDING_COLS if c in frame.columns]
    for row in frame.select(cols).iter_rows(named=True):
        out.setdefault((row["rule_id"], row.get("subject") or ""), []).append(row)
    return out


def _compare_findings(fa: pl.DataFrame, fb: pl.DataFrame, diff: RunDiff) -> None:
    ra, rb = _rows(fa), _rows(fb)
    for key in sorted(set(ra) | set(rb)):
        old, new = ra.get(key, []), rb.get(key, [])
        both = min(len(old), len(new))
        for before, after in zip(old[:both], new[:both], strict=True):
            diff.unchanged.append({**after, "baseline_severity": before.get("severity")})
        diff.new.extend(new[both:])
        diff.resolved.extend(old[both:])


def _compare_rules(ra: pl.DataFrame, rb: pl.DataFrame, diff: RunDiff) -> None:
    before = {r["rule_id"]: r for r in ra.iter_rows(named=True)}
    after = {r["rule_id"]: r for r in rb.iter_rows(named=True)}
    for rid in list(after) + [r for r in before if r not in after]:
        was = before.get(rid, {}).get("outcome", "absent")
        now = after.get(rid, {}).get("outcome", "absent")
        if was != now:
            diff.flipped.append({"rule_id": rid, "baseline": was, "now": now})


def _is_key(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Date, pl.Datetime) or isinstance(
        dtype, (pl.Enum, pl.Datetime, pl.Categorical)
    )


def _compare_table(name: str, ta: pl.DataFrame, tb: pl.DataFrame, diff: RunDiff) -> None:
    # rows are matched on the shortest run of leading text/date columns that names each row once
    # in both runs (e.g. rule_id, metric, subject of a KPI table); numbers are the metrics
    cand = [c for c in tb.columns if c in ta.columns and _is_key(tb.schema[c])]
    keys: list[str] | None = None
    for i in range(1, len(cand) + 1):
        k = cand[:i]
        if ta.select(k).is_unique().all() and tb.select(k).is_unique().all():
            keys = k
            break
    if keys is None:
        if ta.height == 1 and tb.height == 1:
            keys = []
        else:
            diff.notes.append(f"table {name!r}: no columns name each row once; not compared")
            return
    metrics = [
        c
        for c in tb.columns
        if c in ta.columns
        and c not in keys
        and tb.schema[c].is_numeric()
        and ta.schema[c].is_numeric()
    ]
    if not metrics:
        return
    right = tb.select(*keys, *metrics).rename({m: f"{m}__b" for m in metrics})
    if keys:
        left = ta.select(*keys, *metrics)
        joined = left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
    else:  # one row each (a single overall figure)
        joined = pl.concat([ta.select(metrics), right], how="horizontal")
    for row in joined.iter_rows(named=True):
        key = {k: row[k] for k in keys}
        for m in metrics:
            va, vb = row.get(m), row.get(f"{m}__b")
            if va == vb or (va is None and vb is None):
                continue
            if isinstance(va, float) and isinstance(vb, float) and va != va and vb != vb:
                continue  # NaN on both sides
            delta = vb - va if va is not None and vb is not None else None
            rel = delta / abs(va) if delta is not None and va not in (0, None) else None
            diff.metrics.append(
                {"table": name, "key": key, "column": m, "baseline": va, "now": vb,
                 "delta": delta, "relative": rel}
            )  # fmt: skip
