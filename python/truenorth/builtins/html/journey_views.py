"""Report views of a journey beyond the funnel chart: the time-to-convert histogram, the group
comparison, breakdown funnels, the step matrix and a Sankey diagram of the top paths.

Each reads a table of the ``journey`` kind by its unprefixed name and returns figures (nothing
when the table is absent or empty), so the journey section grows without touching report.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from . import svg
from .common import figure, html_table
from .drawing import _clip_label, _rect, _svg, _text, esc, fmt, num, pct

_WORSE = "#c4473d"


def journey_views(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    out: list[str] = []
    for build in (_time_to_convert, _comparison, _breakdown, _step_matrix, _sankey):
        out += build(tables)
    return out


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3.5h, 2.1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


def _usable(tables: Mapping[str, pl.DataFrame], name: str, cols: Sequence[str]):
    df = tables.get(name)
    if df is None or df.height == 0 or not set(cols) <= set(df.columns):
        return None
    return df


def _time_to_convert(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = _usable(tables, "time_to_convert", ("lower_seconds", "upper_seconds", "units"))
    if df is None:
        return []
    labels = [
        f"{duration(lo)}–{duration(hi)}" for lo, hi in df.select("lower_seconds", "upper_seconds")
        .iter_rows()
    ]  # fmt: skip
    title = f"Time to convert: {df['from_step'][0]} → {df['to_step'][0]}"
    chart = svg.bar_chart(labels, df["units"].to_list(), title=title, value_label="units")
    total = int(df["units"].sum())
    return [figure(chart, f"{total:,} units reached both steps; equal-width bins.")]


def _comparison(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = _usable(tables, "funnel_comparison", ("step", "difference", "p_value"))
    if df is None:
        return []
    worse = [
        d is not None and p is not None and d < 0 and p < 0.05
        for d, p in df.select("difference", "p_value").iter_rows()
    ]
    notes = [
        "" if lo is None else f"CI {lo:+.3f} to {hi:+.3f}"
        for lo, hi in df.select("ci_low", "ci_high").iter_rows()
    ]
    chart = svg.bar_chart(
        [str(s) for s in df["step"].to_list()], df["difference"].to_list(),
        title="Conversion from the previous step: current − baseline",
        value_label="difference in conversion rate",
        colours=[_WORSE if w else svg.PALETTE[0] for w in worse], annotations=notes,
    )  # fmt: skip
    cap = "Red: significantly worse at the 5% level (two-proportion z-test)."
    return [figure(chart, cap), html_table(df)]


def _breakdown(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = _usable(tables, "funnel_breakdown", ("breakdown", "step", "conversion_from_start"))
    if df is None:
        return []
    steps = df["step"].unique(maintain_order=True).to_list()
    series = {
        str(v): part.sort("step_index")["conversion_from_start"].to_list()
        for v, part in ((k[0], g) for k, g in df.group_by("breakdown", maintain_order=True))
    }
    chart = svg.grouped_bar_chart(
        steps, series, title="Funnel by breakdown value", value_label="conversion from start"
    )
    return [figure(chart)]


def _step_matrix(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = _usable(tables, "step_matrix", ("position", "event", "share"))
    if df is None:
        return []
    positions = sorted(df["position"].unique().to_list())
    order = (
        df.group_by("event").agg(pl.col("share").sum()).sort("share", descending=True)["event"]
    ).to_list()[:20]
    lookup = {(e, p): s for p, e, s in df.select("position", "event", "share").iter_rows()}
    values = [[lookup.get((e, p), 0.0) for p in positions] for e in order]
    chart = svg.heatmap(
        order, [str(p) for p in positions], values, title="Step matrix: share of units",
        x_label="event position", y_label="event",
    )  # fmt: skip
    return [figure(chart, "Share of units whose n-th event is the row's event.", wide=True)]


def _sankey(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = _usable(tables, "paths", ("path", "units"))
    if df is None:
        return []
    return [figure(sankey(df["path"].to_list(), df["units"].to_list()), wide=True)]


def sankey(paths: Sequence[str], units: Sequence[int], *, width: int = 760) -> str:
    """Sankey diagram of paths ("a > b > c"): one column per position, one node per stage at
    that position (height ∝ units), ribbons between consecutive positions."""
    flows: dict[tuple[int, str, str], float] = {}
    nodes: dict[tuple[int, str], float] = {}
    for path, n in zip(paths, units, strict=True):
        if not n or n <= 0:
            continue
        parts = [p.strip() for p in str(path).split(">")]
        for i, stage in enumerate(parts):
            nodes[(i, stage)] = nodes.get((i, stage), 0) + n
            if i:
                key = (i - 1, parts[i - 1], stage)
                flows[key] = flows.get(key, 0) + n
    if not nodes:
        return svg.empty("paths: nothing to draw")
    columns = max(i for i, _ in nodes) + 1
    total = max(sum(v for (i, _), v in nodes.items() if i == c) for c in range(columns))
    top, height, gap, bar = 30, 300, 6, 10
    scale = (height - gap * 8) / total
    step = (width - 140) / max(columns - 1, 1)
    place: dict[tuple[int, str], tuple[float, float]] = {}
    body = [_text(8, 16, "Top paths (Sankey)", font_weight="600")]
    for c in range(columns):
        y = float(top)
        col_nodes = sorted(((s, v) for (i, s), v in nodes.items() if i == c), key=lambda t: -t[1])
        for k, (stage, v) in enumerate(col_nodes):
            h = v * scale
            x = 20 + c * step
            place[(c, stage)] = (x, y)
            colour = svg.PALETTE[k % len(svg.PALETTE)]
            body.append(_rect(x, y, bar, h, colour, f"{stage} (step {c + 1}): {v:,.0f} units"))
            body.append(_text(x + bar + 3, y + min(h, 14) - 2, _clip_label(stage, 18),
                              font_size=10))  # fmt: skip
            y += h + gap
    out_used: dict[tuple[int, str], float] = {}
    in_used: dict[tuple[int, str], float] = {}
    for (c, a, b), v in sorted(flows.items(), key=lambda t: -t[1]):
        (x0, y0), (x1, y1) = place[(c, a)], place[(c + 1, b)]
        h = v * scale
        s0 = y0 + out_used.get((c, a), 0.0)
        s1 = y1 + in_used.get((c + 1, b), 0.0)
        out_used[(c, a)] = out_used.get((c, a), 0.0) + h
        in_used[(c + 1, b)] = in_used.get((c + 1, b), 0.0) + h
        xa, xb, mid = x0 + bar, x1, (x0 + bar + x1) / 2
        d = (
            f"M{num(xa)},{num(s0)} C{num(mid)},{num(s0)} {num(mid)},{num(s1)} {num(xb)},{num(s1)} "
            f"L{num(xb)},{num(s1 + h)} C{num(mid)},{num(s1 + h)} {num(mid)},{num(s0 + h)} "
            f"{num(xa)},{num(s0 + h)} Z"
        )
        tip = f"{a} → {b}: {fmt(v)} units ({pct(v / total)} of the widest step)"
        body.append(
            f'<path d="{d}" fill="#3b6ea8" fill-opacity="0.25"><title>{esc(tip)}</title></path>'
        )
    return _svg(width, top + height + 20, body, "Top paths (Sankey)")
