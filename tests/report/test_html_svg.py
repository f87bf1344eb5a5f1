"""Unit tests of the HTML report's SVG chart functions: scales, axes, marks, escaping, NaN."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from truenorth.builtins.html import svg

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>&"\''


def parse(chart: str) -> ET.Element:
    """The chart's <svg> element (charts may append a <p> note after it)."""
    end = chart.index("</svg>") + len("</svg>")
    return ET.fromstring(chart[:end])  # raises on malformed XML / unescaped markup


def rects(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def no_nan(text: str) -> None:
    assert not re.search(r"\bnan\b|\binf", text, re.IGNORECASE), text


# --------------------------------------------------------------------------------- scales, ticks


def test_nice_ticks_hand_cases():
    assert svg.nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert svg.nice_ticks(0.13, 0.87) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert svg.nice_ticks(-23, 41) == [-40, -20, 0, 20, 40, 60]
    # A degenerate interval is padded rather than returning a single tick.
    assert len(svg.nice_ticks(5, 5)) >= 2
    assert svg.nice_ticks(0, 5e-324) == [-1, -0.5, 0, 0.5, 1]  # denormal span: no log10(0)


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(1e-3, 1e6, allow_nan=False),
)
def test_nice_ticks_cover_the_interval_with_equal_round_steps(lo, span):
    hi = lo + span
    ticks = svg.nice_ticks(lo, hi)
    assert ticks[0] <= lo + 1e-9 * span and ticks[-1] >= hi - 1e-9 * span
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    step = ticks[1] - ticks[0]
    assert all(math.isclose(s, step, rel_tol=1e-6, abs_tol=1e-9) for s in steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))
    assert 2 <= len(ticks) <= 13


def test_nice_ticks_rejects_non_finite():
    with pytest.raises(ValueError):
        svg.nice_ticks(0, math.inf)


def test_linear_scale_maps_endpoints_and_midpoint_reversed_range():
    y = svg.LinearScale(0, 10, 200, 20)  # SVG y grows downwards
    assert y(0) == 200 and y(10) == 20 and y(5) == 110
    assert svg.LinearScale(3, 3, 0, 100)(3) == 50  # zero-width domain: centred, not a ZeroDivision
    with pytest.raises(ValueError):
        svg.LinearScale(0, math.nan, 0, 1)


def test_num_refuses_non_finite_and_has_no_negative_zero():
    assert svg.num(-0.0001) == "0"
    assert svg.num(12.3456) == "12.35"
    assert svg.num(7.0) == "7"
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            svg.num(bad)


def test_fmt():
    assert svg.fmt(None) == "–"
    assert svg.fmt(math.nan) == "–"
    assert svg.fmt(1234567) == "1,234,567"
    assert svg.fmt(200.0) == "200"
    assert svg.fmt(0.83527) == "0.835"
    assert svg.fmt(12.3456) == "12.35"
    assert svg.fmt(True) == "true"


# --------------------------------------------------------------------------------- histogram


def test_histogram_counts_every_finite_value_once_and_reports_dropped():
    values = [1.0, 2.0, 2.5, 3.0, 10.0, math.nan, None, math.inf, "x"]
    chart = svg.histogram(values, bins=3, clip_quantile=None, title="h")
    root = parse(chart)
    counts = [
        int(re.search(r": ([\d,]+)$", r.find(f"{NS}title").text).group(1)) for r in rects(root)
    ]
    assert len(counts) == 3
    assert sum(counts) == 5  # 1, 2, 2.5, 3 in the first bin; 10 in the last
    assert counts == [4, 0, 1]
    assert "4 value(s) missing or not finite were left out" in chart
    no_nan(chart)


def test_histogram_bar_heights_are_proportional_to_counts():
    chart = svg.histogram([0.0] * 4 + [1.0] * 2, bins=2, clip_quantile=None)
    bars = rects(parse(chart))
    h = [float(b.get("height")) for b in bars]
    assert h[0] == pytest.approx(2 * h[1], rel=0.02)


def test_histogram_folds_the_long_tail_into_an_open_last_bin():
    values = [float(i) for i in range(100)] + [10_000.0]
    chart = svg.histogram(values, bins=10, clip_quantile=0.99)
    counts = [
        int(re.search(r": ([\d,]+)$", r.find(f"{NS}title").text).group(1))
        for r in rects(parse(chart))
    ]
    assert sum(counts) == 101
    assert "folded in" in chart
    # The x axis ends near the 99th percentile, not at 10,000.
    assert "10,000" not in chart


def test_histogram_without_data_is_a_note_not_an_svg():
    out = svg.histogram([None, math.nan], title="CLV")
    assert "<svg" not in out and "no finite values" in out


# --------------------------------------------------------------------------------- bars


def test_bar_widths_are_proportional_and_negative_bars_go_left():
    chart = svg.bar_chart(["a", "b", "c"], [50, 100, -50], domain=(-100, 100))
    bars = rects(parse(chart))
    w = {
        b.find(f"{NS}title").text.split(":")[0]: (float(b.get("x")), float(b.get("width")))
        for b in bars
    }
    assert w["b"][1] == pytest.approx(2 * w["a"][1], rel=0.02)
    assert w["c"][1] == pytest.approx(w["a"][1], rel=0.02)
    assert w["c"][0] < w["a"][0]  # left of zero
    assert w["a"][0] == pytest.approx(w["c"][0] + w["c"][1], abs=0.02)  # both touch the zero line


def test_bar_chart_escapes_labels_and_annotations():
    chart = svg.bar_chart([EVIL], [1.0], annotations=[EVIL], title=EVIL)
    parse(chart)
    assert "<script>" not in chart
    assert "&lt;script&gt;" in chart


def test_grouped_and_stacked_bars():
    chart = svg.grouped_bar_chart(["x", "y"], {"first": [0.5, 0.5], "markov": [0.8, None]})
    bars = rects(parse(chart))
    assert len(bars) == 3  # the None is skipped, not drawn as 0 or NaN
    no_nan(chart)
    stacked = svg.stacked_bar_chart(["b1", "b2"], {"ok": [3, 1], "gaps": [1, 0]})
    segs = rects(parse(stacked))
    assert len(segs) == 3
    widths = [float(s.get("width")) for s in segs]
    # b1 = 3 + 1 spans the whole axis (4 is the top tick), b2's one item a quarter of it.
    assert widths[0] + widths[1] == pytest.approx(4 * widths[2], rel=0.02)


def test_funnel_shares_and_drop_off():
    chart = svg.funnel_chart(["visit", "cart", "buy"], [1000, 400, 100])
    root = parse(chart)
    widths = [float(r.get("width")) for r in rects(root)]
    assert widths[0] == pytest.approx(10 * widths[2], rel=0.02)
    assert "40%" in chart and "−75%" in chart
    assert "no customers" in svg.funnel_chart(["a"], [0])


# --------------------------------------------------------------------------------- scatter


def test_scatter_places_points_on_a_shared_square_scale_with_quadrant_lines():
    chart = svg.scatter_quadrants(
        [("mid", 0.5, 0.5, "A"), ("corner", 1.0, 0.0, "M"), ("bad", math.nan, 0.3, "I")],
        quadrant_names=("attractive", "one-dimensional", "indifferent", "must-be"),
    )
    root = parse(chart)
    circles = [c for c in root.iter(f"{NS}circle") if c.find(f"{NS}title") is not None]
    assert len(circles) == 2
    dashed = [ln for ln in root.iter(f"{NS}line") if ln.get("stroke-dasharray")]
    vx = next(float(ln.get("x1")) for ln in dashed if ln.get("x1") == ln.get("x2"))
    hy = next(float(ln.get("y1")) for ln in dashed if ln.get("y1") == ln.get("y2"))
    mid = circles[0]
    assert float(mid.get("cx")) == pytest.approx(vx) and float(mid.get("cy")) == pytest.approx(hy)
    corner = circles[1]
    assert float(corner.get("cx")) > vx and float(corner.get("cy")) > hy  # right, below
    assert "1 value(s) missing" in chart
    for name in ("attractive", "must-be"):
        assert name in chart


# --------------------------------------------------------------------------------- heatmap, radar


def test_heatmap_colours_follow_values_and_missing_cells_are_grey():
    chart = svg.heatmap(
        ["r1", "r2"], ["c1", "c2"], [[0.0, 1.0], [None, 0.5]], counts=[[3, 4], [None, 1]]
    )
    cells = {r.find(f"{NS}title").text: r.get("fill") for r in rects(parse(chart))}
    low = next(v for k, v in cells.items() if "c1: 0" in k)
    high = next(v for k, v in cells.items() if "c2: 1" in k)
    missing = next(v for k, v in cells.items() if "no customers" in k)
    assert low == "#fff7bc" and high == "#253494" and missing == "#eeeeee"
    assert "(4 customers)" in chart
    assert "no finite values" in svg.heatmap(["a"], ["b"], [[None]])


def test_radar_vertices_lie_at_the_right_radius():
    axes = ["a", "b", "c", "d"]
    chart = svg.radar_chart(axes, [5, 0, 2.5, None], max_value=5, size=440)
    root = parse(chart)
    pts = [
        (float(c.get("cx")), float(c.get("cy")))
        for c in root.iter(f"{NS}circle")
        if c.find(f"{NS}title") is not None
    ]
    cx, cy = (440 + 2 * 180) / 2, 230
    radius = 440 / 2 - 70
    assert math.dist(pts[0], (cx, cy)) == pytest.approx(radius, abs=0.02)  # max: the rim
    assert pts[0][1] < cy  # first axis points up
    assert math.dist(pts[1], (cx, cy)) == pytest.approx(0, abs=0.02)
    assert math.dist(pts[2], (cx, cy)) == pytest.approx(radius / 2, abs=0.02)
    assert "no rating" in chart  # the None is marked, not silently drawn as 0
    # Fewer than three axes: bars instead.
    assert "<polygon" not in svg.radar_chart(["a", "b"], [1, 2])


def test_bullet_bands_follow_direction():
    chart = svg.bullet_chart(
        [
            {"label": "nps", "value": 35.0, "warn": 40, "fail": 20, "status": "warn",
             "lower": 30, "upper": 40, "higher_is_better": True},
            {"label": "response hours", "value": 1.0, "warn": 2, "fail": 4, "status": "pass",
             "higher_is_better": False, "unit": "abs"},
            {"label": "empty", "value": None},
        ]
    )  # fmt: skip
    root = parse(chart)
    fills = [r.get("fill") for r in root.iter(f"{NS}rect")]
    assert fills.count("#f4d3cf") == 2 and fills.count("#d8ecd9") == 2
    bars = {r.find(f"{NS}title").text: r for r in rects(root)}
    assert bars["nps: 35 (warn)"].get("fill") == svg.STATUS_COLOURS["warn"]
    assert bars["response hours: 1 (pass)"].get("fill") == svg.STATUS_COLOURS["pass"]
    assert "1 value(s) missing" in chart
    no_nan(chart)


@given(
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)),
        max_size=40,
    )
)
@example([0.0, 2.225073858507203e-309])  # denormal spans once produced NaN bins
@example([5e-324])
def test_charts_never_emit_nan_or_malformed_svg(values):
    labels = [f"<f{i}>" for i in range(len(values))]
    outputs = [
        svg.histogram(values),
        svg.histogram(values, bins=3, clip_quantile=None),
        svg.bar_chart(labels, values),
        svg.scatter_quadrants([(lab, v, v, "g") for lab, v in zip(labels, values, strict=True)]),
        svg.bullet_chart(
            [
                {
                    "label": lab,
                    "value": v,
                    "warn": v,
                    "fail": v,
                    "lower": v,
                    "upper": v,
                    "target": v,
                }
                for lab, v in zip(labels, values, strict=True)
            ]
        ),
    ]
    if values:
        outputs += [
            svg.funnel_chart(labels, values),
            svg.line_chart(labels, values, bands=[(v, "#000", "x") for v in values[:2]]),
            svg.grouped_bar_chart(labels, {"a": values, "b": values}),
            svg.stacked_bar_chart(labels, {"a": values}),
            svg.heatmap(labels, ["c"], [[v] for v in values]),
        ]
    if len(values) >= 3:
        outputs.append(svg.radar_chart(labels, values))
    for out in outputs:
        no_nan(out)
        assert "<f" not in out  # labels are escaped
        if "<svg" in out:
            parse(out)


def test_line_chart_breaks_at_missing_values_and_draws_threshold_lines():
    chart = svg.line_chart(
        ["1997-01", "1997-02", "1997-03", "1997-04", "1997-05"],
        [30.0, 40.0, None, 20.0, 50.0],
        bands=[(40.0, "#d99a1e", "warn < 40"), (20.0, "#c4473d", "fail < 20")],
    )
    root = parse(chart)
    lines = list(root.iter(f"{NS}polyline"))
    assert [len(pl.get("points").split()) for pl in lines] == [2, 2]  # split at the gap
    points = [c for c in root.iter(f"{NS}circle") if c.find(f"{NS}title") is not None]
    assert len(points) == 4
    dashed = {ln.get("y1") for ln in root.iter(f"{NS}line") if ln.get("stroke-dasharray")}
    # The warn line at 40 runs through the second point, the fail line through the fourth.
    assert {points[1].get("cy"), points[2].get("cy")} == dashed
    assert "1 value(s) missing" in chart
    no_nan(chart)
