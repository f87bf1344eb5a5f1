"""Line charts of several series (a model against the data) and interval bands.

- :func:`multi_line_chart`: one polyline per series over shared ordered x labels, a legend,
  and an optional vertical marker (e.g. the end of a calibration window, ``class="boundary"``).
- :func:`band_chart`: a central line with its lower/upper band (a shaded polygon), e.g.
  customers' CLV with its prediction interval, customers ordered by the central value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .drawing import (
    PALETTE,
    LinearScale,
    _clip_label,
    _dropped_note,
    _line,
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

#: the colour of the observed series (the models take the palette in order)
ACTUAL_COLOUR = "#1d232b"


def _runs(values: Sequence[object]) -> list[list[tuple[int, float]]]:
    """Consecutive finite points: a missing value breaks the line instead of reading as 0."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if finite(v):
            runs[-1].append((i, float(v)))  # type: ignore[arg-type]
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def multi_line_chart(
    labels: Sequence[object],
    series: Mapping[str, Sequence[object]],
    *,
    title: str = "Lines",
    y_label: str | None = None,
    x_label: str | None = None,
    emphasis: str | None = None,
    marker: float | None = None,
    marker_label: str = "",
    points: bool = False,
    width: int = 680,
    height: int = 320,
) -> str:
    """Series over the same ordered ``labels``; ``emphasis`` names the series drawn thick and
    dark (the data), the others take the palette. ``marker`` is an x position (a fractional
    label index: 12.5 falls between the 13th and 14th label) where a dashed vertical line is
    drawn with ``marker_label``. ``points`` adds a dot per value (for few labels)."""
    n = len(labels)
    names = list(series)
    flat = [float(v) for s in names for v in series[s] if finite(v)]  # type: ignore[arg-type]
    if not n or not flat:
        return empty(f"{title}: no finite values")
    dropped = sum(1 for s in names for v in series[s] if not finite(v))
    lo, hi = min(0.0, *flat), max(flat)
    ticks = nice_ticks(lo, hi)
    left, right, top, bottom = 64, width - 16, 48, height - (56 if x_label else 40)
    x = LinearScale(0, max(n - 1, 1), left + 8, right - 8)
    y = LinearScale(ticks[0], ticks[-1], bottom, top)
    body = [_text(8, 16, title, font_weight="600")]
    body += _y_axis(y, ticks, left, y_label, right)
    body.append(_line(left, bottom, right, bottom, "#555"))
    step = max(1, math.ceil(n / 10))
    for i in range(0, n, step):
        body.append(_line(x(i), bottom, x(i), bottom + 4, "#555"))
        body.append(
            _text(
                x(i), bottom + 16, _clip_label(labels[i], 10), "middle", fill="#333", font_size=10
            )
        )
    if x_label:
        body.append(_text((left + right) / 2, bottom + 34, x_label, "middle", fill="#333"))
    if marker is not None and finite(marker):
        mx = x(min(max(float(marker), 0.0), max(n - 1, 1)))
        body.append(
            f'<line class="boundary" x1="{num(mx)}" y1="{num(top)}" x2="{num(mx)}" '
            f'y2="{num(bottom)}" stroke="#888" stroke-dasharray="5 4" stroke-width="1.5">'
            f"<title>{esc(marker_label)}</title></line>"
        )
        if marker_label:
            body.append(_text(mx + 4, top + 12, marker_label, fill="#666", font_size=10))
    colours: dict[str, str] = {}
    # with the data drawn dark, the others start at the palette's second colour, as in the
    # bar charts where the data takes the first: a model keeps its colour across charts
    k = 1 if emphasis in series else 0
    for name in names:
        if name == emphasis:
            colours[name] = ACTUAL_COLOUR
        else:
            colours[name] = PALETTE[k % len(PALETTE)]
            k += 1
    for name in names:
        colour, wide = colours[name], name == emphasis
        for run in _runs(series[name]):
            coords = " ".join(f"{num(x(i))},{num(y(v))}" for i, v in run)
            dash = "" if wide else ' stroke-dasharray="6 3"' if len(names) > 4 else ""
            body.append(
                f'<polyline data-series="{esc(name)}" points="{coords}" fill="none" '
                f'stroke="{esc(colour)}" stroke-width="{2.5 if wide else 1.8}"{dash}>'
                f"<title>{esc(name)}</title></polyline>"
            )
            if points or len(run) == 1:
                for i, v in run:
                    body.append(
                        f'<circle cx="{num(x(i))}" cy="{num(y(v))}" r="3" fill="{esc(colour)}">'
                        f"<title>{esc(name)}, {esc(labels[i])}: {esc(fmt(v))}</title></circle>"
                    )
    lx = left
    for name in names:
        body.append(_line(lx, 32, lx + 16, 32, colours[name], stroke_width="3"))
        body.append(_text(lx + 20, 36, _clip_label(name, 24), fill="#333"))
        lx += 34 + 7 * len(_clip_label(name, 24))
    return _svg(width, height, body, title) + _dropped_note(dropped)


def band_chart(
    mid: Sequence[object],
    lower: Sequence[object],
    upper: Sequence[object],
    *,
    title: str = "Interval",
    y_label: str | None = None,
    x_label: str = "customers, ranked",
    max_points: int = 200,
    width: int = 680,
    height: int = 300,
) -> str:
    """Rows ordered by ``mid`` (highest first), the band from ``lower`` to ``upper`` shaded
    and ``mid`` as a line; at most ``max_points`` rows, evenly spaced in rank, are drawn (the
    band is a summary; the table has every row). Rows with a missing value are left out."""
    rows = [
        (float(m), float(lo), float(hi))  # type: ignore[arg-type]
        for m, lo, hi in zip(mid, lower, upper, strict=True)
        if finite(m) and finite(lo) and finite(hi)
    ]
    dropped = len(mid) - len(rows)
    if not rows:
        return empty(f"{title}: no rows with a value and both bounds") + _dropped_note(dropped)
    rows.sort(key=lambda r: -r[0])
    n = len(rows)
    keep = sorted({round(i * (n - 1) / max(max_points - 1, 1)) for i in range(min(n, max_points))})
    shown = [(i, *rows[i]) for i in keep]
    lo = min(0.0, *(r[2] for r in shown))
    hi = max(r[3] for r in shown)
    # a few customers worth far more than the rest would flatten everyone else into the axis:
    # the axis then ends at the 95th percentile of the upper bounds, and the few are clipped
    tops = sorted(r[2] for r in rows)
    cap = tops[min(len(tops) - 1, int(0.95 * len(tops)))]
    clipped = 0
    if cap > lo and hi > 3 * cap:
        clipped = sum(1 for r in rows if r[2] > cap)
        hi = cap
        shown = [(i, min(m, hi), min(lw, hi), min(h, hi)) for i, m, lw, h in shown]
    ticks = nice_ticks(lo, hi)
    left, right, top, bottom = 64, width - 16, 30, height - 52
    x = LinearScale(0, max(n - 1, 1), left + 4, right - 4)
    y = LinearScale(ticks[0], ticks[-1], bottom, top)
    body = [_text(8, 16, title, font_weight="600")]
    body += _y_axis(y, ticks, left, y_label, right)
    xt = [t for t in nice_ticks(0, max(n - 1, 1), 6) if t <= n - 1]
    body += _x_axis(x, xt, bottom, x_label, fmt_tick=lambda t: fmt(int(t) + 1))
    ring = [f"{num(x(i))},{num(y(h))}" for i, _, _, h in shown]
    ring += [f"{num(x(i))},{num(y(lw))}" for i, _, lw, _ in reversed(shown)]
    body.append(
        f'<polygon class="band" points="{" ".join(ring)}" fill="{PALETTE[0]}" '
        f'fill-opacity="0.22" stroke="none"><title>{esc(title)}: lower to upper bound</title>'
        "</polygon>"
    )
    line = " ".join(f"{num(x(i))},{num(y(m))}" for i, m, _, _ in shown)
    body.append(
        f'<polyline class="estimate" points="{line}" fill="none" stroke="{PALETTE[0]}" '
        'stroke-width="2"/>'
    )
    if clipped:
        body.append(
            _text(right - 4, top + 12, f"{clipped:,} with upper bounds above the axis: cut at its top",
                  "end", fill="#666", font_size=10)
        )  # fmt: skip
    return _svg(width, height, body, title) + _dropped_note(dropped)
