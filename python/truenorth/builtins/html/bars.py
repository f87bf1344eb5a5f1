"""Bar-like charts: histogram, bars (plain, grouped, stacked) and the funnel."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from .drawing import (
    MAX_MAGNITUDE,
    PALETTE,
    LinearScale,
    _clip_label,
    _dropped_note,
    _line,
    _pad,
    _rect,
    _svg,
    _text,
    _x_axis,
    _y_axis,
    empty,
    finite,
    fmt,
    nice_ticks,
    pct,
)


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
