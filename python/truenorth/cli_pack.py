"""``truenorth validate``, ``test`` and ``init``: the commands that check or create packs
without running them on data (``run`` and its output set live in :mod:`truenorth.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .cli_support import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    _engines,
    _parse_assignments,
    bundled_packs,
)


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
