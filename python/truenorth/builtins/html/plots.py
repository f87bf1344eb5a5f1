"""Point, grid and gauge charts: Kano quadrants, heatmap, radar, KPI bullets and lines."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .bars import _inside, bar_chart
from .drawing import (
    PALETTE,
    STATUS_COLOURS,
    LinearScale,
    _clip_label,
    _dropped_note,
    _line,
    _rect,
    _svg,
    _text,
    _x_axis,
    _y_axis,
    empty,
    esc,
    finite,
    fmt,
    nice_ticks,
    num,
)


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
