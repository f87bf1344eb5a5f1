"""Run history on the command line: ``run --store PATH [--baseline RUN|latest]`` and
``truenorth diff [RUN_A] [RUN_B]`` (see :mod:`truenorth.io.runstore` for the store and
:mod:`truenorth.engine.history` for what is compared)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .builtins.diff_markdown import caveats as _caveats
from .builtins.diff_markdown import diff_markdown
from .builtins.diff_markdown import num as _num
from .cli_support import EXIT_FINDINGS, EXIT_OK

MAX_LINES = 20


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="PATH",
        help="keep this run in the run history at PATH (a folder; created when missing)",
    )
    p.add_argument(
        "--baseline",
        metavar="RUN",
        help="compare with a stored run of the same pack: a run id (or a unique prefix), "
        "'latest' or 'latest~N'; needs --store. --fail-on new exits 1 on findings new since it",
    )


def add_diff_parser(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="what changed between two stored runs (default: the last two of a pack)",
        description="Compare run B with run A (the baseline): new, resolved and unchanged "
        "findings (matched by rule id + subject), rules whose outcome changed, metric deltas "
        "of the tables the pack keeps, and whether the pack or its params changed.",
    )
    p.add_argument(
        "run_a", nargs="?", metavar="RUN_A", help="baseline run (default: the one before RUN_B)"
    )
    p.add_argument("run_b", nargs="?", metavar="RUN_B", help="later run (default: the latest)")
    p.add_argument("--store", metavar="PATH", required=True, help="the run history folder")
    p.add_argument("--pack", metavar="NAME", help="the pack (needed when the store holds several)")
    p.add_argument("--format", choices=("console", "json", "markdown"), default="console")
    p.add_argument(
        "--fail-on",
        choices=("none", "new"),
        default="none",
        help="new: exit 1 when run B has findings that run A did not",
    )
    p.set_defaults(func=cmd_diff)


# ------------------------------------------------------------------------------ diff
def cmd_diff(args: argparse.Namespace) -> int:
    from .engine.history import compare
    from .errors import UsageError
    from .io.runstore import RunStore

    store = RunStore.open(args.store, create=False)
    pack = args.pack
    if pack is None:
        ref = args.run_b or args.run_a
        if ref is not None and not ref.startswith("latest"):
            pack = store.load(store.resolve(ref)).meta.get("pack")
        else:
            packs = sorted({str(r.get("pack")) for r in store.runs()})
            if len(packs) > 1:
                raise UsageError(
                    f"--store {args.store} holds runs of several packs ({', '.join(packs)}): "
                    "give --pack NAME or run ids"
                )
            pack = packs[0] if packs else None
    if args.run_a is None:
        b_id = store.resolve("latest", pack)
        runs = [r["run_id"] for r in store.runs(pack)]
        if runs.index(b_id) == 0:
            raise UsageError(
                f"--store {args.store}: only one stored run of pack {pack!r}; nothing to compare"
            )
        a_id = runs[runs.index(b_id) - 1]
    else:
        a_id = store.resolve(args.run_a, pack)
        b_id = store.resolve(args.run_b or "latest", pack)
    diff = compare(store.load(a_id), store.load(b_id))
    write_diff(diff, args.format, sys.stdout)
    return EXIT_FINDINGS if args.fail_on == "new" and diff.new else EXIT_OK


def write_diff(diff: Any, fmt: str, stream: Any) -> None:
    if fmt == "json":
        stream.write(json.dumps(diff.to_dict(), indent=2) + "\n")
    elif fmt == "markdown":
        stream.write(markdown(diff))
    else:
        stream.write(console(diff))


def _metric_line(m: dict[str, Any]) -> str:
    key = ", ".join(f"{k}={v}" for k, v in m["key"].items())
    rel = "" if m["relative"] is None else f", {m['relative'] * 100:+.1f} %"
    delta = (
        "" if m["delta"] is None else f" ({'+' if m['delta'] > 0 else ''}{_num(m['delta'])}{rel})"
    )
    return f"{m['table']} [{key}] {m['column']}: {_num(m['baseline'])} → {_num(m['now'])}{delta}"


def console(diff: Any) -> str:
    a, b = diff.a, diff.b
    lines = [
        f"diff {b.get('pack')}: {a.get('run_id')} ({a.get('created')}) → "
        f"{b.get('run_id')} ({b.get('created')})"
    ]
    lines += [f"  ! {c}" for c in _caveats(diff)]
    lines.append(
        f"findings: {len(diff.new)} new, {len(diff.resolved)} resolved, "
        f"{len(diff.unchanged)} unchanged"
    )
    for title, sign, rows in (("new", "+", diff.new), ("resolved", "-", diff.resolved)):
        if rows:
            lines.append(f"{title}:")
            for r in rows[:MAX_LINES]:
                lines.append(
                    f"  {sign} {r.get('severity')}  {r['rule_id']}  {r.get('subject')}: {r.get('message')}"
                )
            if len(rows) > MAX_LINES:
                lines.append(f"  ... {len(rows) - MAX_LINES} more (--format json lists all)")
    if diff.flipped:
        lines.append("rules that changed outcome:")
        lines += [f"  {f['rule_id']}: {f['baseline']} → {f['now']}" for f in diff.flipped]
    if diff.metrics:
        lines.append(f"metric deltas ({len(diff.metrics)}):")
        lines += [f"  {_metric_line(m)}" for m in diff.metrics[:MAX_LINES]]
        if len(diff.metrics) > MAX_LINES:
            lines.append(f"  ... {len(diff.metrics) - MAX_LINES} more (--format json lists all)")
    return "\n".join(lines) + "\n"


def markdown(diff: Any) -> str:
    a, b = diff.a, diff.b
    return diff_markdown(diff, f"## {b.get('pack')}: changes since `{a.get('run_id')}`")


# ------------------------------------------------------------------------------ run
class RunHistory:
    """``run --store/--baseline`` for one invocation: baselines are resolved before any rule runs
    (a wrong run id is exit 2 at once), each pack's run is compared after it ran, and the runs
    are stored together at the end (:meth:`save`), each atomically."""

    def __init__(self, args: argparse.Namespace, engines: list[Any]):
        from .errors import UsageError
        from .io.runstore import RunStore

        self.store = None
        self.baselines: dict[str, Any] = {}
        self.records: list[Any] = []
        if args.fail_on == "new" and not args.baseline:
            raise UsageError("--fail-on new needs --baseline RUN|latest (what 'new' is against)")
        if args.baseline and not args.store:
            raise UsageError("--baseline needs --store PATH (the run history it comes from)")
        if not args.store:
            return
        self.store = RunStore.open(args.store, create=not args.baseline)
        if args.baseline:
            for engine in engines:
                ref = args.baseline
                if not ref.startswith("latest"):
                    run = self.store.load(self.store.resolve(ref))
                    if run.meta.get("pack") != engine.name:
                        raise UsageError(
                            f"--baseline {ref}: a run of pack {run.meta.get('pack')!r}, not of "
                            f"{engine.name!r} (with several packs, use --baseline latest)"
                        )
                    self.baselines[engine.name] = run
                else:
                    self.baselines[engine.name] = self.store.load(
                        self.store.resolve(ref, engine.name)
                    )

    def after_run(self, engine: Any, result: Any, run_id: str) -> Any:
        """Compare with the baseline (``result.baseline``) and keep the record to store."""
        from .engine.history import compare, record

        if self.store is None:
            return None
        rec = record(result, engine, run_id=run_id)
        self.records.append(rec)
        base = self.baselines.get(engine.name)
        if base is not None:
            result.baseline = compare(base, rec)
        return result.baseline

    def save(self, quiet: bool) -> None:
        from .cli_support import _err

        if self.store is None:
            return
        for rec in self.records:
            self.store.save(rec)
            if not quiet:
                _err(f"stored run {rec.run_id} of pack {rec.meta['pack']} in {self.store.root}")
