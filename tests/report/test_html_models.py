"""The report's purchase-model section (a clv rule with ``model: auto``) and interval bands
(``interval:``), read back by parsing the HTML and its SVG; the Markdown comparison table."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import polars as pl
import pytest

from truenorth import clv
from truenorth.builtins.html import render
from truenorth.builtins.reporters import markdown
from truenorth.testing import run_rule

SVG_NS = "{http://www.w3.org/2000/svg}"
OPTIONS = {
    "model": "auto",
    "models": ["bg_nbd", "pareto_nbd", "mbg_nbd"],
    "unit": "1w",
    "calibration_end": "2024-08-31",
    "interval": 0.9,
    "draws": 50,
}


@pytest.fixture(scope="module")
def result():
    log = clv.simulate_bg_nbd_transactions(
        1200, r=0.25, alpha=28.0, a=0.8, b=2.5, seed=5, spend=(6.0, 4.0, 15.0)
    )
    return run_rule("clv", OPTIONS, {"transactions": log})


@pytest.fixture(scope="module")
def page(result) -> str:
    return render(result)


def section(page: str, title: str) -> str:
    start = page.index(f"<section><h2>{title}</h2>")
    return page[start : page.index("</section>", start)]


def charts(html: str) -> dict[str, ET.Element]:
    """Every inline SVG, parsed, by its aria-label."""
    out = {}
    for text in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        svg = ET.fromstring(text)
        out[svg.get("aria-label")] = svg
    return out


def labels(result) -> list[str]:
    models = result.tables["clv_models"].filter(pl.col("fit") == "calibration")
    return models["label"].to_list()


def test_the_section_has_a_model_card_of_the_chosen_model(result, page):
    html = section(page, "Purchase model")
    chosen = result.tables["clv_models"].filter(pl.col("fit") == "full").row(0, named=True)
    card = re.search(r'<table class="model-card">(.*?)</table>', html, flags=re.S)
    assert card is not None
    assert f"Model card: {chosen['label']}" in html
    rows = dict(re.findall(r"<tr><th>(.*?)</th><td[^>]*>(.*?)</td></tr>", card.group(1)))
    params = result.tables["clv_parameters"].filter(
        (pl.col("model") == chosen["model"]) & (pl.col("fit") == "full")
    )
    for name in params["parameter"]:
        assert " ± " in rows[name]
    assert set(rows) >= {"log-likelihood", "AIC", "BIC", "converged"}
    assert rows["converged"] == "true"


def test_the_comparison_table_has_a_row_per_candidate_best_first(result, page):
    html = section(page, "Purchase model")
    table = html[html.index("<h3>Candidates</h3>") :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    assert len(rows) == 3
    ranked = result.tables["clv_models"].filter(pl.col("fit") == "calibration").sort("rank")
    for row, model in zip(rows, ranked["model"], strict=True):
        assert f"<td>{model}</td>" in row


def test_tracking_charts_draw_each_model_and_the_boundary(result, page):
    found = charts(section(page, "Purchase model"))
    tracking = result.tables["clv_tracking"]
    first = tracking.filter(pl.col("model") == "bg_nbd").sort("period")
    n_cal = first.filter(pl.col("phase") == "calibration").height
    for what in ("cumulative", "per period"):
        svg = found[f"Tracking: repeat transactions, {what}"]
        lines = svg.findall(f"{SVG_NS}polyline")
        assert sorted(p.get("data-series") for p in lines) == sorted(["actual", *labels(result)])
        for p in lines:  # one point per tracking period
            assert len(p.get("points").split()) == first.height
        (boundary,) = [ln for ln in svg.findall(f"{SVG_NS}line") if ln.get("class") == "boundary"]
        xs = [float(pt.split(",")[0]) for pt in lines[0].get("points").split()]
        # between the last calibration period and the first holdout one
        assert xs[n_cal - 1] < float(boundary.get("x1")) < xs[n_cal]
    # the cumulative actual line ends at the cohort's repeat transactions
    svg = found["Tracking: repeat transactions, cumulative"]
    actual = next(p for p in svg.findall(f"{SVG_NS}polyline") if p.get("data-series") == "actual")
    ys = [float(pt.split(",")[1]) for pt in actual.get("points").split()]
    assert ys == sorted(ys, reverse=True)  # rising data is falling SVG y


def test_conditional_and_frequency_charts(result, page):
    found = charts(section(page, "Purchase model"))
    cond = found["Conditional expectations: holdout purchases by calibration count"]
    lines = cond.findall(f"{SVG_NS}polyline")
    assert sorted(p.get("data-series") for p in lines) == sorted(["actual", *labels(result)])
    bins = result.tables["clv_conditional"].filter(pl.col("model") == "bg_nbd").height
    assert all(len(p.get("points").split()) == bins for p in lines)
    freq = found["Repeat purchases in the calibration window: customers per count"]
    n_bins = result.tables["clv_frequency"].filter(pl.col("model") == "bg_nbd").height
    bars = [r for r in freq.iter(f"{SVG_NS}rect") if r.find(f"{SVG_NS}title") is not None]
    assert len(bars) == n_bins * (1 + len(labels(result)))


def test_interval_bands_in_the_clv_section(result, page):
    found = charts(section(page, "Customer value"))
    for what in ("CLV", "P(alive)"):
        svg = found[f"{what} with its prediction interval"]
        (band,) = [p for p in svg.findall(f"{SVG_NS}polygon") if p.get("class") == "band"]
        (line,) = [p for p in svg.findall(f"{SVG_NS}polyline") if p.get("class") == "estimate"]
        n = len(line.get("points").split())
        assert n == 200  # at most 200 customers drawn, evenly spaced in rank
        assert len(band.get("points").split()) == 2 * n
        # the upper edge is never below the estimate (SVG y grows downwards)
        up = [float(p.split(",")[1]) for p in band.get("points").split()[:n]]
        mid = [float(p.split(",")[1]) for p in line.get("points").split()]
        assert all(u <= m + 1e-6 for u, m in zip(up, mid, strict=True))


def test_no_model_section_without_the_tables(result):
    tables = {"customers": result.tables["customers"].drop("clv_lower", "clv_upper")}
    page = render(type("R", (), {"tables": tables})())
    assert "<h2>Purchase model</h2>" not in page
    assert "CLV with its prediction interval" not in page
    assert "P(alive) with its prediction interval" in page


def test_markdown_has_the_comparison_table(result):
    text = markdown(result)
    block = text[text.index("## Purchase models (clv_models)") :].split("\n\n")[1]
    rows = block.splitlines()
    assert rows[0].startswith("| rank | model | chosen | converged | LL | AIC | BIC |")
    ranked = result.tables["clv_models"].filter(pl.col("fit") == "calibration").sort("rank")
    assert len(rows) == 2 + ranked.height
    for line, row in zip(rows[2:], ranked.iter_rows(named=True), strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == str(row["rank"]) and cells[1] == row["model"]
        assert cells[2] == ("yes" if row["selected"] else "no")
        assert cells[11] == f"{row['rmse']:.4g}"


def test_a_band_with_a_few_huge_values_cuts_them_at_the_axis_top():
    from truenorth.builtins.html import svg as charts_

    mid = [1000.0, 900.0] + [float(v % 17) for v in range(98)]
    page = charts_.band_chart(mid, [m * 0.8 for m in mid], [m * 1.2 for m in mid], title="B")
    svg = ET.fromstring(page[: page.index("</svg>") + 6])
    assert "2 with upper bounds above the axis" in page
    (band,) = svg.findall(f"{SVG_NS}polygon")
    ys = [float(p.split(",")[1]) for p in band.get("points").split()]
    assert min(ys) >= 30  # nothing drawn above the plot's top edge
    # without outliers nothing is cut
    page = charts_.band_chart(mid[2:], mid[2:], [m + 1 for m in mid[2:]], title="C")
    assert "above the axis" not in page
