"""The cohort retention heatmap in the HTML report: one cell per observed (cohort, age), the
value and cohort size in each cell's tooltip, the unobserved corner left blank."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from truenorth.builtins.html.cohorts import cohort_heatmaps
from truenorth.builtins.html.report import render
from truenorth.builtins.kpi import KpiOptions, compute_tables
from truenorth.testing import run_rule

D = dt.date

TX = pl.DataFrame(
    {
        "customer": ["c1", "c1", "c1", "c2", "c2", "c3", "c3", "c3"],
        "time": [
            D(2026, 1, 3),
            D(2026, 2, 3),
            D(2026, 4, 3),
            D(2026, 1, 9),
            D(2026, 3, 9),
            D(2026, 2, 1),
            D(2026, 2, 2),
            D(2026, 3, 1),
        ],
    }
)


def test_heatmap_cells_follow_the_cohort_table():
    o = KpiOptions.model_validate({"metric": "cohort_retention", "age": 1})
    tables = compute_tables(o, lambda n: TX.lazy(), lambda n: True, rule_id="r")
    curves = tables["cohort_retention"]
    (fig,) = cohort_heatmaps(tables)
    tips = re.findall(r"<title>(cohort [^<]*)</title>", fig)
    assert len(tips) == curves.height  # one cell per observed cohort and age, none for the rest
    jan = [t for t in tips if t.startswith("cohort 2026-01-01")]
    assert [t.split(": ")[1].split(" (")[0] for t in jan] == ["1", "0.5", "0.5", "0.5"]
    assert all("(2 customers)" in t for t in jan)


def test_report_of_a_kpi_run_shows_the_heatmap():
    result = run_rule("kpi", {"metric": "cohort_retention"}, {"transactions": TX})
    page = render(result)
    assert "cohort_retention: share of each cohort still active" in page
    assert "periods since acquisition" in page
