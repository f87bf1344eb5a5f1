"""The ``truenorth`` command line.

Exit codes (documented in ``truenorth --help``):

* 0 — clean: no findings at or above ``--fail-on`` (default ``none``: ``run`` reports
  without gating unless asked), no rule errors;
* 1 — findings at or above ``--fail-on`` (``truenorth test``: a pack test failed);
* 2 — usage error, invalid pack, unreadable, missing or invalid data, plugin error in strict
  mode. Bad data found while a rule runs (a rule raising :class:`~truenorth.errors.DataError`:
  an unknown Kano answer, an NPS of 11, a null customer id, a ragged CSV row) is a data error
  too: the rule is reported as ``error`` with the column/row/value, the other rules still run,
  and the exit code is 2 — unless another rule failed for another reason (then 3);
* 3 — a rule errored (could not run), or a reporter failed to write its output.

User errors print one located message per problem, never a traceback (``--debug`` shows one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .cli_listing import cmd_kinds, cmd_plugins, cmd_schema
from .cli_support import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_RULE_ERROR,
    _engines,
    _err,
    _parse_assignments,
    _registry,
    bundled_packs,
)

EPILOG = """\
exit codes:
  0  clean (no findings at or above --fail-on, no rule errors)
  1  findings at or above --fail-on (test: a pack test failed)
  2  usage error, invalid pack, missing/unreadable/invalid data (also a data error
     found while a rule runs, e.g. an unknown Kano answer), plugin error in strict mode
  3  a rule errored (a bug or failure other than bad input data)

environment:
  TRUENORTH_STRICT=1             plugin load errors are fatal (like --strict)
  TRUENORTH_DISABLE_PLUGINS=a,b  do not load these plugins (entry-point names)
  TRUENORTH_PLUGINS=x,y          load only these third-party plugins
"""


# ------------------------------------------------------------------------------ commands
def cmd_run(args: argparse.Namespace) -> int:
    from .errors import TruenorthError, UsageError
    from .io.datasets import apply_columns, read_dataset

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
    if out_root is not None:
        _prepare_out_dir(out_root)

    worst = EXIT_OK
    reporter_failed = False
    for engine in engines:
        data: dict[str, Any] = {}
        for role, p in data_paths.items():
            ds = engine.pack.datasets.get(role)
            if ds is None and role not in engine.pack.external:
                continue
            path = Path(p)
            reader = reg.reader_for(str(path), ds.spec.reader if ds else None)
            if reader is None:
                raise UsageError(f"--data {role}: no reader for {path.name}")
            lf = read_dataset(path, reader=reader, options=ds.spec.options if ds else {}, role=role)
            data[role] = (
                apply_columns(lf, ds.spec.columns, role=role, source=str(path)) if ds else lf
            )
        with _progress(engine) as progress:
            result = engine.run(data=data, fail_fast=args.fail_fast, progress=progress)
        if getattr(args, "debug", False):
            for rr in result.errors:
                if rr.traceback:
                    _err(f"--- traceback of rule {rr.id} ---\n{rr.traceback}")
        if args.explain and args.explain in {r.id for r in engine.rules}:
            # keep standard output parseable when a report (json, markdown, ...) goes there
            to_stderr = out_root is None and any(f != "console" for f in formats)
            _print_explain(engine, result, args.explain, sys.stderr if to_stderr else sys.stdout)
        out_dir = None
        if out_root is not None:
            out_dir = out_root if len(engines) == 1 else out_root / engine.name
            out_dir.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            reporter = reg.reporters[fmt]
            target = None
            if out_dir is not None and fmt != "console":
                target = out_dir / f"report{reporter.extension}" if reporter.extension else out_dir
            try:
                reporter.write(result, target)
            except TruenorthError:
                raise
            except Exception as exc:  # one broken reporter must not hide the others
                if getattr(args, "debug", False):
                    traceback.print_exc()
                provider = reg.provider("reporters", fmt)
                _err(
                    f"error: reporter {fmt!r} (plugin {provider}) failed: {type(exc).__name__}: {exc}"
                )
                reporter_failed = True
        code = result.exit_code(args.fail_on)
        worst = _worse(worst, code)
    if out_root is not None:
        _err(f"wrote {out_root}")
    return EXIT_RULE_ERROR if reporter_failed else worst


def _worse(a: int, b: int) -> int:
    """Combine exit codes of several packs: rule error (3) > invalid data (2) > findings (1)."""
    order = {EXIT_OK: 0, EXIT_FINDINGS: 1, EXIT_INVALID: 2, EXIT_RULE_ERROR: 3}
    return a if order.get(a, 4) >= order.get(b, 4) else b


def _prepare_out_dir(out_root: Path) -> None:
    """Create ``--out`` before any rule runs; a clear usage error when it cannot be a folder."""
    from .errors import UsageError

    if out_root.exists() and not out_root.is_dir():
        raise UsageError(f"--out {out_root}: exists and is not a folder (expected a folder path)")
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--out {out_root}: cannot create the folder: {exc.strerror or exc} "
            "(expected a writable folder path)"
        ) from None
    if not os.access(out_root, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out_root}: folder is not writable")


@contextlib.contextmanager
def _progress(engine: Any) -> Iterator[Any]:
    """A rich progress bar on stderr while rules run (only when stderr is a terminal)."""
    if not sys.stderr.isatty() or os.environ.get("TRUENORTH_NO_PROGRESS"):
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


def cmd_validate(args: argparse.Namespace) -> int:
    from .errors import PackError

    try:
        # the same --set as `run`: a param may decide whether a pack is valid (a threshold
        # that is not a number, a horizon without a unit)
        engines = _engines(args, _parse_assignments(args.set, "--set"))
    except PackError as exc:
        if args.json:
            sys.stdout.write(
                json.dumps({"ok": False, "problems": [p.to_dict() for p in exc.problems]}, indent=2)
                + "\n"
            )
            return EXIT_INVALID
        raise
    if args.json:
        packs = [
            {"pack": e.name, "rules": [r.id for r in e.rules], "files": e.pack.files}
            for e in engines
        ]
        sys.stdout.write(json.dumps({"ok": True, "packs": packs}, indent=2) + "\n")
    else:
        for e in engines:
            order = " → ".join(r.id for r in e.rules)
            print(f"ok: pack {e.name} ({len(e.rules)} rules: {order})")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    engines = _engines(args)
    total = failed = 0
    for e in engines:
        for outcome in e.run_tests():
            total += 1
            status = "PASS" if outcome.passed else "FAIL"
            print(
                f"{status} {e.name}: {outcome.name} ({outcome.location}) [{outcome.seconds * 1000:.0f} ms]"
            )
            if not outcome.passed:
                failed += 1
                for f in outcome.failures:
                    print(f"    {f}")
    print(
        f"{total - failed} passed, {failed} failed"
        + ("" if total else " (no tests in these packs)")
    )
    return EXIT_FINDINGS if failed else EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from .engine.workspace import write_workspace
    from .errors import UsageError

    target = Path(args.dir)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder (expected a new or empty folder)")
    if target.exists() and any(target.iterdir()) and not args.force:
        raise UsageError(f"{target} is not empty (use --force to write into it)")
    try:
        written = write_workspace(target, bundled_packs())
    except OSError as exc:
        raise UsageError(
            f"cannot write the workspace to {target}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target) else "")
        ) from None
    for p in written:
        print(f"wrote {p}")
    print(f"\nnext: cd {target} && truenorth run rules")
    print("      truenorth run local.yaml --plugin plugins/local_plugin.py   # your own rule kind")
    return EXIT_OK


# ------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="truenorth",
        description="Customer-value rule packs (YAML) run on your data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"truenorth {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--strict", action="store_true", help="plugin load errors are fatal")
        p.add_argument(
            "--plugin",
            action="append",
            metavar="MODULE_OR_FILE",
            help="load an extra plugin (module name or .py file); repeatable",
        )

    p = sub.add_parser(
        "run",
        help="run packs on data",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", help="pack files or folders (default: the bundled packs)")
    p.add_argument(
        "--data", action="append", metavar="ROLE=PATH", help="data file for a dataset role"
    )
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a pack param")
    p.add_argument("--out", metavar="DIR", help="write reports and tables into DIR")
    p.add_argument("--format", metavar="FMT[,FMT]", help="console,json,markdown,html,tables")
    p.add_argument(
        "--fail-on",
        choices=("none", "info", "warn", "fail"),
        default="none",
        help="exit 1 when findings at or above this severity exist (default: none — report"
        " only; use --fail-on fail or warn to gate a CI job)",
    )
    p.add_argument("--fail-fast", action="store_true", help="stop at the first rule that errors")
    p.add_argument(
        "--explain", metavar="RULE_ID", help="show the compiled rule and counts per step"
    )
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check packs (no data is read)")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: the bundled packs)")
    p.add_argument("--json", action="store_true", help="problems as JSON (for editors and CI)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a pack param")
    common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("test", help="run the test cases inside packs")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: the bundled packs)")
    common(p)
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("plugins", help="list plugins, what they provide, and load errors")
    p.add_argument("--json", action="store_true")
    common(p)
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("kinds", help="list rule kinds, or show one kind's options and docs")
    p.add_argument("kind", nargs="?")
    p.add_argument("--json", action="store_true", help="the kind's options as JSON Schema")
    common(p)
    p.set_defaults(func=cmd_kinds)

    p = sub.add_parser("schema", help="JSON Schema of the pack format (with installed kinds)")
    p.add_argument("--out", metavar="FILE")
    common(p)
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("init", help="create a workspace: sample data, a pack, a local plugin stub")
    p.add_argument("dir")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_init)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``truenorth`` command; returns the exit code."""
    from .errors import PackError, TruenorthError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or usage errors (2)
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_INVALID
    try:
        return int(args.func(args))
    except PackError as exc:
        _err(
            f"error: invalid pack: {exc}"
            if len(exc.problems) == 1
            else f"error: invalid pack, {exc}"
        )
        return EXIT_INVALID
    except TruenorthError as exc:
        _err(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in truenorth or a plugin: say so plainly
        if args.debug or os.environ.get("TRUENORTH_DEBUG"):
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)")
        return EXIT_RULE_ERROR


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
