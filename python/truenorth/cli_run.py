"""``truenorth run``: packs on data, the output set, the run history and the reporters.

Exit codes and the output-set protocol are documented in :mod:`truenorth.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .cli_history import RunHistory, write_diff
from .cli_support import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_RULE_ERROR,
    _engines,
    _err,
    _parse_assignments,
    _registry,
)


def cmd_run(args: argparse.Namespace) -> int:
    from .errors import UsageError

    params = _parse_assignments(args.set, "--set")
    data_paths = _parse_assignments(args.data, "--data")
    engines = _engines(args, params)
    reg = engines[0].registry if engines else _registry(args)
    formats = [f.strip() for f in (args.format or "").split(",") if f.strip()]
    if not formats:
        formats = reg.default_formats(out=bool(args.out))
    unknown = [f for f in formats if f not in reg.reporters]
    if unknown:
        raise UsageError(
            f"unknown format(s) {', '.join(unknown)} (available: {', '.join(sorted(reg.reporters))})"
        )
    roles = {r for e in engines for r in e.pack.datasets} | {
        r for e in engines for r in e.pack.external
    }
    bad = sorted(set(data_paths) - roles)
    if bad:
        raise UsageError(
            f"--data: no pack has dataset role(s) {', '.join(bad)} (roles: {', '.join(sorted(roles)) or 'none'})"
        )
    if args.explain and not any(args.explain in {r.id for r in e.rules} for e in engines):
        raise UsageError(f"--explain: no rule {args.explain!r} in the loaded packs")

    out_root = Path(args.out) if args.out else None
    if out_root is None and len(engines) > 1:
        documents = [f for f in formats if f != "console"]
        if documents:
            names = ", ".join(e.name for e in engines)
            raise UsageError(
                f"--format {','.join(documents)} without --out: standard output takes one "
                f"document, and {len(engines)} packs ({names}) would give one each; give --out "
                "DIR (a folder per pack) or run one pack at a time"
            )
    from .clv._budget import memory_limit, parse_memory

    if args.memory is not None:
        try:
            parse_memory(args.memory, "--memory")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    history = RunHistory(args, engines)  # a wrong --store/--baseline fails before any rule runs
    out_set = _open_out(out_root) if out_root is not None else None
    try:
        # summaries of large transaction logs spill to disk within this budget (clv/_spill.py)
        with memory_limit(args.memory, spill_dir=args.spill_dir, progress=not args.quiet):
            return _run_packs(args, engines, reg, formats, data_paths, out_set, history)
    finally:
        if out_set is not None:
            out_set.close()  # an unpublished set (an error, Ctrl-C) is removed; the lock freed


def _run_packs(
    args: argparse.Namespace,
    engines: list[Any],
    reg: Any,
    formats: list[str],
    data_paths: dict[str, str],
    out_set: Any,
    history: RunHistory,
) -> int:
    from .errors import OutputError, TruenorthError, UsageError
    from .io.datasets import apply_columns, read_dataset

    worst = EXIT_OK
    reporter_codes: list[int] = []
    packs_meta: list[dict[str, Any]] = []
    for engine in engines:
        data: dict[str, Any] = {}
        on_spark = getattr(args, "engine", "local") == "spark"  # Spark reads --data itself
        for role, p in {} if on_spark else data_paths.items():
            ds = engine.pack.datasets.get(role)
            if ds is None and role not in engine.pack.external:
                continue
            path = engine.data_path(p) if engine.data_root else Path(p)
            reader = reg.reader_for(str(path), ds.spec.reader if ds else None)
            if reader is None:
                raise UsageError(f"--data {role}: no reader for {path.name}")
            lf = read_dataset(path, reader=reader, options=ds.spec.options if ds else {}, role=role)
            data[role] = (
                apply_columns(lf, ds.spec.columns, role=role, source=str(path)) if ds else lf
            )
        spark_run = None
        if on_spark:
            # per-customer rules in Spark, the rest local (docs/guides/spark.md)
            try:
                from .spark.pack import run as spark_pack_run
            except ImportError as exc:  # the extra is not installed
                raise UsageError(f"--engine spark: {exc}") from None

            spark_run = spark_pack_run(
                engine, data=dict(data_paths), params=_parse_assignments(args.set, "--set")
            )
            result = spark_run.result
        else:
            with _progress(engine, quiet=args.quiet) as progress:
                result = engine.run(data=data, fail_fast=args.fail_fast, progress=progress)
        result.fail_on = args.fail_on
        if getattr(args, "debug", False):
            for rr in result.errors:
                if rr.traceback:
                    _err(f"--- traceback of rule {rr.id} ---\n{rr.traceback}")
        diff = history.after_run(engine, result, _new_run_id())  # before the reports show it
        for rr in result.errors:  # whatever the format, and wherever the report goes
            _err(f"{rr.status}: pack {result.pack}: rule {rr.id} ({rr.location}): {rr.error}")
        if args.explain and args.explain in {r.id for r in engine.rules}:
            # keep standard output parseable when a report (json, markdown, ...) goes there
            if out_set is None and any(f != "console" for f in formats):
                _print_explain(engine, result, args.explain, sys.stderr)
            else:
                _to_stdout(_print_explain, engine, result, args.explain, sys.stdout)
        out_dir = None
        if out_set is not None:
            out_dir = out_set.staging / engine.name
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(
                    f"--out {out_set.target}: {exc.strerror or exc}; nothing was published"
                ) from None
        if spark_run is not None and out_dir is not None:
            from .spark.pack import write_tables

            write_tables(spark_run, out_dir)
        for fmt in formats:
            reporter = reg.reporters[fmt]
            target = None
            if out_dir is not None and fmt != "console":
                target = out_dir / f"report{reporter.extension}" if reporter.extension else out_dir
            try:
                if target is None:
                    _to_stdout(reporter.write, result, None)
                else:
                    reporter.write(result, target)
            except TruenorthError:
                raise
            except Exception as exc:  # one broken reporter must not hide the others
                if getattr(args, "debug", False):
                    traceback.print_exc()
                reporter_codes.append(_reporter_failed(reg, fmt, exc, out_set))
        if diff is not None and "console" in formats:
            _to_stdout(write_diff, diff, "console", sys.stdout)
        gate_new = args.fail_on == "new"
        worst = _worse(worst, result.exit_code("none" if gate_new else args.fail_on))
        if gate_new and diff is not None and diff.new:
            worst = _worse(worst, EXIT_FINDINGS)
        packs_meta.append({"pack": engine.name, "folder": engine.name, "params": result.params})
    for code in reporter_codes:
        worst = _worse(worst, code)
    if not reporter_codes:
        history.save(quiet=args.quiet)
    if out_set is None:
        return worst
    if reporter_codes:
        _err(f"error: --out {out_set.target}: nothing was published (the folder is unchanged)")
        return worst
    meta = {"layout": "<pack>/report.<ext> and <pack>/<table>.<ext>", "packs": packs_meta}
    try:
        manifest = out_set.publish(json.loads(json.dumps(meta, default=str)))
    except OutputError as exc:
        raise OutputError(f"--out {exc}") from None
    if not args.quiet:
        _err(f"wrote {args.out} (run {out_set.run_id}, {len(manifest['files'])} files)")
    return worst


def _new_run_id() -> str:
    from .io.outset import new_run_id

    return new_run_id()


def _open_out(out_root: Path) -> Any:
    """Lock ``--out`` and open its output set before any rule runs (see io/outset.py)."""
    from .errors import OutputError
    from .io.outset import OutputSet

    try:
        return OutputSet.open(out_root)
    except OutputError as exc:
        raise OutputError(f"--out {exc}") from None


def _reporter_failed(reg: Any, fmt: str, exc: Exception, out_set: Any) -> int:
    """Say why a reporter failed; I/O failures (disk full, permissions) exit 2, bugs 3."""
    if isinstance(exc, OSError) and out_set is not None:
        where = f" ({exc.filename})" if exc.filename else ""
        _err(
            f"error: --out {out_set.target}: cannot write the {fmt!r} output: "
            f"{exc.strerror or exc}{where}"
        )
        return EXIT_INVALID
    provider = reg.provider("reporters", fmt)
    _err(f"error: reporter {fmt!r} (plugin {provider}) failed: {type(exc).__name__}: {exc}")
    return EXIT_INVALID if isinstance(exc, OSError) else EXIT_RULE_ERROR


def _to_stdout(write: Any, *args: Any) -> None:
    """Run ``write(*args)`` (which prints to standard output) and flush it.

    A reader that stops reading (``| head -1``) ends what goes to standard output, not the run:
    the rest is discarded and the files under ``--out`` are still written and published.
    """
    try:
        write(*args)
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()


def _discard_stdout() -> None:
    """Point standard output at the null device, so later writes (and the flush at exit) do not
    fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file descriptor (an embedding host)
        pass


def _worse(a: int, b: int) -> int:
    """Combine exit codes of several packs: rule error (3) > invalid data (2) > findings (1)."""
    order = {EXIT_OK: 0, EXIT_FINDINGS: 1, EXIT_INVALID: 2, EXIT_RULE_ERROR: 3}
    return a if order.get(a, 4) >= order.get(b, 4) else b


@contextlib.contextmanager
def _progress(engine: Any, quiet: bool = False) -> Iterator[Any]:
    """A rich progress bar on stderr while rules run (only when stderr is a terminal)."""
    if quiet or not sys.stderr.isatty() or os.environ.get("TRUENORTH_NO_PROGRESS"):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} rules"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(engine.name, total=len(engine.rules))

        def progress(event: str, rule_id: str, rule_run: Any) -> None:
            if event == "start":
                bar.update(task, description=f"{engine.name}: {rule_id}")
            else:
                bar.advance(task)

        yield progress


def _print_explain(engine: Any, result: Any, rule_id: str, stream: Any) -> None:
    info = engine.explain(rule_id)
    rr = result.rule(rule_id) if any(r.id == rule_id for r in result.rules) else None
    lines = [
        f"explain {rule_id} ({info['kind']}) at {info['location']} — step {info['order']} of {len(engine.rules)}",
        f"  reads:  {', '.join(info['reads']) or '-'}",
        f"  writes: {', '.join(info['writes']) or '-'}",
        f"  options: {json.dumps(info['options'], default=str)}",
    ]
    for field_name, compiled in info["conditions"].items():
        text = info["condition_texts"].get(field_name, "")
        lines.append(f"  {field_name}: {text}")
        lines.append(f"    compiled: {compiled}")
    if rr is not None:
        lines.append(f"  status: {rr.status} in {rr.seconds * 1000:.1f} ms, {rr.findings} findings")
        for step in rr.explain:
            extra = {k: v for k, v in step.items() if k not in ("step", "count")}
            count = step.get("count")
            lines.append(
                f"    {step['step']}: {'' if count is None else count}{'  ' + json.dumps(extra, default=str) if extra else ''}"
            )
        if rr.error:
            lines.append(f"  error: {rr.error}")
    stream.write("\n".join(lines) + "\n")
