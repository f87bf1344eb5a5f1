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
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from .cli_history import add_diff_parser, add_run_options
from .cli_listing import cmd_kinds, cmd_plugins, cmd_schema
from .cli_pack import cmd_init, cmd_test, cmd_validate
from .cli_run import _discard_stdout, cmd_run
from .cli_support import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_RULE_ERROR,
    _err,
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
