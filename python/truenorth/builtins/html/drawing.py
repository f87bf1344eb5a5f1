"""SVG building blocks for the report's charts: escaping, safe numbers, number formats,
nice ticks, linear scales, text, lines, rectangles and axes."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
