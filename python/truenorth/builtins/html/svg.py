"""Inline SVG charts for the HTML report: small, dependency-free, deterministic.

Every function takes plain Python sequences and returns an ``<svg>`` string (or a short
``<p class="empty">`` note when there is nothing to draw). All text goes through
:func:`esc`; all coordinates go through :func:`num`, which refuses non-finite numbers, so a
chart never contains ``NaN`` or ``inf`` and never lets data inject markup. Non-finite or
missing input values are dropped (and counted in the chart's caption) rather than drawn.

Charts use a ``viewBox`` and ``width="100%"`` so they scale with the page, and carry a
``<title>`` per mark so hovering shows the exact value.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

__all__ = [
    "PALETTE",
    "LinearScale",
    "bar_chart",
    "bullet_chart",
    "esc",
    "fmt",
    "funnel_chart",
    "grouped_bar_chart",
    "heatmap",
    "histogram",
    "line_chart",
    "nice_ticks",
    "num",
    "radar_chart",
    "scatter_quadrants",
    "stacked_bar_chart",
]

PALETTE = ("#3b6ea8", "#e08a2c", "#4a9a5b", "#c4473d", "#8063a8", "#8c6d4f", "#d07bb5", "#7f7f7f")
SEVERITY_COLOURS = {"info": "#3b6ea8", "warn": "#d99a1e", "fail": "#c4473d", "error": "#6d2c8a"}
STATUS_COLOURS = {
    "pass": "#4a9a5b",
    "ok": "#4a9a5b",
    "green": "#4a9a5b",
    "warn": "#d99a1e",
    "amber": "#d99a1e",
    "fail": "#c4473d",
    "red": "#c4473d",
    "error": "#6d2c8a",
}
FONT = 12


def esc(value: object) -> str:
    """HTML/XML-escape any value for text or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def num(value: float) -> str:
    """A coordinate for SVG: finite, rounded to 2 decimals, no ``-0``."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"non-finite coordinate {value!r}")
    s = f"{round(v, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# Values beyond this magnitude cannot be laid out (spans overflow to inf): treated as missing.
MAX_MAGNITUDE = 1e300


def finite(value: object) -> bool:
    """True for real numbers that are finite and plottable (bools and None excluded)."""
    if value is None or isinstance(value, bool):
        return False
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and abs(v) <= MAX_MAGNITUDE


def pct(value: float, digits: int = 0) -> str:
    """A share as a percentage; "–" when it is not a finite number."""
    return f"{value:.{digits}%}" if finite(value) else "–"


def fmt(value: object, digits: int = 3) -> str:
    """A human-readable number: thousands separators, ``digits`` significant decimals."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**15 else f"{value:.3g}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        a = abs(value)
        if a >= 1e15:
            return f"{value:.3g}"
        if value.is_integer():
            return f"{int(value):,}"
        if a >= 1000:
            return f"{value:,.0f}"
        if a >= 100:
            return f"{value:.1f}"
        if a == 0:
            return "0"
        if a >= 1:
            return f"{value:.{max(digits - 1, 0)}f}".rstrip("0").rstrip(".")
        return f"{value:.{digits}g}"
    return str(value)


def _pad(value: float) -> float:
    """Half-width of an axis around a single value: 10 % of it, or 1 when that is (nearly) 0."""
    pad = abs(value) * 0.1
    return pad if pad >= 1e-300 else 1.0


def nice_step(span: float, n: int = 5) -> float:
    """A 1/2/5 × 10^k step that cuts ``span`` into about ``n`` intervals."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(n, 1)
    if not raw > 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag * 1.000001:
            return m * mag
    return 10 * mag  # pragma: no cover - the loop always returns


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (first tick <= lo, last >= hi)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("nice_ticks needs finite bounds")
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-300 or hi - lo < 1e-12 * max(abs(lo), abs(hi)):  # (nearly) a single value
        pad = _pad(lo)
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, n)
    start = math.floor(lo / step + 1e-9) * step
    ticks = []
    k = 0
    while True:
        t = start + k * step
        ticks.append(round(t, 12) + 0.0)
        if t >= hi - 1e-9 * step:
            break
        k += 1
    return ticks


@dataclass(frozen=True)
class LinearScale:
    """Maps a data interval onto a pixel interval (reversed ranges allowed)."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __post_init__(self) -> None:
        for v in (self.d0, self.d1, self.r0, self.r1):
            if not math.isfinite(v):
                raise ValueError("scale bounds must be finite")

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


def _svg(width: int, height: int, body: Iterable[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="{esc(label)}" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
        f"<title>{esc(label)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: object, anchor: str = "start", **attrs: object) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}"{extra}>{esc(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = "#999", **attrs: object) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
        f'stroke="{esc(stroke)}"{extra}/>'
    )


def _rect(
    x: float, y: float, w: float, h: float, fill: str, tip: str | None = None, **attrs: object
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    inner = f"<title>{esc(tip)}</title>" if tip else ""
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}" '
        f'fill="{esc(fill)}"{extra}>{inner}</rect>'
    )


def empty(message: str = "no data to chart") -> str:
    return f'<p class="empty">{esc(message)}</p>'


def _dropped_note(dropped: int) -> str:
    if not dropped:
        return ""
    return f'<p class="note">{dropped:,} value(s) missing or not finite were left out.</p>'


def _clip_label(text: object, limit: int = 28) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _x_axis(
    scale: LinearScale, ticks: Sequence[float], y: float, label: str | None, fmt_tick=fmt
) -> list[str]:
    out = [_line(scale.r0, y, scale.r1, y, "#555")]
    for t in ticks:
        x = scale(t)
        out.append(_line(x, y, x, y + 4, "#555"))
        out.append(_text(x, y + 16, fmt_tick(t), "middle", fill="#333"))
    if label:
        out.append(_text((scale.r0 + scale.r1) / 2, y + 32, label, "middle", fill="#333"))
    return out


def _y_axis(
    scale: LinearScale,
    ticks: Sequence[float],
    x: float,
    label: str | None,
    x_end: float,
    fmt_tick=fmt,
) -> list[str]:
    out = [_line(x, scale.r0, x, scale.r1, "#555")]
    for t in ticks:
        y = scale(t)
        out.append(_line(x - 4, y, x, y, "#555"))
        out.append(_line(x, y, x_end, y, "#e6e6e6"))
        out.append(_text(x - 6, y + 4, fmt_tick(t), "end", fill="#333"))
    if label:
        cy = (scale.r0 + scale.r1) / 2
        out.append(
            f'<text x="{num(12)}" y="{num(cy)}" text-anchor="middle" fill="#333" '
            f'transform="rotate(-90 12 {num(cy)})">{esc(label)}</text>'
        )
    return out


# ---------------------------------------------------------------------------------------------


def histogram(
    values: Iterable[object],
    *,
    bins: int = 30,
    title: str = "Histogram",
    x_label: str | None = None,
    y_label: str = "customers",
    clip_quantile: float | None = 0.99,
    width: int = 640,
    height: int = 300,
    colour: str = PALETTE[0],
) -> str:
    """Equal-width histogram of the finite values.

    With ``clip_quantile`` the last bin is open: values above that quantile are counted in it
    (long-tailed CLV would otherwise squash everything into the first bar).
    """
    data = _finite_sorted(values)
    dropped = data.null_count()
    data = data.drop_nulls()
    if data.len() == 0:
        return empty(f"{title}: no finite values") + _dropped_note(dropped)
    lo, hi = float(data[0]), float(data[-1])
    open_top = False
    if clip_quantile is not None and data.len() > 20:
        q = float(data[min(data.len() - 1, math.ceil(clip_quantile * data.len()) - 1)])
        if q < hi and q > lo:
            hi, open_top = q, True
    if not hi - lo > max(1e-300, 1e-12 * max(abs(lo), abs(hi))):  # (nearly) one value
        hi = lo + _pad(lo)
    bins = max(1, int(bins))
    step = (hi - lo) / bins
    index = pl.when(data < hi).then(((data - lo) / step).floor()).otherwise(bins - 1)
    tally = pl.select(index.clip(0, bins - 1).cast(pl.Int64).alias("i")).group_by("i").len()
    counts = [0] * bins
    for i, c in tally.iter_rows():
        counts[i] += c
    left, right, top, bottom = 72, width - 16, 28, height - 44
    x = LinearScale(lo, hi, left, right)
    y_ticks = nice_ticks(0, max(counts))
    y = LinearScale(0, y_ticks[-1], bottom, top)
    body = [_text(left, 16, title, font_weight="600")]
    body += _y_axis(y, y_ticks, left, y_label, right)
    for i, c in enumerate(counts):
        a, b = lo + i * step, lo + (i + 1) * step
        last = open_top and i == bins - 1
        tip = f"{fmt(a)} – {'…' if last else fmt(b)}: {c:,}"
        body.append(_rect(x(a) + 0.5, y(c), x(b) - x(a) - 1, bottom - y(c), colour, tip))
    body += _x_axis(x, _inside(nice_ticks(lo, hi), lo, hi), bottom, x_label)
    if open_top:
        body.append(
            _text(
                right,
                top - 4,
                f"last bar: ≥ {fmt(hi - step)} (top {100 - clip_quantile * 100:.0f} % folded in)",  # type: ignore[operator]
                "end",
                fill="#666",
                font_size=10,
            )
        )
    return _svg(width, height, body, title) + _dropped_note(dropped)


def _finite_sorted(values: Iterable[object]) -> pl.Series:
    """Finite, plottable values as a sorted Float64 Series; the others become (trailing) nulls."""
    if isinstance(values, pl.Series):
        s = values.cast(pl.Float64, strict=False)
    else:
        s = pl.Series([float(v) if finite(v) else None for v in values], dtype=pl.Float64)  # type: ignore[arg-type]
    ok = s.is_finite() & (s.abs() <= MAX_MAGNITUDE)
    return pl.select(pl.when(ok).then(s)).to_series().sort(nulls_last=True)


def _inside(ticks: Sequence[float], lo: float, hi: float) -> list[float]:
    eps = (hi - lo) * 1e-9
    return [t for t in ticks if lo - eps <= t <= hi + eps]


def bar_chart(
    labels: Sequence[object],
    values: Sequence[object],
    *,
    title: str = "Bars",
    value_label: str | None = None,
    colours: Sequence[str] | None = None,
    annotations: Sequence[str] | None = None,
    width: int = 640,
    bar_height: int = 22,
    domain: tuple[float, float] | None = None,
    fmt_value=fmt,
) -> str:
    """Horizontal bars, one per label (negative values extend left of zero)."""
    rows = [
        (
            lab,
            float(v),  # type: ignore[arg-type]
            (colours[i] if colours else PALETTE[0]),
            (annotations[i] if annotations else None),
        )
        for i, (lab, v) in enumerate(zip(labels, values, strict=True))
        if finite(v)
    ]
    dropped = len(labels) - len(rows)
    if not rows:
        return empty(f"{title}: no finite values") + _dropped_note(dropped)
    lo = min(0.0, *(v for _, v, _, _ in rows))
    hi = max(0.0, *(v for _, v, _, _ in rows))
    if domain:
        lo, hi = min(lo, domain[0]), max(hi, domain[1])
    ticks = nice_ticks(lo, hi) if hi > lo else [0.0, 1.0]
    label_w = min(220, 14 + 7 * max(len(_clip_label(r[0])) for r in rows))
    note_w = max((len(str(r[3])) for r in rows if r[3]), default=0) * 6
    left, right, top = label_w, width - 70 - note_w, 30
    height = top + bar_height * len(rows) + 44
    x = LinearScale(ticks[0], ticks[-1], left, right)
    body = [_text(8, 16, title, font_weight="600")]
    for t in ticks:
        body.append(_line(x(t), top - 4, x(t), top + bar_height * len(rows), "#e6e6e6"))
    for i, (lab, v, colour, note) in enumerate(rows):
        yy = top + i * bar_height
        x0, x1 = sorted((x(0), x(v)))
        tip = f"{lab}: {fmt_value(v)}" + (f" ({note})" if note else "")
        body.append(_text(left - 6, yy + bar_height * 0.68, _clip_label(lab), "end", fill="#222"))
        body.append(_rect(x0, yy + 3, max(x1 - x0, 1), bar_height - 6, colour, tip))
        shown = fmt_value(v) + (f"  {note}" if note else "")
        body.append(
            _text(x1 + 4, yy + bar_height * 0.68, shown, "start", fill="#333", font_size=11)
        )
    body.append(_line(x(0), top - 4, x(0), top + bar_height * len(rows), "#555"))
    body += _x_axis(x, ticks, top + bar_height * len(rows) + 2, value_label, fmt_value)
    return _svg(width, height, body, title) + _dropped_note(dropped)


def grouped_bar_chart(
    categories: Sequence[object],
    series: Mapping[str, Sequence[object]],
    *,
    title: str = "Grouped bars",
    value_label: str | None = None,
    width: int = 680,
    fmt_value=fmt,
) -> str:
    """Horizontal grouped bars: one group per category, one bar per series (legend on top)."""
    names = list(series)
    if not categories or not names:
        return empty(f"{title}: no data")
    vals = [[series[s][i] for s in names] for i in range(len(categories))]
    flat = [float(v) for row in vals for v in row if finite(v)]  # type: ignore[arg-type]
    if not flat:
        return empty(f"{title}: no finite values")
    lo, hi = min(0.0, *flat), max(0.0, *flat)
    ticks = nice_ticks(lo, hi) if hi > lo else [0.0, 1.0]
    bar_h = 12
    group_h = bar_h * len(names) + 10
    label_w = min(220, 14 + 7 * max(len(_clip_label(c)) for c in categories))
    left, right, top = label_w, width - 60, 48
    height = top + group_h * len(categories) + 44
    x = LinearScale(ticks[0], ticks[-1], left, right)
    body = [_text(8, 16, title, font_weight="600")]
    lx = left
    for j, name in enumerate(names):
        body.append(_rect(lx, 26, 10, 10, PALETTE[j % len(PALETTE)]))
        body.append(_text(lx + 14, 35, name, fill="#333"))
        lx += 24 + 7 * len(str(name))
    for t in ticks:
        body.append(_line(x(t), top - 4, x(t), top + group_h * len(categories), "#e6e6e6"))
    for i, cat in enumerate(categories):
        gy = top + i * group_h
        body.append(_text(left - 6, gy + group_h / 2 + 2, _clip_label(cat), "end", fill="#222"))
        for j, name in enumerate(names):
            v = vals[i][j]
            if not finite(v):
                continue
            v = float(v)  # type: ignore[arg-type]
            x0, x1 = sorted((x(0), x(v)))
            yy = gy + 5 + j * bar_h
            body.append(
                _rect(
                    x0,
                    yy,
                    max(x1 - x0, 1),
                    bar_h - 2,
                    PALETTE[j % len(PALETTE)],
                    f"{cat} · {name}: {fmt_value(v)}",
                )
            )
    body.append(_line(x(0), top - 4, x(0), top + group_h * len(categories), "#555"))
    body += _x_axis(x, ticks, top + group_h * len(categories) + 2, value_label, fmt_value)
    return _svg(width, height, body, title)


def stacked_bar_chart(
    categories: Sequence[object],
    series: Mapping[str, Sequence[object]],
    *,
    title: str = "Stacked bars",
    colours: Mapping[str, str] | None = None,
    width: int = 640,
) -> str:
    """Horizontal stacked bars of non-negative counts (e.g. covered / gaps per canvas block)."""
    names = list(series)
    if not categories or not names:
        return empty(f"{title}: no data")
    totals = []
    for i in range(len(categories)):
        totals.append(
            sum(
                float(series[s][i])  # type: ignore[arg-type, misc]
                for s in names
                if finite(series[s][i]) and float(series[s][i]) > 0  # type: ignore[arg-type]
            )
        )
    top_total = max(totals) if totals else 0.0
    if top_total <= 0:
        return empty(f"{title}: nothing to count")
    ticks = nice_ticks(0, top_total)
    bar_h = 22
    label_w = min(220, 14 + 7 * max(len(_clip_label(c)) for c in categories))
    left, right, top = label_w, width - 40, 48
    height = top + bar_h * len(categories) + 44
    x = LinearScale(0, ticks[-1], left, right)
    body = [_text(8, 16, title, font_weight="600")]
    lx = left
    for j, name in enumerate(names):
        colour = (colours or {}).get(name, PALETTE[j % len(PALETTE)])
        body.append(_rect(lx, 26, 10, 10, colour))
        body.append(_text(lx + 14, 35, name, fill="#333"))
        lx += 24 + 7 * len(str(name))
    for i, cat in enumerate(categories):
        yy = top + i * bar_h
        body.append(_text(left - 6, yy + bar_h * 0.68, _clip_label(cat), "end", fill="#222"))
        acc = 0.0
        for j, name in enumerate(names):
            v = series[name][i]
            if not finite(v) or float(v) <= 0:  # type: ignore[arg-type]
                continue
            v = float(v)  # type: ignore[arg-type]
            colour = (colours or {}).get(name, PALETTE[j % len(PALETTE)])
            body.append(
                _rect(
                    x(acc),
                    yy + 3,
                    x(acc + v) - x(acc),
                    bar_h - 6,
                    colour,
                    f"{cat} · {name}: {fmt(v)}",
                )
            )
            acc += v
    body += _x_axis(x, ticks, top + bar_h * len(categories) + 2, None)
    return _svg(width, height, body, title)


def funnel_chart(
    steps: Sequence[object],
    counts: Sequence[object],
    *,
    title: str = "Funnel",
    width: int = 640,
    step_height: int = 34,
) -> str:
    """Centred funnel bars with the count, the share of the first step and the step drop-off."""
    rows = [
        (s, float(c))  # type: ignore[arg-type]
        for s, c in zip(steps, counts, strict=True)
        if finite(c) and float(c) >= 0  # type: ignore[arg-type]
    ]
    if not rows or rows[0][1] <= 0:
        return empty(f"{title}: no customers in the first step")
    first = rows[0][1]
    peak = max(c for _, c in rows)
    label_w = min(200, 14 + 7 * max(len(_clip_label(s)) for s, _ in rows))
    left, right, top = label_w, width - 150, 30
    mid = (left + right) / 2
    half = (right - left) / 2
    height = top + step_height * len(rows) + 10
    body = [_text(8, 16, title, font_weight="600")]
    prev = None
    for i, (step, c) in enumerate(rows):
        yy = top + i * step_height
        w = half * c / peak if peak else 0.0
        share = c / first
        drop = 1 - c / prev if prev else None
        tip = f"{step}: {fmt(c)} ({pct(share, 1)} of first step)"
        if drop is not None:
            tip += f", {pct(drop, 1)} drop-off from previous"
        body.append(_text(left - 6, yy + step_height * 0.6, _clip_label(step), "end", fill="#222"))
        body.append(_rect(mid - w, yy + 3, max(2 * w, 1), step_height - 6, PALETTE[0], tip, rx=3))
        note = f"{fmt(c)} · {pct(share)}"
        if drop is not None:
            note += f" · −{pct(drop)}"
        body.append(_text(right + 8, yy + step_height * 0.6, note, "start", fill="#333"))
        prev = c
    return _svg(width, height, body, title)


def scatter_quadrants(
    points: Sequence[tuple[object, object, object, object]],
    *,
    title: str = "Scatter",
    x_label: str = "x",
    y_label: str = "y",
    split: float = 0.5,
    domain: tuple[float, float] = (0.0, 1.0),
    quadrant_names: tuple[str, str, str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    trails: Mapping[str, tuple[object, object]] | None = None,
    width: int = 560,
    height: int = 476,
) -> str:
    """Labelled points ``(label, x, y, group)`` on a fixed square domain with quadrant lines.

    ``quadrant_names`` are (top-left, top-right, bottom-left, bottom-right). ``trails`` maps a
    point's label to where it was before (e.g. the previous survey wave): drawn as a hollow
    circle joined to the point by a line.
    """
    pts = [
        (lab, float(px), float(py), grp)  # type: ignore[arg-type]
        for lab, px, py, grp in points
        if finite(px) and finite(py)
    ]
    dropped = len(points) - len(pts)
    if not pts:
        return empty(f"{title}: no points with both coordinates") + _dropped_note(dropped)
    lo, hi = domain
    lo = min(lo, *(p[1] for p in pts), *(p[2] for p in pts))
    hi = max(hi, *(p[1] for p in pts), *(p[2] for p in pts))
    left, right, top, bottom = 56, width - 20, 30, height - 62
    x = LinearScale(lo, hi, left, right)
    y = LinearScale(lo, hi, bottom, top)
    ticks = _inside(nice_ticks(lo, hi), lo, hi)
    body = [_text(8, 16, title, font_weight="600")]
    body += _y_axis(y, ticks, left, y_label, right)
    body += _x_axis(x, ticks, bottom, x_label)
    body.append(_line(x(split), top, x(split), bottom, "#888", stroke_dasharray="4 3"))
    body.append(_line(left, y(split), right, y(split), "#888", stroke_dasharray="4 3"))
    if quadrant_names:
        tl, tr, bl, br = quadrant_names
        body.append(_text(left + 6, top + 14, tl, fill="#777", font_style="italic"))
        body.append(_text(right - 6, top + 14, tr, "end", fill="#777", font_style="italic"))
        body.append(_text(left + 6, bottom - 6, bl, fill="#777", font_style="italic"))
        body.append(_text(right - 6, bottom - 6, br, "end", fill="#777", font_style="italic"))
    groups = sorted({str(g) for *_, g in pts})
    palette = {g: (colours or {}).get(g, PALETTE[i % len(PALETTE)]) for i, g in enumerate(groups)}
    for lab, px, py, _grp in pts:
        prev = (trails or {}).get(str(lab))
        if prev and finite(prev[0]) and finite(prev[1]):
            fx = x(min(max(float(prev[0]), lo), hi))  # type: ignore[arg-type]
            fy = y(min(max(float(prev[1]), lo), hi))  # type: ignore[arg-type]
            body.append(_line(fx, fy, x(px), y(py), "#999", stroke_width="1.2"))
            body.append(
                f'<circle cx="{num(fx)}" cy="{num(fy)}" r="3.5" fill="#fff" stroke="#999">'
                f"<title>{esc(lab)} before: x {esc(fmt(prev[0]))}, y {esc(fmt(prev[1]))}</title></circle>"
            )
    for lab, px, py, grp in pts:
        cx, cy = x(px), y(py)
        body.append(
            f'<circle cx="{num(cx)}" cy="{num(cy)}" r="5" fill="{esc(palette[str(grp)])}" '
            f'fill-opacity="0.85" stroke="#fff"><title>{esc(lab)} ({esc(grp)}): '
            f"x {esc(fmt(px))}, y {esc(fmt(py))}</title></circle>"
        )
        anchor = "end" if cx > right - 90 else "start"
        dx = -8 if anchor == "end" else 8
        body.append(_text(cx + dx, cy - 6, _clip_label(lab, 22), anchor, fill="#222", font_size=10))
    lx = left
    for g in groups:
        body.append(
            f'<circle cx="{num(lx + 5)}" cy="{num(height - 10)}" r="5" fill="{esc(palette[g])}"/>'
        )
        body.append(_text(lx + 14, height - 6, g, fill="#333"))
        lx += 30 + 7 * len(g)
    return _svg(width, height, body, title) + _dropped_note(dropped)


def _blend(t: float) -> str:
    """A sequential colour from pale yellow (0) to deep blue (1)."""
    t = min(max(t, 0.0), 1.0)
    stops = ((255, 247, 188), (127, 205, 187), (44, 127, 184), (37, 52, 148))
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    r, g, b = (round(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f) for k in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    row_labels: Sequence[object],
    col_labels: Sequence[object],
    values: Sequence[Sequence[object]],
    *,
    counts: Sequence[Sequence[object]] | None = None,
    title: str = "Heatmap",
    x_label: str | None = None,
    y_label: str | None = None,
    domain: tuple[float, float] = (0.0, 1.0),
    width: int = 640,
    cell_height: int = 30,
) -> str:
    """A grid of cells coloured by value on ``domain``; missing cells are hatched grey."""
    if not row_labels or not col_labels:
        return empty(f"{title}: no data")
    lo, hi = domain
    left, top = 90, 46 if y_label else 30
    right = width - 80
    cw = (right - left) / len(col_labels)
    height = top + cell_height * len(row_labels) + 56
    body = [_text(8, 16, title, font_weight="600")]
    any_value = False
    for i, rl in enumerate(row_labels):
        yy = top + i * cell_height
        body.append(
            _text(left - 6, yy + cell_height * 0.62, _clip_label(rl, 12), "end", fill="#222")
        )
        for j, cl in enumerate(col_labels):
            v = values[i][j]
            n = counts[i][j] if counts else None
            xx = left + j * cw
            if finite(v):
                any_value = True
                fv = float(v)  # type: ignore[arg-type]
                t = (fv - lo) / (hi - lo) if hi > lo else 0.5
                tip = f"{y_label or 'row'} {rl}, {x_label or 'column'} {cl}: {fmt(fv)}" + (
                    f" ({fmt(n)} customers)" if finite(n) else ""
                )
                body.append(_rect(xx, yy, cw - 1, cell_height - 1, _blend(t), tip))
                if cw >= 34:
                    body.append(
                        _text(
                            xx + cw / 2,
                            yy + cell_height * 0.62,
                            f"{fv:.2f}",
                            "middle",
                            fill="#fff" if t > 0.55 else "#222",
                            font_size=10,
                        )
                    )
            else:
                body.append(
                    _rect(xx, yy, cw - 1, cell_height - 1, "#eeeeee", f"{rl}, {cl}: no customers")
                )
    if not any_value:
        return empty(f"{title}: no finite values")
    by = top + cell_height * len(row_labels)
    for j, cl in enumerate(col_labels):
        body.append(
            _text(
                left + j * cw + cw / 2,
                by + 14,
                _clip_label(cl, 10),
                "middle",
                fill="#222",
                font_size=10,
            )
        )
    if x_label:
        body.append(_text((left + right) / 2, by + 32, x_label, "middle", fill="#333"))
    if y_label:
        body.append(_text(8, top - 6, y_label, fill="#333", font_size=10))
    # Legend: a vertical colour ramp.
    lx = right + 14
    steps = 10
    ramp_h = min(cell_height * len(row_labels), 160)
    for k in range(steps):
        t = 1 - k / (steps - 1)
        body.append(_rect(lx, top + k * ramp_h / steps, 12, ramp_h / steps + 0.5, _blend(t)))
    body.append(_text(lx + 16, top + 9, fmt(hi), fill="#333", font_size=10))
    body.append(_text(lx + 16, top + ramp_h, fmt(lo), fill="#333", font_size=10))
    return _svg(width, height, body, title)


def radar_chart(
    axes: Sequence[object],
    values: Sequence[object],
    *,
    title: str = "Radar",
    max_value: float = 5.0,
    min_value: float = 0.0,
    target: Sequence[object] | None = None,
    levels: Sequence[object] | None = None,
    size: int = 440,
) -> str:
    """A radar (spider) chart with one polygon (missing values drawn at the centre, marked)."""
    n = len(axes)
    if n < 3:
        # A radar needs three axes; fall back to bars.
        return bar_chart(axes, values, title=title, domain=(min_value, max_value))
    pad = 180  # room for axis labels left and right
    width = size + 2 * pad
    cx, cy = width / 2, size / 2 + 10
    radius = size / 2 - 70
    span = max_value - min_value or 1.0

    def point(i: int, v: float, clamp: bool = True) -> tuple[float, float]:
        a = -math.pi / 2 + 2 * math.pi * i / n
        if clamp:
            v = min(max(v, min_value), max_value)
        r = radius * (v - min_value) / span
        return cx + r * math.cos(a), cy + r * math.sin(a)

    body = [_text(8, 16, title, font_weight="600")]
    grid = levels if levels else list(range(math.ceil(min_value) + 1, int(max_value) + 1))
    for g in grid:
        if not finite(g):
            continue
        ring = " ".join(f"{num(px)},{num(py)}" for px, py in (point(i, float(g)) for i in range(n)))  # type: ignore[arg-type]
        body.append(f'<polygon points="{ring}" fill="none" stroke="#ddd"/>')
        gx, gy = point(0, float(g))  # type: ignore[arg-type]
        body.append(_text(gx + 4, gy + 4, fmt(g), fill="#999", font_size=9))
    for i, axis in enumerate(axes):
        ex, ey = point(i, max_value)
        body.append(_line(cx, cy, ex, ey, "#ccc"))
        lx, ly = point(i, max_value + span * 0.1, clamp=False)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        body.append(_text(lx, ly + 4, _clip_label(axis, 32), anchor, fill="#222"))
    if target is not None:
        tpts = [point(i, float(t)) for i, t in enumerate(target) if finite(t)]  # type: ignore[arg-type]
        if len(tpts) == n:
            body.append(
                '<polygon points="'
                + " ".join(f"{num(a)},{num(b)}" for a, b in tpts)
                + '" fill="none" stroke="#4a9a5b" stroke-dasharray="5 3" stroke-width="1.5"/>'
            )
    pts, missing = [], []
    for i, v in enumerate(values):
        if finite(v):
            pts.append(point(i, float(v)))  # type: ignore[arg-type]
        else:
            pts.append((cx, cy))
            missing.append(i)
    body.append(
        '<polygon points="'
        + " ".join(f"{num(a)},{num(b)}" for a, b in pts)
        + f'" fill="{PALETTE[0]}" fill-opacity="0.25" stroke="{PALETTE[0]}" stroke-width="2"/>'
    )
    for i, (px, py) in enumerate(pts):
        label = "no rating" if i in missing else fmt(values[i])
        body.append(
            f'<circle cx="{num(px)}" cy="{num(py)}" r="4" fill="{PALETTE[0] if i not in missing else "#c4473d"}">'
            f"<title>{esc(axes[i])}: {esc(label)}</title></circle>"
        )
    return _svg(width, size + 20, body, title)


def bullet_chart(
    rows: Sequence[Mapping[str, object]],
    *,
    title: str = "KPIs against thresholds",
    width: int = 700,
    row_height: int = 40,
) -> str:
    """One bullet per KPI: its own scale, the value (with CI whiskers), target and bands.

    Each row: ``label``, ``value``; optional ``lower``/``upper`` (CI), ``target``, ``warn`` and
    ``fail`` (numeric thresholds), ``status`` (pass/warn/fail), ``higher_is_better``.
    Bands: for higher-is-better, below ``fail`` red, up to ``warn`` amber, above green; reversed
    otherwise.
    """
    good = [r for r in rows if finite(r.get("value"))]
    dropped = len(rows) - len(good)
    if not good:
        return empty(f"{title}: no KPI values") + _dropped_note(dropped)
    label_w = min(260, 14 + 7 * max(len(_clip_label(r.get("label"), 34)) for r in good))
    left, right, top = label_w, width - 90, 28
    height = top + row_height * len(good) + 24
    body = [_text(8, 16, title, font_weight="600")]
    for i, r in enumerate(good):
        yy = top + i * row_height
        v = float(r["value"])  # type: ignore[arg-type]
        nums = [v] + [
            float(r[k])  # type: ignore[arg-type]
            for k in ("lower", "upper", "target", "warn", "fail")
            if finite(r.get(k))
        ]
        lo, hi = min(nums), max(nums)
        if lo >= 0 and hi <= 1 and r.get("unit") != "abs":
            ticks = [0.0, 0.25, 0.5, 0.75, 1.0]  # a share: the whole 0..1 range
        else:
            lo = min(lo, 0.0)
            pad = (hi - lo) * 0.08 or 1.0
            ticks = nice_ticks(lo, hi + pad, 4)
        x = LinearScale(ticks[0], ticks[-1], left, right)
        hib = r.get("higher_is_better", True) is not False
        warn = float(r["warn"]) if finite(r.get("warn")) else None  # type: ignore[arg-type]
        fail = float(r["fail"]) if finite(r.get("fail")) else None  # type: ignore[arg-type]
        bar_y, bar_h = yy + 6, row_height - 22
        cuts = [c for c in (fail, warn) if c is not None]
        if cuts:
            a, b = ticks[0], ticks[-1]
            if hib:
                zones = []
                edge = a
                if fail is not None:
                    zones.append((edge, fail, "#f4d3cf"))
                    edge = fail
                if warn is not None:
                    zones.append((edge, max(warn, edge), "#f7e6c2"))
                    edge = max(warn, edge)
                zones.append((edge, b, "#d8ecd9"))
            else:
                zones = []
                edge = b
                if fail is not None:
                    zones.append((fail, edge, "#f4d3cf"))
                    edge = fail
                if warn is not None:
                    zones.append((min(warn, edge), edge, "#f7e6c2"))
                    edge = min(warn, edge)
                zones.append((a, edge, "#d8ecd9"))
            for z0, z1, colour in zones:
                z0, z1 = max(z0, a), min(z1, b)
                if z1 > z0:
                    body.append(_rect(x(z0), bar_y, x(z1) - x(z0), bar_h, colour))
        else:
            body.append(_rect(left, bar_y, right - left, bar_h, "#f0f0f0"))
        status = str(r.get("status") or "").lower()
        colour = STATUS_COLOURS.get(status, "#333")
        if finite(r.get("lower")) and finite(r.get("upper")):
            lo_ci, hi_ci = float(r["lower"]), float(r["upper"])  # type: ignore[arg-type]
            body.append(
                _line(
                    x(lo_ci),
                    bar_y + bar_h / 2,
                    x(hi_ci),
                    bar_y + bar_h / 2,
                    "#333",
                    stroke_width="1.5",
                )
            )
        base = 0.0 if ticks[0] <= 0 <= ticks[-1] else ticks[0]
        x0, x1 = sorted((x(base), x(v)))
        tip = f"{r.get('label')}: {fmt(v)}" + (f" ({status})" if status else "")
        body.append(_rect(x0, bar_y + bar_h * 0.3, max(x1 - x0, 1), bar_h * 0.4, colour, tip))
        if finite(r.get("target")):
            tx = x(float(r["target"]))  # type: ignore[arg-type]
            body.append(_line(tx, bar_y - 2, tx, bar_y + bar_h + 2, "#111", stroke_width="2"))
        body.append(
            _text(
                left - 6, bar_y + bar_h * 0.75, _clip_label(r.get("label"), 34), "end", fill="#222"
            )
        )
        shown = fmt(v) + (f" · {status}" if status else "")
        body.append(
            _text(
                right + 6, bar_y + bar_h * 0.75, shown, "start", fill=colour if status else "#333"
            )
        )
        for t in (ticks[0], ticks[-1]):
            body.append(_text(x(t), bar_y + bar_h + 11, fmt(t), "middle", fill="#888", font_size=9))
    return _svg(width, height, body, title) + _dropped_note(dropped)


def line_chart(
    labels: Sequence[object],
    values: Sequence[object],
    *,
    title: str = "Trend",
    y_label: str | None = None,
    bands: Sequence[tuple[float, str, str]] = (),
    width: int = 640,
    height: int = 280,
    colour: str = PALETTE[0],
) -> str:
    """A line over ordered categories (e.g. months) with optional horizontal threshold lines.

    ``bands``: ``(value, colour, label)`` lines drawn across the plot (e.g. warn and fail).
    Missing values break the line instead of being drawn as zero.
    """
    n = len(labels)
    pts = [(i, float(v)) for i, v in enumerate(values) if finite(v)]  # type: ignore[arg-type]
    dropped = n - len(pts)
    if not pts:
        return empty(f"{title}: no finite values") + _dropped_note(dropped)
    ys = [v for _, v in pts] + [b[0] for b in bands if finite(b[0])]
    lo, hi = min(ys), max(ys)
    lo = min(lo, 0.0) if lo >= 0 and lo < (hi - lo) else lo
    ticks = nice_ticks(lo, hi)
    left, right, top, bottom = 60, width - 20, 30, height - 50
    x = LinearScale(0, max(n - 1, 1), left + 10, right - 10)
    y = LinearScale(ticks[0], ticks[-1], bottom, top)
    body = [_text(8, 16, title, font_weight="600")]
    body += _y_axis(y, ticks, left, y_label, right)
    body.append(_line(left, bottom, right, bottom, "#555"))
    step = max(1, math.ceil(n / 12))
    for i, lab in enumerate(labels):
        if i % step == 0:
            body.append(_line(x(i), bottom, x(i), bottom + 4, "#555"))
            body.append(
                _text(x(i), bottom + 16, _clip_label(lab, 10), "middle", fill="#333", font_size=10)
            )
    for value, line_colour, label in bands:
        if finite(value):
            yy = y(float(value))
            body.append(
                _line(left, yy, right, yy, line_colour, stroke_dasharray="5 3", stroke_width="1.5")
            )
            body.append(_text(right - 4, yy - 4, label, "end", fill=line_colour, font_size=10))
    # Polyline segments between consecutive present values.
    run: list[tuple[int, float]] = []
    segments = []
    for i, v in enumerate(values):
        if finite(v):
            run.append((i, float(v)))  # type: ignore[arg-type]
        elif run:
            segments.append(run)
            run = []
    if run:
        segments.append(run)
    for seg in segments:
        if len(seg) > 1:
            coords = " ".join(f"{num(x(i))},{num(y(v))}" for i, v in seg)
            body.append(
                f'<polyline points="{coords}" fill="none" stroke="{esc(colour)}" stroke-width="2"/>'
            )
    for i, v in pts:
        body.append(
            f'<circle cx="{num(x(i))}" cy="{num(y(v))}" r="3.5" fill="{esc(colour)}">'
            f"<title>{esc(labels[i])}: {esc(fmt(v))}</title></circle>"
        )
    return _svg(width, height, body, title) + _dropped_note(dropped)
