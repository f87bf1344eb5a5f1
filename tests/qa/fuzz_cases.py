"""Fuzz cases, executed inside the guarded worker (see ``fuzz_harness``).

Each function loads and runs one generated pack and classifies what happened into an
:class:`~fuzz_harness.Outcome`. The checks that need the worker's own state (where the temporary
files are, whether a loaded pack may read a path) are made here; the test asserts on outcomes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from fuzz_harness import Outcome

import truenorth
from truenorth.engine.binding import dataset_path
from truenorth.engine.plugins import load_registry

_REGISTRY: Any = None
# what attribute access or a repr of an object would put into a message
INTERNALS = re.compile(r"<(built-in|bound method|method-wrapper|class |function )|object at 0x")
MAX_MESSAGE = 5_000

CSV = "customer,clv,segment\na,5.5,gold\nb,,silver\nc,1e300,\nd,-0.0,gold\n"


def _registry() -> Any:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def _located(exc: truenorth.TruenorthError) -> bool:
    if isinstance(exc, truenorth.PackError):
        return bool(exc.problems) and all(
            p.location is not None and p.location.line >= 1 and p.location.column >= 1
            for p in exc.problems
        )
    # data and usage errors name the dataset, column, row or option rather than a YAML position
    return bool(str(exc).strip())


def _error(exc: truenorth.TruenorthError) -> Outcome:
    return Outcome("error", type(exc).__name__, str(exc)[:2000], _located(exc))


def _result(result: truenorth.Result) -> Outcome:
    messages = result.findings["message"].to_list() if result.findings.height else []
    longest = max((len(m or "") for m in messages), default=0)
    leaked = [m for m in messages if m and INTERNALS.search(m)]
    errors = [
        {"rule": r.id, "error": r.error, "data_error": r.data_error}
        for r in result.rules
        if r.status == "error"
    ]
    return Outcome(
        "result",
        info={
            "longest_message": longest,
            "leaked": leaked[:3],
            "rule_errors": errors,
            "findings": result.findings.height,
        },
    )


def pack_case(text: str, data_root: bool, links: dict[str, str]) -> Outcome:
    """Write a generated pack into a fresh root folder and load + run it.

    ``text`` may say ``{ROOT}``/``{OUTSIDE}`` for the absolute folders; ``links`` maps link
    names in the root to targets (``{ROOT}/...`` or ``{OUTSIDE}/...``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        outside = Path(tmp) / "outside"
        for folder in (root, outside, root / "sub"):
            folder.mkdir()
        (root / "c.csv").write_text(CSV)
        (outside / "secret.csv").write_text("customer,clv,segment\nSECRET,99,x\n")

        def fill(s: str) -> str:
            return s.replace("{ROOT}", str(root)).replace("{OUTSIDE}", str(outside))

        for name, target in links.items():
            (root / name).symlink_to(fill(target))
        pack = root / "p.yaml"
        pack.write_text(fill(text), encoding="utf-8")
        try:
            engine = truenorth.Engine.load(
                pack, registry=_registry(), data_root=root if data_root else None
            )
        except truenorth.TruenorthError as exc:
            return _error(exc)
        read = {}
        for role, ds in engine.pack.datasets.items():
            if ds.spec.path is not None:
                read[role] = str(dataset_path(ds, engine.data_root).resolve())
        escaped = [p for p in read.values() if data_root and not p.startswith(str(root) + "/")]
        try:
            result = engine.run()
        except truenorth.TruenorthError as exc:
            out = _error(exc)
        else:
            out = _result(result)
            secret = [m for m in result.findings["message"].to_list() if m and "SECRET" in m]
            out.info["secret_in_findings"] = bool(secret)
        out.info["escaped"] = escaped
        return out


def kind_case(
    kind: str,
    options: dict[str, Any],
    tables: dict[str, pl.DataFrame],
    rule: dict[str, Any],
    files: dict[str, str] | None = None,
) -> Outcome:
    """One rule of ``kind`` on generated frames (``files`` are written beside the pack)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in (files or {}).items():
            (Path(tmp) / name).write_text(content)
        doc = {
            "truenorth": 1,
            "pack": "fuzz",
            "rules": [{"id": "r", "kind": kind, "with": dict(options), **rule}],
        }
        try:
            engine = truenorth.Engine.load(doc, registry=_registry(), data_root=tmp)
            result = engine.run(data=tables)
        except truenorth.TruenorthError as exc:
            return _error(exc)
        return _result(result)


def runaway_case(what: str) -> Outcome:
    """What the guard must stop: the old renderer on a huge width, or plain busy work."""
    if what == "old-renderer":
        # str.format as truenorth used it before templates were checked: 100 MB per finding
        kept = ["{customer:>100000000}".format_map({"customer": "x"}) for _ in range(30)]
        return Outcome("result", info={"kept": len(kept)})
    if what == "busy":
        while True:
            pass
    if what == "alloc":
        return Outcome("result", info={"n": len(bytearray(64 * 1024**3))})
    return Outcome("result")
