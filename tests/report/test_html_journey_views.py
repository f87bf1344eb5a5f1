"""The journey views of the HTML report: valid SVG, no NaN, the figures each table asks for."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

import polars as pl

from truenorth.builtins.html.journey_views import duration, journey_views, sankey
from truenorth.builtins.journey import JourneyOptions, analyse


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", html, re.S)]


def test_sankey_ribbons_carry_the_path_units():
    chart = sankey(["a > b > c", "a > c", "b"], [5, 3, 2])
    root = ET.fromstring(chart)
    ns = "{http://www.w3.org/2000/svg}"
    tips = [p.find(f"{ns}title").text for p in root.iter(f"{ns}path")]
    assert sorted(tips) == sorted(
        [
            "a → b: 5 units (50% of the widest step)",
            "b → c: 5 units (50% of the widest step)",
            "a → c: 3 units (30% of the widest step)",
        ]
    )
    nodes = [r.find(f"{ns}title").text for r in root.iter(f"{ns}rect")]
    assert "a (step 1): 8 units" in nodes and "c (step 2): 3 units" in nodes
    assert "nan" not in chart.lower()
    assert "empty" in sankey([], [])


def test_every_view_renders_from_a_journey_rule():
    t0 = datetime(2024, 1, 1)
    rows = []
    for i in range(40):
        period = "Q1" if i % 2 else "Q2"
        rows.append((f"u{i}", t0.replace(hour=1), "view", "ads" if i % 3 else "seo", period))
        if i % 4:
            rows.append((f"u{i}", t0.replace(hour=2 + i % 5), "cart", None, period))
        if i % 8 == 1:
            rows.append((f"u{i}", t0.replace(hour=9), "buy", None, period))
    df = pl.DataFrame(
        rows, schema=["customer", "timestamp", "event", "channel", "period"], orient="row"
    )
    opts = JourneyOptions(
        steps=["view", "cart", "buy"],
        breakdown="channel",
        compare={"column": "period", "baseline": "Q1", "current": "Q2"},
    )
    tables, _ = analyse(df, opts)
    html = "".join(journey_views(tables))
    titles = [el.attrib["aria-label"] for el in svgs(html)]
    assert titles == [
        "Time to convert: view → buy",
        "Conversion from the previous step: current − baseline",
        "Funnel by breakdown value",
        "Step matrix: share of units",
        "Top paths (Sankey)",
    ]
    assert "nan" not in html.lower() and "<table>" in html
    assert journey_views({}) == []


def test_duration_labels():
    assert [duration(s) for s in (45, 720, 12600, 181440)] == ["45s", "12m", "3.5h", "2.1d"]
