"""The ``truenorth`` command line.

Exit codes (documented in ``truenorth --help``):

* 0 — clean: no findings at or above ``--fail-on`` (default ``none``: ``run`` reports
  without gating unless asked), no rule errors;
* 1 — findings at or above ``--fail-on`` (``truenorth test``: a pack test failed);
* 2 — usage error, invalid pack, unreadable, missing or invalid data, plugin error in strict
  mode. Bad data found while a rule runs (a rule raising :class:`~truenorth.errors.DataError`:
  an unknown Kano answer, an NPS of 11, a null customer id, a ragged CSV row) is a data error
  too: the rule is reported as ``error`` with the column/row/value, the other rules still run,
  and the exit code is 2 — unless another rule failed for another reason (then 3). Output
  that cannot be written (``--out`` locked by another run, disk full, no permission) is 2 too;
* 3 — a rule errored (could not run), or a reporter failed (a bug in it).

``run --out DIR`` publishes the whole output set at once (see :mod:`truenorth.io.outset`): the
folder holds the previous run's complete set or this run's, never a mix; a run that fails
publishes nothing.

User errors print one located message per problem, never a traceback (``--debug`` shows one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .cli_history import RunHistory, add_diff_parser, add_run_options, write_diff
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
  1  findings at or above --fail-on, or new since --baseline with --fail-on new
     (test: a pack test failed)
  2  usage error, invalid pack, missing/unreadable/invalid data (also a data error
     found while a rule runs, e.g. an unknown Kano answer), plugin error in strict mode
     or output that cannot be written (--out locked by another run, disk full)
  3  a rule errored (a bug or failure other than bad input data), a reporter failed

output (run --out DIR):
  DIR/<pack>/report.<ext> and DIR/<pack>/<table>.parquet|csv for every pack, one or
  several; DIR/_manifest.json names the run id and every file with its SHA-256.
  The set is written beside DIR and swapped in at the end: DIR holds the previous
  complete set or the new one, never a mix; a failed run publishes nothing. DIR must
  be new, empty or written by an earlier run. A second run into the same DIR while
  one is writing fails at once (exit 2, naming the other run's pid).
  Without --out, standard output takes one document: --format json/markdown/html
  with several packs is refused. A closed standard output (| head) does not stop
  the run; rule errors always go to standard error.

environment:
  TRUENORTH_STRICT=1             plugin load errors are fatal (like --strict)
  TRUENORTH_DISABLE_PLUGINS=a,b  do not load these plugins (entry-point names)
  TRUENORTH_PLUGINS=x,y          load only these third-party plugins
"""


# ------------------------------------------------------------------------------ commands
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
            {
                "pack": e.name,
                "rules": [r.id for r in e.rules],
                "files": e.pack.files,
                "warnings": [w.to_dict() for w in e.pack.warnings],
            }
            for e in engines
        ]
        sys.stdout.write(json.dumps({"ok": True, "packs": packs}, indent=2) + "\n")
    else:
        for e in engines:
            order = " → ".join(r.id for r in e.rules)
            print(f"ok: pack {e.name} ({len(e.rules)} rules: {order})")
            for w in e.pack.warnings:
                print(f"warning: {w}")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    engines = _engines(args)
    if getattr(args, "format", "console") == "junit":
        return _test_junit(engines)
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


def _test_junit(engines: list[Any]) -> int:
    """``truenorth test --format junit``: the pack tests as JUnit XML on standard output."""
    from .builtins.ci_reports import junit_document, tests_suite

    suites, failed = [], 0
    for e in engines:
        outcomes = list(e.run_tests())
        failed += sum(1 for o in outcomes if not o.passed)
        suites.append(tests_suite(e.name, outcomes))
    sys.stdout.write(junit_document(suites))
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
class _VersionAction(argparse._VersionAction):
    """``--version``, reading the installed version only when asked (importlib.metadata is
    slow to import, and every other command, ``--help`` included, does without it)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        from . import __version__

        self.version = f"truenorth {__version__}"
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="truenorth",
        description="Customer-value rule packs (YAML) run on your data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--strict", action="store_true", help="plugin load errors are fatal")
        if p.prog.split()[-1] in ("run", "validate", "test"):
            p.add_argument(
                "--data-root",
                metavar="DIR",
                help="only read data files inside DIR (pack paths and --data, after resolving"
                " symlinks and ..); default: any path, as written",
            )
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
        "--data",
        action="append",
        metavar="ROLE=PATH",
        help="data file for a dataset role (a literal path: no wildcards)",
    )
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a pack param")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write reports and tables into DIR/<pack>/, all at once (see 'output' below)",
    )
    p.add_argument("--format", metavar="FMT[,FMT]", help="console,json,markdown,html,tables")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no 'wrote DIR' line; errors and warnings still go to stderr",
    )
    p.add_argument(
        "--fail-on",
        choices=("none", "info", "warn", "fail", "new"),
        default="none",
        help="exit 1 when findings at or above this severity exist (default: none — report"
        " only; use --fail-on fail or warn to gate a CI job); new: findings new since"
        " --baseline",
    )
    p.add_argument("--fail-fast", action="store_true", help="stop at the first rule that errors")
    add_run_options(p)
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="spark: per-customer rules run in Apache Spark (truenorth[spark]); --data paths "
        "are read by Spark; Spark tables are written as Parquet folders under --out",
    )
    p.add_argument(
        "--explain", metavar="RULE_ID", help="show the compiled rule and counts per step"
    )
    p.add_argument(
        "--memory",
        metavar="SIZE",
        help="memory budget of customer summaries, e.g. 2GB, 512MiB, 50%% (default: "
        "TRUENORTH_MEMORY, else half the available memory); larger transaction logs are "
        "partitioned on disk",
    )
    p.add_argument(
        "--spill-dir",
        metavar="DIR",
        help="folder for those temporary partitions (default: TRUENORTH_SPILL_DIR, else the "
        "system temp folder); removed when the run ends",
    )
    common(p)
    p.set_defaults(func=cmd_run)

    add_diff_parser(sub)

    p = sub.add_parser("validate", help="check packs (no data is read)")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: the bundled packs)")
    p.add_argument("--json", action="store_true", help="problems as JSON (for editors and CI)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a pack param")
    common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("test", help="run the test cases inside packs")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: the bundled packs)")
    p.add_argument(
        "--format",
        choices=["console", "junit"],
        default="console",
        help="console lines (default) or JUnit XML on standard output (a test case per pack test)",
    )
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
    _setup_logging(bool(args.debug or os.environ.get("TRUENORTH_DEBUG")))
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
    except BrokenPipeError:  # a reader closed standard output early (`| head`)
        _discard_stdout()
        return EXIT_OK
    except Exception as exc:  # a bug in truenorth or a plugin: say so plainly
        if args.debug or os.environ.get("TRUENORTH_DEBUG"):
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)")
        return EXIT_RULE_ERROR


class _StderrHandler(logging.Handler):
    """Writes to the *current* sys.stderr (tests and callers swap it between runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        _err(f"{record.levelname.lower()}: {self.format(record)}")


def _setup_logging(debug: bool) -> None:
    """truenorth's own log lines (pack load times; slow loads are warnings) on stderr."""
    logger = logging.getLogger("truenorth")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
        logger.propagate = False


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
