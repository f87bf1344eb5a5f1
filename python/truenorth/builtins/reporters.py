"""Built-in reporters: ``console`` (rich), ``json``, ``markdown`` and ``tables`` (Parquet + CSV).

Each reporter's ``write(result, path)``: ``path=None`` means the terminal / standard output;
a file path for reporters with an ``extension``; a folder for ``tables``.
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import truenorth
from truenorth.io import atomic_path, atomic_write_text

from .diff_markdown import diff_markdown

if TYPE_CHECKING:
    from rich.console import JustifyMethod

SEVERITY_STYLE = {"info": "cyan", "warn": "yellow", "fail": "bold red", "error": "bold magenta"}
STATUS_STYLE = {"ok": "green", "error": "bold magenta", "skipped": "yellow"}
TOP = 10


def _evidence_text(raw: str | None, limit: int = 60) -> str:
    if not raw:
        return ""
    try:
        ev = json.loads(raw)
    except ValueError:
        return raw[:limit]
    text = ", ".join(f"{k}={_short(v)}" for k, v in ev.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _ordered_findings(result: truenorth.Result, n: int | None = None):
    import polars as pl

    rank = {"error": 0, "fail": 1, "warn": 2, "info": 3}
    df = result.findings.with_row_index("__i").with_columns(
        pl.col("severity").replace_strict(rank, default=9, return_dtype=pl.Int8).alias("__r")
    )
    df = df.sort(["__r", "__i"]).drop("__r", "__i")
    return df if n is None else df.head(n)


def _stdout_console(width: int | None = None) -> Any:
    from rich.console import Console

    class StdoutConsole(Console):
        """Rich ends the process (``SystemExit(1)``) when standard output is closed (``| head``);
        raise instead, so the command still writes its files and picks its exit code."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "standard output was closed")

    return StdoutConsole(width=width)


def write_console(result: truenorth.Result, path: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    if path is not None:
        fh = open(path, "w", encoding="utf-8")
        console = Console(file=fh, width=120, no_color=True)
    else:
        fh = None
        console = _stdout_console()
        if not console.is_terminal:
            console = _stdout_console(width=max(console.width, 140))
    try:
        counts = result.counts()
        console.rule(f"[bold]truenorth[/] · pack [bold]{result.pack}[/]")
        rules = Table(title="Rules", title_justify="left", show_lines=False)
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("rule", "left"),
            ("kind", "left"),
            ("status", "left"),
            ("findings", "right"),
            ("tables", "left"),
            ("time", "right"),
        )
        for col, justify in columns:
            rules.add_column(col, justify=justify)
        for r in result.rules:
            style = STATUS_STYLE.get(r.status, "")
            rules.add_row(
                r.id,
                r.kind,
                f"[{style}]{r.status}[/]",
                str(r.findings),
                ", ".join(r.tables),
                f"{r.seconds * 1000:.1f} ms",
            )
        console.print(rules)
        errors = [r for r in result.rules if r.error]
        for r in errors:
            console.print(f"[bold magenta]{r.status}[/] {r.id} ({r.location}): {r.error}")
        if result.findings.height:
            top = _ordered_findings(result, TOP)
            table = Table(
                title=f"Top findings ({min(TOP, result.findings.height)} of {result.findings.height})",
                title_justify="left",
            )
            table.add_column("severity", no_wrap=True)
            table.add_column("rule", overflow="fold", max_width=24)
            table.add_column("subject", overflow="fold", max_width=20)
            table.add_column("message", overflow="fold", ratio=3)
            table.add_column("action", overflow="fold", max_width=18)
            table.add_column("evidence", overflow="ellipsis", ratio=2, no_wrap=True)
            for row in top.iter_rows(named=True):
                sev = row["severity"]
                table.add_row(
                    f"[{SEVERITY_STYLE.get(sev, '')}]{sev}[/]",
                    row["rule_id"],
                    row["subject"] or "",
                    row["message"] or "",
                    row["action"] or "",
                    _evidence_text(row["evidence"]),
                )
            console.print(table)
        tables = ", ".join(f"{n} ({df.height} rows)" for n, df in result.tables.items()) or "none"
        console.print(f"tables: {tables}")
        summary = "  ".join(f"[{SEVERITY_STYLE[s]}]{s}: {n}[/]" for s, n in counts.items())
        console.print(f"findings: {summary}   ({result.seconds * 1000:.0f} ms)")
    finally:
        if fh is not None:
            fh.close()


def write_console_file(result: truenorth.Result, path: Path | None) -> None:
    if path is None:
        write_console(result, None)
        return
    with atomic_path(path) as tmp:  # a failed write leaves neither a half file nor a temp file
        write_console(result, tmp)


def write_json(result: truenorth.Result, path: Path | None) -> None:
    text = result.to_json()
    if path is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)


def _md_escape(text: object) -> str:
    return str("" if text is None else text).replace("|", "\\|").replace("\n", " ")


def markdown(result: truenorth.Result) -> str:
    counts = result.counts()
    lines = [f"# truenorth report: {result.pack}", ""]
    if result.params:
        lines += ["Params: " + ", ".join(f"`{k}={v}`" for k, v in result.params.items()), ""]
    lines += [
        "Findings: " + ", ".join(f"{s} {n}" for s, n in counts.items()),
        "",
    ]
    diff = getattr(result, "baseline", None)  # run --baseline: what changed leads the report
    if diff is not None:
        lines += [diff_markdown(diff, "## Since the baseline").rstrip(), ""]
    lines += [
        "## Rules",
        "",
        "| rule | kind | status | findings | tables | time (ms) |",
        "|---|---|---|---:|---|---:|",
    ]
    for r in result.rules:
        lines.append(
            f"| {_md_escape(r.id)} | {r.kind} | {r.status} | {r.findings} | "
            f"{', '.join(r.tables)} | {r.seconds * 1000:.1f} |"
        )
    errs = [r for r in result.rules if r.error]
    if errs:
        lines += ["", "## Errors", ""]
        lines += [f"- **{_md_escape(r.id)}** ({r.location}): {_md_escape(r.error)}" for r in errs]
    lines += ["", "## Findings", ""]
    if not result.findings.height:
        lines.append("No findings.")
    else:
        lines += [
            "| severity | rule | subject | message | value | action | evidence |",
            "|---|---|---|---|---:|---|---|",
        ]
        for row in _ordered_findings(result).iter_rows(named=True):
            v = row["value"]
            value = "" if v is None or v != v else f"{v:.4g}"  # null or NaN: blank
            lines.append(
                f"| {row['severity']} | {_md_escape(row['rule_id'])} | {_md_escape(row['subject'])} | "
                f"{_md_escape(row['message'])} | {value} | {_md_escape(row['action'])} | "
                f"{_md_escape(_evidence_text(row['evidence'], 200))} |"
            )
    lines += _models_markdown(result)
    if result.tables:
        lines += ["", "## Tables", ""]
        lines += [
            f"- `{n}`: {df.height} rows × {df.width} columns" for n, df in result.tables.items()
        ]
    return "\n".join(lines) + "\n"


#: the purchase-model comparison of a clv rule's ``model: auto`` (table ``clv_models``)
MODEL_COLUMNS = (
    ("rank", "rank"), ("model", "model"), ("selected", "chosen"), ("converged", "converged"),
    ("log_likelihood", "LL"), ("aic", "AIC"), ("bic", "BIC"), ("actual_holdout", "holdout actual"),
    ("expected_holdout", "holdout expected"), ("relative_bias", "rel. bias"), ("mae", "MAE"),
    ("rmse", "RMSE"), ("gini_ratio", "Gini ratio"), ("error", "error"),
)  # fmt: skip


def _models_markdown(result: truenorth.Result) -> list[str]:
    import polars as pl

    df = result.tables.get("clv_models")
    if df is None or "model" not in df.columns:
        return []
    if "fit" in df.columns:
        df = df.filter(pl.col("fit") == "calibration")
    if "rank" in df.columns:
        df = df.sort("rank", nulls_last=True)
    cols = [(c, name) for c, name in MODEL_COLUMNS if c in df.columns]
    right = {c for c, _ in cols if df.schema[c].is_numeric()}
    lines = ["", "## Purchase models (clv_models)", ""]
    lines.append("| " + " | ".join(name for _, name in cols) + " |")
    lines.append("|" + "|".join("---:" if c in right else "---" for c, _ in cols) + "|")
    for row in df.iter_rows(named=True):
        cells = []
        for c, _ in cols:
            v = row[c]
            if isinstance(v, float):
                # AIC/BIC of a few 100k differ in the units: keep them
                cells.append("" if v != v else f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.4g}")
            elif isinstance(v, bool):
                cells.append("yes" if v else "no")
            else:
                cells.append(_md_escape(v))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_markdown(result: truenorth.Result, path: Path | None) -> None:
    text = markdown(result)
    if path is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)


def write_tables(result: truenorth.Result, path: Path | None) -> None:
    if path is None:
        raise truenorth.UsageError("the 'tables' format writes files: give --out DIR")
    result.write_tables(path, format="parquet")
    result.write_tables(path, format="csv")


REPORTERS = (
    truenorth.Reporter(
        "console",
        write_console_file,
        ".txt",
        "rich terminal summary (rules, top findings)",
        default="always",
    ),
    truenorth.Reporter("json", write_json, ".json", "the whole result as JSON", default="out"),
    truenorth.Reporter("markdown", write_markdown, ".md", "a Markdown report", default="out"),
    truenorth.Reporter(
        "tables",
        write_tables,
        None,
        "every table and the findings as Parquet and CSV",
        default="out",
    ),
)


@truenorth.hookimpl
def register_reporters(register):
    from .ci_reports import REPORTERS as CI_REPORTERS

    for reporter in (*REPORTERS, *CI_REPORTERS):
        register(reporter)
