"""The self-contained HTML report: summary, charts per table, rule status and findings.

:func:`render` turns a :class:`truenorth.Result` into one HTML page with inline CSS and inline
SVG only — no scripts, no fonts, no images, no network. A Content-Security-Policy meta tag
forbids every fetch, so a report that tried one would show a console error in a browser (the
browser test checks there are none).

Each chart is drawn only when its table is in the result, and reads the columns it needs by
name with fallbacks (a missing optional column drops a detail, not the chart). A chart that
fails on unexpected data is replaced by a visible note naming the error; the rest of the report
is still written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from . import svg
from .baseline import baseline_section
from .common import SEVERITY_ORDER, cell, figure, html_table
from .experience import _attribution_section, _funnel_section, _kano_section, _touchpoints_section
from .kpis import _kpi_section, kpi_tables
from .models import _models_section
from .retention import retention_section, retention_tables
from .strategy import _canvas_section, _maturity_section
from .svg import esc, fmt
from .value import _customers_section, _segments_section

__all__ = ["SECTIONS", "render"]

MAX_FINDINGS = 500

CSS = """
:root { --fg:#1d232b; --muted:#5b6470; --line:#dde1e6; --bg:#fff; --panel:#f6f8fa;
  --info:#3b6ea8; --warn:#d99a1e; --fail:#c4473d; --error:#6d2c8a; --ok:#4a9a5b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--fg); background:var(--bg); }
header { padding:20px 32px 12px; border-bottom:1px solid var(--line); background:var(--panel); }
header h1 { margin:0 0 4px; font-size:22px; }
header .meta { color:var(--muted); font-size:13px; }
main { padding:8px 32px 40px; max-width:1200px; }
h2 { margin:28px 0 8px; font-size:18px; border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { margin:18px 0 6px; font-size:15px; }
.cards { display:flex; gap:12px; flex-wrap:wrap; margin:14px 0 4px; }
.card { border:1px solid var(--line); border-radius:6px; padding:8px 14px; min-width:110px;
  background:#fff; }
.card .n { font-size:22px; font-weight:600; }
.card .l { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.fail .n { color:var(--fail); } .card.warn .n { color:var(--warn); }
.card.info .n { color:var(--info); } .card.error .n { color:var(--error); }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(460px, 1fr)); gap:18px; }
figure.wide { grid-column:1 / -1; }
figure { margin:0; padding:10px; border:1px solid var(--line); border-radius:6px; background:#fff; }
figcaption { color:var(--muted); font-size:12px; margin-top:4px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--panel); font-weight:600; position:sticky; top:0; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.sev { display:inline-block; padding:0 7px; border-radius:9px; color:#fff; font-size:12px;
  font-weight:600; }
.sev.info { background:var(--info); } .sev.warn { background:var(--warn); }
.sev.fail { background:var(--fail); } .sev.error { background:var(--error); }
.st-ok { color:var(--ok); font-weight:600; } .st-error { color:var(--error); font-weight:600; }
.st-skipped { color:var(--muted); font-weight:600; }
.empty, .note { color:var(--muted); font-style:italic; margin:4px 0; }
.chart-error { color:var(--error); }
details { margin:6px 0; } summary { cursor:pointer; }
.scroll { overflow-x:auto; }
code { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; }
footer { color:var(--muted); font-size:12px; padding:16px 32px; border-top:1px solid var(--line); }
@media print { .grid { display:block; } figure { break-inside:avoid; margin-bottom:12px; } }
"""

# No script, style only inline, images only as data: URIs — nothing can be fetched.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# (title, tables any of which triggers the section, builder)
SECTIONS: tuple[tuple[str, tuple[str, ...], Callable[..., list[str]]], ...] = (
    ("Customer value", ("customers",), lambda t, r: _customers_section(t)),
    ("Purchase model", ("clv_models",), lambda t, r: _models_section(t)),
    ("Segments", ("segments", "customers"), lambda t, r: _segments_section(t)),
    ("Kano", ("kano",), lambda t, r: _kano_section(t)),
    ("Journey funnel", ("funnel", "journey_funnel"), lambda t, r: _funnel_section(t)),
    ("Attribution", ("attribution",), lambda t, r: _attribution_section(t)),
    (
        "Touchpoints",
        ("touchpoints", "touchpoint_satisfaction"),
        _touchpoints_section,
    ),
    ("KPIs", ("kpis",), lambda t, r: _kpi_section(t, r)),
    ("Business Model Canvas", ("canvas", "canvas_coverage"), lambda t, r: _canvas_section(t)),
    ("Maturity", ("maturity",), lambda t, r: _maturity_section(t)),
    ("Retention", (), lambda t, r: retention_section(t)),
)


def _charts(result: Any) -> str:
    tables: Mapping[str, pl.DataFrame] = {
        k: v
        for k, v in (getattr(result, "tables", {}) or {}).items()
        if isinstance(v, pl.DataFrame)
    }
    parts = []
    for title, needs, build in SECTIONS:
        if (
            not any(n in tables for n in needs)
            and not (title == "KPIs" and kpi_tables(tables))
            and not (title == "Retention" and retention_tables(tables))
        ):
            continue
        try:
            figs = build(tables, result)
        except Exception as exc:  # a chart bug must not cost the user the whole report
            figs = [
                f'<p class="chart-error">chart could not be drawn: {esc(type(exc).__name__)}: {esc(exc)}</p>'
            ]
        figs = [f for f in figs if f]
        if figs:
            parts.append(
                f'<section><h2>{esc(title)}</h2><div class="grid">{"".join(figs)}</div></section>'
            )
    return "".join(parts)


def _actions_section(result: Any) -> str:
    """Findings per action tag: what the rules ask people to do, and how often."""
    f = getattr(result, "findings", None)
    if (
        not isinstance(f, pl.DataFrame)
        or "action" not in f.columns
        or f["action"].null_count() == f.height
    ):
        return ""
    counts = (
        f.filter(pl.col("action").is_not_null())
        .group_by("action")
        .agg(pl.len().alias("n"), pl.col("rule_id").unique().sort().str.join(", ").alias("rules"))
        .sort(["n", "action"], descending=[True, False])
    )
    chart = svg.bar_chart(
        [str(a) for a in counts["action"].to_list()], counts["n"].to_list(),
        title="Findings per action", value_label="findings", colours=[svg.PALETTE[1]] * counts.height,
    )  # fmt: skip
    return (
        '<section><h2>Actions</h2><div class="grid">'
        + figure(chart, "Action tags carried by findings (from the rules' `action:`); rules: "
                 + "; ".join(f"{a}: {r}" for a, r in counts.select("action", "rules").iter_rows()))
        + "</div></section>"
    )  # fmt: skip


def _rule_table(result: Any) -> str:
    rules = list(getattr(result, "rules", []) or [])
    if not rules:
        return '<p class="empty">no rules ran</p>'
    head = "<tr><th>rule</th><th>kind</th><th>status</th><th>findings</th><th>time</th><th>tables</th><th>where / error</th></tr>"
    rows = []
    for r in rules:
        status = str(getattr(r, "status", ""))
        secs = getattr(r, "seconds", None)
        err = getattr(r, "error", None)
        loc = getattr(r, "location", None)
        desc = getattr(r, "description", None)
        where = (f"<div>{esc(desc)}</div>" if desc else "") + (
            f"<code>{esc(loc)}</code>" if loc else ""
        )
        if err:
            where += f'<div class="st-error">{esc(err)}</div>'
        rows.append(
            f"<tr><td><code>{esc(getattr(r, 'id', ''))}</code></td><td>{esc(getattr(r, 'kind', ''))}</td>"
            f'<td class="st-{esc(status)}">{esc(status)}</td>'
            f'<td class="num">{esc(fmt(getattr(r, "findings", None)))}</td>'
            f'<td class="num">{esc(_duration(secs))}</td>'
            f"<td>{esc(', '.join(getattr(r, 'tables', []) or []))}</td><td>{where}</td></tr>"
        )
    return f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'


def _duration(seconds: Any) -> str:
    if not svg.finite(seconds):
        return "–"
    s = float(seconds)
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def _findings_table(result: Any) -> str:
    f = getattr(result, "findings", None)
    if not isinstance(f, pl.DataFrame) or f.height == 0:
        return '<p class="empty">no findings</p>'
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    if "severity" in f.columns:
        f = (
            f.with_row_index("__i")
            .with_columns(
                __rank=pl.col("severity").replace_strict(rank, default=9, return_dtype=pl.Int64)
            )
            .sort("__rank", "__i")
            .drop("__rank", "__i")
        )
    shown = [
        c
        for c in (
            "severity",
            "rule_id",
            "subject",
            "message",
            "value",
            "threshold",
            "action",
            "location",
        )
        if c in f.columns
    ]
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in shown)
    rows = []
    for row in f.head(MAX_FINDINGS).select(shown).iter_rows(named=True):
        cells = []
        for c in shown:
            v = row[c]
            if c == "severity":
                sev = str(v)
                cls = sev if sev in SEVERITY_ORDER else "info"
                cells.append(f'<td><span class="sev {cls}">{esc(sev)}</span></td>')
            elif c in ("rule_id", "location"):
                cells.append(f"<td><code>{esc(v)}</code></td>" if v is not None else "<td></td>")
            else:
                cells.append(cell(v))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if f.height > MAX_FINDINGS:
        more = f'<p class="note">showing the first {MAX_FINDINGS:,} of {f.height:,} findings (most severe first); the JSON report has them all.</p>'
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>{more}'


def _counts(result: Any) -> dict[str, int]:
    if hasattr(result, "counts"):
        try:
            return dict(result.counts())
        except Exception:  # pragma: no cover - a Result-like object without counts()
            pass
    f = getattr(result, "findings", None)
    out = dict.fromkeys(("info", "warn", "fail", "error"), 0)
    if isinstance(f, pl.DataFrame) and "severity" in f.columns:
        for sev, n in f.group_by("severity").len().iter_rows():
            out[str(sev)] = n
    return out


def _tables_section(result: Any) -> str:
    tables = getattr(result, "tables", {}) or {}
    if not tables:
        return '<p class="empty">no tables</p>'
    parts = []
    for name, df in tables.items():
        if not isinstance(df, pl.DataFrame):
            continue
        parts.append(
            f"<details><summary><code>{esc(name)}</code> — {df.height:,} rows × {df.width} columns</summary>"
            f"{html_table(df)}</details>"
        )
    return "".join(parts)


def render(result: Any, *, generated_at: dt.datetime | None = None) -> str:
    """The whole report as one HTML string."""
    pack = getattr(result, "pack", None) or "truenorth run"
    params = getattr(result, "params", {}) or {}
    files = getattr(result, "files", []) or []
    seconds = getattr(result, "seconds", None)
    when = (generated_at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    counts = _counts(result)
    n_rules = len(getattr(result, "rules", []) or [])
    n_err = sum(1 for r in getattr(result, "rules", []) or [] if getattr(r, "status", "ok") != "ok")
    cards = [f'<div class="card"><div class="n">{n_rules}</div><div class="l">rules</div></div>']
    if n_err:
        cards.append(
            f'<div class="card error"><div class="n">{n_err}</div><div class="l">rules not ok</div></div>'
        )
    for sev in ("fail", "warn", "info", "error"):
        if sev == "error" and not counts.get(sev):
            continue
        cards.append(
            f'<div class="card {sev}"><div class="n">{counts.get(sev, 0):,}</div><div class="l">{sev} findings</div></div>'
        )
    params_html = ""
    if params:
        items = "".join(
            f"<tr><td><code>{esc(k)}</code></td>{cell(v)}</tr>" for k, v in params.items()
        )
        params_html = f"<details><summary>parameters</summary><table>{items}</table></details>"
    files_html = ""
    if files:
        files_html = (
            "<details><summary>pack files</summary><ul>"
            + "".join(f"<li><code>{esc(p)}</code></li>" for p in files)
            + "</ul></details>"
        )
    version = _version()
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(pack)} — truenorth report</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(pack)}</h1>"
        f'<div class="meta">truenorth {esc(version)} · generated {esc(when)}'
        + (f" · ran in {esc(_duration(seconds))}" if svg.finite(seconds) else "")
        + f'</div><div class="cards">{"".join(cards)}</div>{params_html}{files_html}</header><main>'
        + baseline_section(result)
        + _charts(result)
        + _actions_section(result)
        + f"<section><h2>Rules</h2>{_rule_table(result)}</section>"
        + f"<section><h2>Findings</h2>{_findings_table(result)}</section>"
        + f"<section><h2>Tables</h2>{_tables_section(result)}</section>"
        + "</main><footer>Self-contained report: no scripts, no external resources.</footer></body></html>\n"
    )


def _version() -> str:
    try:
        import truenorth

        return str(truenorth.__version__)
    except Exception:  # pragma: no cover
        return "?"
