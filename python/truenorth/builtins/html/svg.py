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

# The charts live in bars.py, lines.py and plots.py, their building blocks in drawing.py; the report
# and tests use them through this one namespace.
from .bars import bar_chart, funnel_chart, grouped_bar_chart, histogram, stacked_bar_chart
from .drawing import (
    PALETTE,
    SEVERITY_COLOURS,
    STATUS_COLOURS,
    LinearScale,
    empty,
    esc,
    finite,
    fmt,
    nice_ticks,
    num,
    pct,
)
from .lines import band_chart, multi_line_chart
from .plots import bullet_chart, heatmap, line_chart, radar_chart, scatter_quadrants

__all__ = [
    "PALETTE",
    "SEVERITY_COLOURS",
    "STATUS_COLOURS",
    "LinearScale",
    "band_chart",
    "bar_chart",
    "bullet_chart",
    "empty",
    "esc",
    "finite",
    "fmt",
    "funnel_chart",
    "grouped_bar_chart",
    "heatmap",
    "histogram",
    "line_chart",
    "multi_line_chart",
    "nice_ticks",
    "num",
    "pct",
    "radar_chart",
    "scatter_quadrants",
    "stacked_bar_chart",
]
