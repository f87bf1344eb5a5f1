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
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from . import svg
from .svg import esc, fmt

__all__ = ["SECTIONS", "render"]

SEVERITY_ORDER = ("error", "fail", "warn", "info")
MAX_FINDINGS = 500
MAX_PREVIEW_ROWS = 12

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


# ---------------------------------------------------------------------------------------------
# helpers


def col(df: pl.DataFrame, *candidates: str) -> str | None:
    """The first of ``candidates`` that is a column of ``df`` (case-sensitive)."""
    for c in candidates:
        if c in df.columns:
            return c
    return None


def numeric_col(df: pl.DataFrame, *candidates: str) -> str | None:
    """The first candidate that exists and is numeric (or boolean)."""
    for c in candidates:
        if c in df.columns and (df.schema[c].is_numeric() or df.schema[c] == pl.Boolean):
            return c
    return None


def floats(series: pl.Series) -> list[float | None]:
    """A numeric series as Python floats, with nulls/NaN/inf as None."""
    out: list[float | None] = []
    for v in series.cast(pl.Float64, strict=False).to_list():
        out.append(v if v is not None and math.isfinite(v) else None)
    return out


def figure(chart: str, caption: str | None = None, *, wide: bool = False) -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    cls = ' class="wide"' if wide else ""
    return f"<figure{cls}>{chart}{cap}</figure>"


def cell(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f'<td class="num">{esc(fmt(value))}</td>'
    if isinstance(value, dt.datetime | dt.date):
        return f"<td>{esc(value.isoformat())}</td>"
    if isinstance(value, list | dict):
        return f"<td><code>{esc(json.dumps(value, default=str)[:200])}</code></td>"
    return f"<td>{esc('' if value is None else value)}</td>"


def html_table(df: pl.DataFrame, max_rows: int = MAX_PREVIEW_ROWS) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        body.append("<tr>" + "".join(cell(v) for v in row) + "</tr>")
    more = ""
    if df.height > max_rows:
        more = f'<p class="note">first {max_rows:,} of {df.height:,} rows</p>'
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def _overall(df: pl.DataFrame) -> pl.DataFrame:
    """Rows that are not a per-segment or per-period breakdown (when those columns exist)."""
    out = df
    for c in ("segment", "period"):
        if c in out.columns and out[c].null_count() > 0:
            out = out.filter(pl.col(c).is_null())
    return out


# ---------------------------------------------------------------------------------------------
# sections: (title, tables needed (any of), function(result) -> html)


def _customers_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = tables["customers"]
    out = []
    clv = numeric_col(df, "clv", "predicted_clv", "customer_value", "value")
    if clv:
        out.append(
            figure(
                svg.histogram(
                    df[clv],
                    title="CLV distribution",
                    x_label=clv,
                    bins=30,
                    clip_quantile=0.95,
                ),
                f"{df.height:,} customers; mean {fmt(df[clv].mean())}, median {fmt(df[clv].median())}.",
            )
        )
        out.append(_value_concentration(df, clv))
    p_alive = numeric_col(df, "p_alive", "prob_alive")
    freq = numeric_col(df, "frequency", "x")
    rec = numeric_col(df, "recency", "t_x")
    if p_alive and freq and rec:
        out.append(figure(*_p_alive_heatmap(df, p_alive, freq, rec)))
    elif p_alive:
        out.append(
            figure(
                svg.histogram(df[p_alive], title="P(alive)", x_label="P(alive)", clip_quantile=None)
            )
        )
    return out


def _value_concentration(df: pl.DataFrame, clv: str) -> str:
    """Share of the total value held by each tenth of customers, most valuable first."""
    s = df[clv].cast(pl.Float64, strict=False)
    values = s.filter(s.is_finite() & (s >= 0)).sort(descending=True)
    n = values.len()
    total = float(values.sum()) if n else 0.0
    if n < 10 or total <= 0:
        return ""
    shares, labels = [], []
    for k in range(10):
        part = values.slice(k * n // 10, (k + 1) * n // 10 - k * n // 10)
        shares.append(float(part.sum()) / total)
        labels.append(f"top {10 * k}–{10 * (k + 1)} %")
    chart = svg.bar_chart(
        labels, shares, title=f"Share of total {clv} by customer decile", value_label=f"share of total {clv}",
        fmt_value=lambda v: svg.pct(v, 1), colours=[svg.PALETTE[2]] * 10, domain=(0, max(shares)),
    )  # fmt: skip
    return figure(
        chart,
        f"The most valuable tenth of customers holds {svg.pct(shares[0])} of the predicted value.",
    )


def _freq_bins(max_f: float) -> list[tuple[float, float, str]]:
    """Frequency bins: single values up to 4, then widening ranges (lower bound inclusive)."""
    edges = [0, 1, 2, 3, 4, 5, 7, 10, 15, 25, 50, 100]
    bins: list[tuple[float, float, str]] = []
    for a, b in itertools.pairwise(edges):
        if a > max_f:
            break
        bins.append((a, b, str(a) if b - a == 1 else f"{a}–{b - 1}"))
    if max_f >= edges[-1]:
        bins.append((edges[-1], math.inf, f"{edges[-1]}+"))
    elif bins and max_f >= bins[-1][1]:
        last = bins[-1][1]
        bins.append((last, math.inf, f"{last}+"))
    return bins


def _p_alive_heatmap(df: pl.DataFrame, p_alive: str, freq: str, rec: str) -> tuple[str, str]:
    d = df.select(
        pl.col(p_alive).cast(pl.Float64).alias("p"),
        pl.col(freq).cast(pl.Float64).alias("f"),
        pl.col(rec).cast(pl.Float64).alias("r"),
    ).filter(pl.all_horizontal(pl.all().is_not_null() & pl.all().is_finite()))
    if d.height == 0:
        return svg.empty("P(alive): no customers with frequency, recency and P(alive)"), ""
    max_f = float(d["f"].max())  # type: ignore[arg-type]
    max_r = float(d["r"].max())  # type: ignore[arg-type]
    fbins = _freq_bins(max_f)
    n_r = 8
    r_edges = svg.nice_ticks(0.0, max_r if max_r > 0 else 1.0, n_r)
    rows, values, counts = [], [], []
    fcase = pl.lit(None, dtype=pl.Int64)
    for i, (a, b, _) in reversed(list(enumerate(fbins))):
        fcase = pl.when((pl.col("f") >= a) & (pl.col("f") < b)).then(pl.lit(i)).otherwise(fcase)
    step = r_edges[1] - r_edges[0]
    agg = (
        d.with_columns(
            fb=fcase,
            rb=(pl.col("r") / step).floor().cast(pl.Int64).clip(0, len(r_edges) - 2),
        )
        .group_by("fb", "rb")
        .agg(pl.col("p").mean().alias("p"), pl.len().alias("n"))
    )
    lookup = {(fb, rb): (p, n) for fb, rb, p, n in agg.iter_rows()}
    cols = [f"{fmt(r_edges[j])}–{fmt(r_edges[j + 1])}" for j in range(len(r_edges) - 1)]
    for i in reversed(range(len(fbins))):  # highest frequency on top
        rows.append(fbins[i][2])
        values.append([lookup.get((i, j), (None, None))[0] for j in range(len(cols))])
        counts.append([lookup.get((i, j), (None, None))[1] for j in range(len(cols))])
    chart = svg.heatmap(
        rows, cols, values, counts=counts, title="Mean P(alive) by frequency and recency",
        x_label=f"recency ({rec})", y_label=f"frequency ({freq})",
    )  # fmt: skip
    return (
        chart,
        "Each cell: customers with that many repeat purchases whose last purchase came that late; grey: no customers.",
    )


def _segments_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    out = []
    seg_df = tables.get("segments")
    if seg_df is not None and seg_df.height:
        name = col(seg_df, "segment", "name", "tier", "clv_tier")
        size = numeric_col(seg_df, "customers", "n_customers", "n", "size", "count")
        if name and size:
            df = seg_df.sort(size, descending=True)
            total_clv = numeric_col(df, "clv_total", "total_clv", "clv_sum", "revenue")
            notes = None
            if total_clv:
                s = df[total_clv].fill_null(0).sum() or 0
                notes = [
                    f"{(v or 0) / s:.0%} of {'CLV' if 'clv' in total_clv else total_clv}"
                    if s
                    else ""
                    for v in df[total_clv].to_list()
                ]
            out.append(
                figure(
                    svg.bar_chart(
                        [str(v) for v in df[name].to_list()],
                        df[size].to_list(),
                        title="Segment sizes",
                        value_label="customers",
                        annotations=notes,
                    )
                )
            )
            mean_clv = numeric_col(df, "clv_mean", "mean_clv", "avg_clv")
            if mean_clv:
                out.append(
                    figure(
                        svg.bar_chart(
                            [str(v) for v in df[name].to_list()],
                            df[mean_clv].to_list(),
                            title="Mean CLV per segment",
                            value_label=mean_clv,
                            colours=[svg.PALETTE[2]] * df.height,
                        )
                    )
                )
            return out
    cust = tables.get("customers")
    if cust is not None:
        name = col(cust, "segment", "rfm_segment", "clv_tier", "tier")
        if name:
            counts = cust.group_by(name).len().sort("len", descending=True)
            out.append(
                figure(
                    svg.bar_chart(
                        [str(v) for v in counts[name].to_list()],
                        counts["len"].to_list(),
                        title=f"Customers per {name}",
                        value_label="customers",
                    )
                )
            )
    return out


KANO_COLOURS = {
    "attractive": "#4a9a5b", "A": "#4a9a5b",
    "one_dimensional": "#3b6ea8", "O": "#3b6ea8",
    "must_be": "#c4473d", "M": "#c4473d",
    "indifferent": "#9a9a9a", "I": "#9a9a9a",
    "reverse": "#8063a8", "R": "#8063a8",
    "questionable": "#8c6d4f", "Q": "#8c6d4f",
}  # fmt: skip


KANO_QUADRANTS = ("attractive", "one-dimensional", "indifferent", "must-be")


def _kano_points(
    df: pl.DataFrame, with_segment: bool = True
) -> list[tuple[str, Any, Any, Any]] | None:
    feature = col(df, "feature", "name")
    better = numeric_col(df, "better", "better_coefficient")
    worse = numeric_col(df, "worse", "worse_coefficient")
    if not (feature and better and worse):
        return None
    group = col(df, "category_name", "category")
    seg = col(df, "segment") if with_segment else None
    points = []
    for row in df.iter_rows(named=True):
        label = str(row[feature]) + (f" ({row[seg]})" if seg and row[seg] is not None else "")
        w = row[worse]
        points.append(
            (label, None if w is None else abs(w), row[better], row[group] if group else "feature")
        )
    return points


def _kano_scatter(points, title: str, trails=None) -> str:
    return svg.scatter_quadrants(
        points, title=title, x_label="|worse| (dissatisfaction if absent)",
        y_label="better (satisfaction if present)", quadrant_names=KANO_QUADRANTS,
        colours=KANO_COLOURS, trails=trails,
    )  # fmt: skip


def _kano_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    points = _kano_points(tables["kano"])
    if points is None:
        return [svg.empty("kano: no feature/better/worse columns to plot")]
    out = [
        figure(
            _kano_scatter(points, "Kano: better vs |worse|"),
            "Berger et al. coefficients; quadrant lines at 0.5.",
        )
    ]
    waves = tables.get("kano_waves")
    if (
        waves is not None
        and {"wave", "feature"} <= set(waves.columns)
        and waves["wave"].n_unique() >= 2
    ):
        order = waves["wave"].unique().sort().to_list()
        last = waves.filter(pl.col("wave") == order[-1])
        before = waves.filter(pl.col("wave") == order[-2])
        now = _kano_points(last, with_segment=False)
        then = _kano_points(before, with_segment=False)
        if now and then:
            trails = {lab: (x, y) for lab, x, y, _ in then}
            cat = col(waves, "category")
            changed = []
            if cat:
                old = dict(before.select("feature", cat).iter_rows())
                changed = [
                    f"{f}: {old.get(f)} → {c}"
                    for f, c in last.select("feature", cat).iter_rows()
                    if old.get(f) not in (None, c)
                ]
            cap = f"Wave {order[-2]} (hollow) → wave {order[-1]} (filled)." + (
                " Changed category: " + "; ".join(changed) + "." if changed else ""
            )
            out.append(
                figure(
                    _kano_scatter(now, f"Kano drift: wave {order[-2]} → {order[-1]}", trails), cap
                )
            )
    segs = tables.get("kano_segments")
    if segs is not None and "segment" in segs.columns:
        for seg in segs["segment"].drop_nulls().unique().sort().to_list():
            pts = _kano_points(segs.filter(pl.col("segment") == seg), with_segment=False)
            if pts:
                out.append(figure(_kano_scatter(pts, f"Kano: segment {seg}")))
    return out


def _find_table(tables: Mapping[str, pl.DataFrame], *names: str) -> tuple[str, pl.DataFrame] | None:
    for n in names:
        if n in tables:
            return n, tables[n]
    return None


def _funnel_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    name, df = _find_table(tables, "funnel", "journey_funnel")  # type: ignore[misc]
    step = col(df, "step", "stage", "name", "event")
    count = numeric_col(df, "customers", "count", "users", "entered", "n", "reached")
    if not (step and count):
        return [svg.empty(f"{name}: no step/count columns")]
    out = []
    group = col(df, "funnel", "rule_id")
    order = numeric_col(df, "step_index", "position", "index", "order", "step_no")
    groups = df[group].unique(maintain_order=True).to_list() if group else [None]
    for g in groups:
        part = df.filter(pl.col(group) == g) if group else df
        if order:
            part = part.sort(order)
        seg = col(part, "segment")
        if seg and part[seg].null_count() > 0:
            part = part.filter(pl.col(seg).is_null())
        title = "Funnel" + (f": {g}" if g is not None and len(groups) > 1 else "")
        out.append(
            figure(
                svg.funnel_chart(
                    [str(s) for s in part[step].to_list()], part[count].to_list(), title=title
                )
            )
        )
    return out


ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "markov")


def _attribution_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = tables["attribution"]
    tp = col(df, "touchpoint", "channel", "name")
    if not tp:
        return [svg.empty("attribution: no touchpoint column")]
    model = col(df, "model", "method")
    share = numeric_col(df, "share", "credit", "value", "conversions")
    if model and share:  # long: one row per (touchpoint, model)
        models = [str(m) for m in df[model].unique(maintain_order=True).to_list()]
        touch = [str(t) for t in df[tp].unique(maintain_order=True).to_list()]
        lookup = {(str(a), str(b)): v for a, b, v in df.select(tp, model, share).iter_rows()}
        series = {m: [lookup.get((t, m)) for t in touch] for m in models}
    else:
        # Wide: one column per model (conversions credited, or shares); normalise each to
        # shares so first touch, last touch, linear and Markov are comparable.
        touch = [str(t) for t in df[tp].to_list()]
        series = {}
        for m in ATTRIBUTION_MODELS:
            c = numeric_col(df, m, f"{m}_share", f"{m}_conversions")
            if c is None:
                continue
            vals = floats(df[c])
            total = sum(v for v in vals if v is not None)
            series[m.replace("_", " ")] = [
                None if v is None or not total else v / total for v in vals
            ]
        if not series:
            return [svg.empty("attribution: no model columns")]
    chart = svg.grouped_bar_chart(
        touch, series, title="Attribution of conversions by touchpoint",
        value_label="share of conversions",
    )  # fmt: skip
    return [figure(chart)]


def _finding_subjects(result: Any, kind: str) -> set[str]:
    """Subjects of warn/fail findings of rules of ``kind``."""
    f = getattr(result, "findings", None)
    if not isinstance(f, pl.DataFrame) or not {"kind", "subject", "severity"} <= set(f.columns):
        return set()
    hit = f.filter((pl.col("kind") == kind) & pl.col("severity").is_in(["warn", "fail"]))
    return {str(v) for v in hit["subject"].to_list()}


def _touchpoints_section(tables: Mapping[str, pl.DataFrame], result: Any) -> list[str]:
    _name, df = _find_table(tables, "touchpoints", "touchpoint_satisfaction")  # type: ignore[misc]
    tp = col(df, "touchpoint", "name")
    sat = numeric_col(df, "satisfaction", "mean_satisfaction", "satisfaction_mean", "score")
    if not (tp and sat):
        return []
    d = df.filter(pl.col(sat).is_not_null()).sort(sat)
    if d.height == 0:
        return []
    poor = col(d, "poor", "flagged", "below_threshold")
    if poor:
        flags = [bool(v) for v in d[poor].to_list()]
    else:  # touchpoints that a journey rule flagged
        flagged = _finding_subjects(result, kind="journey")
        flags = [str(v) in flagged for v in d[tp].to_list()]
    colours = [svg.PALETTE[3] if f else svg.PALETTE[0] for f in flags]
    chart = svg.bar_chart(
        [str(v) for v in d[tp].to_list()], d[sat].to_list(), title="Touchpoint satisfaction",
        value_label=sat, colours=colours, domain=(0, 5),
    )  # fmt: skip
    return [figure(chart, "Red: flagged by a rule (poor satisfaction).")]


_NUMBER = r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_THRESHOLDS = (
    # as written in a pack: "value < 30"
    re.compile(r"^\s*value\s*(<=|<|>=|>)\s*" + _NUMBER + r"\s*$", re.IGNORECASE),
    # as Polars prints the compiled expression: [(col("value")) < (dyn int: 30)]
    re.compile(
        r'^\[?\(col\("value"\)\) (<=|<|>=|>) \((?:dyn )?(?:int|float|i\d+|f\d+):? ?'
        + _NUMBER
        + r"\)\]?$"
    ),
)


def _parse_threshold(text: str | None) -> tuple[str, float] | None:
    """``"value < 30"`` → ``("<", 30.0)``; anything more complex → None (no band drawn)."""
    if not text:
        return None
    for pattern in _THRESHOLDS:
        m = pattern.match(text.strip())
        if m:
            return m.group(1), float(m.group(2))
    return None


def _axis_unit(unit: object) -> str | None:
    """The bullet chart's axis from the KPI table's ``unit`` column: a share ("share of ...")
    may use the whole 0..1 axis; anything else (points, hours, a ratio, a mean) is absolute."""
    if not unit:
        return None
    return None if str(unit).startswith("share") else "abs"


def _rule_thresholds(result: Any, rule_id: str | None) -> dict[str, tuple[str, float]]:
    """The rule's numeric ``warn``/``fail`` thresholds on ``value``, where they are simple."""
    out: dict[str, tuple[str, float]] = {}
    findings = getattr(result, "findings", None)
    if isinstance(findings, pl.DataFrame) and {"rule_id", "severity", "threshold"} <= set(
        findings.columns
    ):
        hits = findings.filter(
            (pl.col("rule_id") == rule_id) & pl.col("severity").is_in(["warn", "fail"])
        )
        for sev, text in hits.select("severity", "threshold").unique().iter_rows():
            parsed = _parse_threshold(text)
            if parsed:
                out.setdefault(sev, parsed)
    for r in getattr(result, "rules", []) or []:
        if getattr(r, "id", None) == rule_id:
            for sev, text in (getattr(r, "conditions", {}) or {}).items():
                parsed = _parse_threshold(text)
                if parsed and sev in ("warn", "fail"):
                    out.setdefault(sev, parsed)
    return out


KPI_COLUMNS = frozenset({"metric", "subject", "value"})


def kpi_tables(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    """Names of the KPI tables: ``kpis`` and any other table with the kpi kind's columns."""
    return [n for n, df in tables.items() if n == "kpis" or KPI_COLUMNS <= set(df.columns)]


def _kpi_section(tables: Mapping[str, pl.DataFrame], result: Any) -> list[str]:
    frames = [tables[n] for n in kpi_tables(tables)]
    if not frames:
        return []
    df = pl.concat(frames, how="diagonal_relaxed")
    value = numeric_col(df, "value")
    if not value:
        return [svg.empty("kpis: no value column")]
    thresholds: dict[str | None, dict[str, tuple[str, float]]] = {}
    findings = getattr(result, "findings", None)
    worst: dict[tuple[str, str], str] = {}
    if (
        isinstance(findings, pl.DataFrame)
        and findings.height
        and {"rule_id", "subject", "severity"} <= set(findings.columns)
    ):
        rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
        for rid, subj, sev in findings.select("rule_id", "subject", "severity").iter_rows():
            key = (str(rid), str(subj))
            if key not in worst or rank.get(sev, 9) < rank.get(worst[key], 9):
                worst[key] = sev
    overall = _overall(df)
    rows = []
    for r in overall.iter_rows(named=True):
        rid = str(r.get("rule_id") or "")
        metric = r.get("metric") or ""
        subject = r.get("subject") or "overall"
        if rid not in thresholds:
            thresholds[rid] = _rule_thresholds(result, rid)
        warn, fail = thresholds[rid].get("warn"), thresholds[rid].get("fail")
        hib = None
        for t in (warn, fail):
            if t:
                hib = t[0].startswith("<")  # "value < x" is bad → higher is better
        if hib is None and r.get("target") is not None and r.get("meets_target") is not None:
            hib = (
                (r[value] >= r["target"]) == bool(r["meets_target"])
                if r[value] is not None
                else None
            )
        status = worst.get((rid, str(subject)))
        if status is None and r.get("meets_target") is not None:
            status = "pass" if r["meets_target"] else "warn"
        if status is None and (warn or fail):
            status = "pass"
        label = rid if not metric or metric == rid else f"{rid} ({metric})"
        if subject not in ("overall", None):
            label += f" · {subject}"
        rows.append(
            {
                "label": label, "value": r[value], "lower": r.get("ci_low"), "upper": r.get("ci_high"),
                "target": r.get("target"), "warn": warn[1] if warn else None, "fail": fail[1] if fail else None,
                "status": status, "higher_is_better": hib if hib is not None else True,
                "unit": _axis_unit(r.get("unit")),
            }
        )  # fmt: skip
    out = [figure(svg.bullet_chart(rows, title="KPIs against thresholds", width=900),
                  "Bar: value (whisker: confidence interval); black tick: target; bands: fail / warn / pass zones from the rule's thresholds.", wide=True)]  # fmt: skip
    # Per-period trends (one line per rule), when the KPIs were computed per period.
    if "period" in df.columns and df["period"].null_count() < df.height:
        per = df.filter(pl.col("period").is_not_null())
        if "segment" in per.columns:
            per = per.filter(pl.col("segment").is_null())
        if per.height:
            for rid in (
                per["rule_id"].unique(maintain_order=True).to_list()
                if "rule_id" in per.columns
                else [None]
            ):
                part = per.filter(pl.col("rule_id") == rid) if rid is not None else per
                part = part.sort("period")
                if part.height < 2:
                    continue
                if rid not in thresholds:
                    thresholds[rid] = _rule_thresholds(result, rid)
                bands = [
                    (t[1], svg.SEVERITY_COLOURS[sev], f"{sev} {t[0]} {fmt(t[1])}")
                    for sev, t in sorted(thresholds[rid].items())
                ]
                target = part["target"].drop_nulls() if "target" in part.columns else None
                if target is not None and target.len() and all(b[0] != target[0] for b in bands):
                    bands.append((target[0], "#111111", f"target {fmt(target[0])}"))
                labels = [
                    p.strftime("%Y-%m") if isinstance(p, dt.date) else str(p)
                    for p in part["period"].to_list()
                ]
                chart = svg.line_chart(
                    labels,
                    part[value].to_list(),
                    title=f"{rid or 'KPI'} per period",
                    y_label=str(part["metric"][0]) if "metric" in part.columns else value,
                    bands=bands,
                )
                out.append(figure(chart))
    return out


def _canvas_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    name, df = _find_table(tables, "canvas", "canvas_coverage")  # type: ignore[misc]
    block = col(df, "block")
    if not block:
        return [svg.empty(f"{name}: no block column")]
    items = numeric_col(df, "items", "n_items", "count")
    gaps = numeric_col(df, "gaps", "issues", "findings", "unlinked")
    covered = numeric_col(df, "covered", "linked", "ok")
    share = numeric_col(df, "coverage", "coverage_share", "share")
    labels = [str(b) for b in df[block].to_list()]
    if (covered or items) and gaps:
        ok_vals = (
            df[covered].to_list()
            if covered
            else [
                (i or 0) - (g or 0)
                for i, g in zip(df[items].to_list(), df[gaps].to_list(), strict=True)  # type: ignore[index]
            ]
        )
        chart = svg.stacked_bar_chart(
            labels, {"consistent": ok_vals, "with gaps": df[gaps].to_list()},
            title="Canvas coverage per block", colours={"consistent": svg.PALETTE[2], "with gaps": svg.PALETTE[3]},
        )  # fmt: skip
        return [figure(chart)]
    if share:
        return [
            figure(
                svg.bar_chart(
                    labels, df[share].to_list(), title="Canvas coverage per block", domain=(0, 1)
                )
            )
        ]
    if items:
        return [figure(svg.bar_chart(labels, df[items].to_list(), title="Canvas items per block"))]
    return [svg.empty(f"{name}: no counts to chart")]


LEVEL_NAMES = {1: "ad-hoc", 2: "initiating", 3: "enabling", 4: "optimizing", 5: "leading"}


def _maturity_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = tables["maturity"]
    dim = col(df, "name", "dimension")
    level = numeric_col(df, "level", "score")
    if not (dim and level):
        return [svg.empty("maturity: no dimension/level columns")]
    d = df.filter(pl.col(dim).is_not_null())
    is_overall = pl.col(dim).cast(pl.String).str.to_lowercase() == "overall"
    overall_rows = d.filter(is_overall)
    d = d.filter(~is_overall)
    target = numeric_col(d, "target", "target_level", "next_level")
    chart = svg.radar_chart(
        [str(v) for v in d[dim].to_list()], d[level].to_list(), title="Customer-value maturity",
        max_value=5, min_value=0, target=d[target].to_list() if target else None, levels=[1, 2, 3, 4, 5],
    )  # fmt: skip
    cap = "Levels: 1 ad-hoc · 2 initiating · 3 enabling · 4 optimizing · 5 leading."
    if target:
        cap += f" Dashed: {target.replace('_', ' ')}."
    if overall_rows.height:
        overall = overall_rows[level][0]
    else:  # staged: the overall level is the lowest dimension's
        overall = d[level].min() if d.height else None
    if svg.finite(overall):
        name = LEVEL_NAMES.get(int(overall), "")
        floor = col(d, "floor")
        floors = (
            d.filter(pl.col(floor))[dim].to_list()
            if floor and d.schema[floor] == pl.Boolean
            else []
        )
        cap = (
            f"Overall level {fmt(overall)} ({name})"
            + (f"; floor: {', '.join(map(str, floors))}" if floors else "")
            + ". "
            + cap
        )
    return [figure(chart, cap)]


# (title, tables any of which triggers the section, builder)
SECTIONS: tuple[tuple[str, tuple[str, ...], Callable[..., list[str]]], ...] = (
    ("Customer value", ("customers",), lambda t, r: _customers_section(t)),
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
)


def _charts(result: Any) -> str:
    tables: Mapping[str, pl.DataFrame] = {
        k: v
        for k, v in (getattr(result, "tables", {}) or {}).items()
        if isinstance(v, pl.DataFrame)
    }
    parts = []
    for title, needs, build in SECTIONS:
        if not any(n in tables for n in needs) and not (title == "KPIs" and kpi_tables(tables)):
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
