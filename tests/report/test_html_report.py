"""The html reporter on hand-made results: sections per table, subsets, escaping, atomic write."""

from __future__ import annotations

import datetime as dt
import html.parser
import math
import os
import re

import polars as pl
import pytest

import truenorth
from truenorth import Result, RuleRun
from truenorth.builtins import html as html_reporter
from truenorth.builtins.html.report import SECTIONS, render

EVIL = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def customers(n: int = 300) -> pl.DataFrame:
    # Deterministic, varied data without numpy: frequency 0..14, recency within T.
    rows = []
    for i in range(n):
        f = (i * 7) % 15
        t_age = 20 + (i * 13) % 50
        rec = 0.0 if f == 0 else float((i * 31) % t_age)
        p = 1.0 if f == 0 else round(max(0.02, 1 - (t_age - rec) / t_age * 0.9), 3)
        rows.append((f"c{i}", f, rec, float(t_age), p, round(5 + (i * 37) % 400 * p, 2)))
    return pl.DataFrame(
        rows, schema=["customer", "frequency", "recency", "T", "p_alive", "clv"], orient="row"
    ).with_columns(
        segment=pl.when(pl.col("clv") > 200).then(pl.lit("champions")).otherwise(pl.lit("at_risk"))
    )


def full_result(**overrides) -> Result:
    tables = {
        "customers": customers(),
        "segments": pl.DataFrame(
            {"segment": ["champions", "at_risk", EVIL], "customers": [40, 200, 60],
             "clv_total": [12000.0, 8000.0, 100.0], "clv_mean": [300.0, 40.0, 1.7]}
        ),
        "kano": pl.DataFrame(
            {"feature": ["search", "previews", "gift_wrap", EVIL], "category": ["M", "A", "I", "O"],
             "category_name": ["must_be", "attractive", "indifferent", "one_dimensional"],
             "better": [0.25, 0.7, 0.2, 0.6], "worse": [-0.8, -0.2, -0.1, -0.7]}
        ),
        "funnel": pl.DataFrame(
            {"step": ["awareness", "consideration", "purchase", "retention"],
             "customers": [2400, 1700, 600, 420]}
        ),
        "attribution": pl.DataFrame(
            {"touchpoint": ["search_ad", "radio_spot", "search_ad", "radio_spot"],
             "model": ["last_touch", "last_touch", "markov", "markov"], "share": [0.7, 0.3, 0.6, 0.4]}
        ),
        "touchpoints": pl.DataFrame(
            {"touchpoint": ["web_checkout", "track_preview"], "satisfaction": [2.9, 4.4]}
        ),
        "kpi_nps": pl.DataFrame(
            {"rule_id": ["nps", "nps"], "metric": ["nps", "nps"], "subject": ["overall", "casual"],
             "segment": [None, "casual"], "period": [None, None], "value": [43.1, 30.0], "n": [6000, 2400],
             "ci_low": [41.0, 27.0], "ci_high": [45.2, 33.0], "target": [None, None], "meets_target": [None, None]},
            schema_overrides={"period": pl.Date, "target": pl.Float64, "meets_target": pl.Boolean},
        ),
        "kpi_frt": pl.DataFrame(
            {"rule_id": ["frt"] * 3, "metric": ["first_response_time"] * 3,
             "subject": ["overall", "1997-11-01", "1997-12-01"], "segment": [None] * 3,
             "period": [None, dt.date(1997, 11, 1), dt.date(1997, 12, 1)], "value": [1.1, 3.9, 5.0],
             "n": [3000, 160, 240], "target": [2.0] * 3, "meets_target": [True, False, False]},
            schema_overrides={"segment": pl.String},
        ),
        "canvas_coverage": pl.DataFrame(
            {"block": ["customer_segments", "value_propositions", "channels"], "items": [3, 4, 3], "gaps": [1, 1, 0]}
        ),
        "maturity": pl.DataFrame(
            {"dimension": ["customer research and feedback", "product/service design",
                           "customer experience management", "value proposition",
                           "engagement and relationships", "continuous improvement", "overall"],
             "level": [3, 2, 3, 4, 2, 1, 1]}
        ),
    }  # fmt: skip
    findings = pl.DataFrame(
        {
            "rule_id": ["frt", "frt", "nps", EVIL],
            "kind": ["kpi", "kpi", "kpi", "condition"],
            "severity": ["warn", "fail", "warn", "info"],
            "subject": ["1997-11-01", "1997-12-01", "casual", EVIL],
            "message": ["slow", "very slow", "low", EVIL],
            "value": [3.9, 5.0, 30.0, math.nan],
            "threshold": ["value > 2", "value > 4", "value < 40", None],
            "evidence": ["{}"] * 4,
            "action": [None, "staff-up", None, EVIL],
            "location": ["kpi.yaml:3:5"] * 4,
        }
    )
    rules = [
        RuleRun(
            "nps",
            "kpi",
            "ok",
            0.02,
            1,
            ["kpi_nps"],
            conditions={"warn": "value < 40", "fail": "value < 20"},
        ),
        RuleRun("frt", "kpi", "ok", 0.5, 2, ["kpi_frt"]),
        RuleRun(EVIL, "condition", "error", 0.001, 1, [], error=EVIL, location=EVIL),
    ]
    base = dict(pack="northwind <review>", params={"horizon": 12, "evil": EVIL}, tables=tables,
                findings=findings, rules=rules, seconds=1.25, files=["rules/kpi.yaml"])  # fmt: skip
    base.update(overrides)
    return Result(**base)


class _Checker(html.parser.HTMLParser):
    """Collects start tags; fails on any script, external URL or event-handler attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        assert tag not in ("script", "iframe", "object", "embed", "link", "img"), tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href") and value:
                assert not re.match(r"(?i)\s*(https?:|//|javascript:)", value), (tag, name, value)


def check_page(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page
    assert not re.search(r"\bnan\b|\binf\b", page, re.IGNORECASE)
    return checker


def test_full_result_draws_every_section():
    page = render(full_result())
    checker = check_page(page)
    for title in ("Customer value", "Segments", "Kano", "Journey funnel", "Attribution",
                  "Touchpoints", "KPIs", "Business Model Canvas", "Maturity"):  # fmt: skip
        assert f"<h2>{title}</h2>" in page, title
    for chart in ("CLV distribution", "Mean P(alive) by frequency and recency", "Segment sizes",
                  "Kano: better vs |worse|", "Funnel", "Attribution of conversions by touchpoint",
                  "Touchpoint satisfaction", "KPIs against thresholds", "Canvas coverage per block",
                  "Customer-value maturity", "frt per period"):  # fmt: skip
        assert f'aria-label="{chart}"' in page, chart
    assert "chart could not be drawn" not in page
    assert checker.tags.count("svg") >= 11
    assert "Overall level 1 (ad-hoc)" in page  # the "overall" row is a caption, not an axis


def test_only_present_tables_get_sections():
    r = full_result(tables={"kano": full_result().tables["kano"]})
    page = render(r)
    check_page(page)
    assert "<h2>Kano</h2>" in page
    for title in ("Customer value", "Segments", "Journey funnel", "KPIs", "Maturity"):
        assert f"<h2>{title}</h2>" not in page


def test_empty_result_renders():
    r = Result(pack="p", params={}, tables={}, findings=pl.DataFrame(), rules=[])
    page = render(r)
    check_page(page)
    assert "no findings" in page and "no rules ran" in page
    assert "<svg" not in page


@pytest.mark.parametrize("keep", ["first", "none-numeric"])
@pytest.mark.parametrize(
    "name",
    [
        "customers",
        "segments",
        "kano",
        "funnel",
        "attribution",
        "touchpoints",
        "kpi_nps",
        "canvas_coverage",
        "maturity",
    ],
)
def test_each_section_tolerates_missing_optional_columns(name, keep):
    """Strip a table to one column, or to its string columns: a note, never an error."""
    df = full_result().tables[name]
    if keep == "first":
        df = df.select(df.columns[0])
    else:
        df = df.select(pl.col(pl.String))
    page = render(full_result(tables={name: df}))
    check_page(page)
    assert "chart could not be drawn" not in page


def test_sections_cover_every_table_of_the_full_result():
    triggers = {t for _, needs, _ in SECTIONS for t in needs}
    full = full_result().tables
    assert set(full) - triggers == {"kpi_nps", "kpi_frt"}  # KPI tables are found by their columns


def test_customers_with_clv_only_draw_a_histogram_but_no_heatmap():
    tables = {"customers": customers().select("customer", "clv")}
    page = render(full_result(tables=tables))
    assert 'aria-label="CLV distribution"' in page
    assert "P(alive)" not in page


def test_segments_fall_back_to_the_customers_segment_column():
    tables = {"customers": customers()}
    page = render(full_result(tables=tables))
    assert 'aria-label="Customers per segment"' in page


def test_every_data_string_is_escaped():
    page = render(full_result())
    check_page(page)  # no <script>/<img>/on* attributes made it through
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "northwind &lt;review&gt;" in page


def test_kpi_bands_use_the_rule_thresholds_and_finding_status():
    page = render(full_result())
    # nps overall 43.1 passes "value < 40"; its casual row is a breakdown and not drawn.
    assert "nps: 43.1 (pass)" in page
    # The band zones: red below 20, amber 20-40, green above.
    assert page.count('fill="#f4d3cf"') >= 1


def test_findings_are_sorted_by_severity_and_coloured():
    page = render(full_result())
    body = page[page.index("<h2>Findings</h2>") :]
    order = re.findall(r'<span class="sev (\w+)">', body)
    assert order == ["fail", "warn", "warn", "info"]


def test_finding_limit_is_reported(monkeypatch):
    import truenorth.builtins.html.report as report

    monkeypatch.setattr(report, "MAX_FINDINGS", 2)
    page = render(full_result())
    assert "showing the first 2 of 4 findings" in page


def test_write_is_atomic_and_replaces_the_old_report(tmp_path):
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old")
    html_reporter.write(full_result(), target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp file left


def test_write_failure_leaves_the_old_report(tmp_path, monkeypatch):
    import truenorth.builtins.html as mod

    target = tmp_path / "report.html"
    target.write_text("old")

    def boom(result):
        raise RuntimeError("render failed")

    monkeypatch.setattr(mod, "render", boom)
    with pytest.raises(RuntimeError):
        mod.write(full_result(), target)
    assert target.read_text() == "old"


def test_registered_as_a_reporter_through_the_plugin_hook():
    seen = []
    html_reporter.register_reporters(seen.append)
    assert len(seen) == 1
    rep = seen[0]
    assert isinstance(rep, truenorth.Reporter)
    assert rep.name == "html" and rep.extension == ".html"


def test_the_plugin_manager_finds_the_html_reporter():
    from truenorth.engine.plugins import load_registry

    registry = load_registry()
    assert "html" in registry.reporters
    assert registry.reporters["html"].write is html_reporter.write


def test_actions_section_counts_findings_per_action():
    page = render(full_result())
    section = page[page.index("<h2>Actions</h2>") : page.index("<h2>Rules</h2>")]
    assert 'aria-label="Findings per action"' in section
    assert "staff-up: 1" in section  # bar tooltip: action and count
    assert "<script" not in section and "&lt;script&gt;" in section
    no_actions = full_result().findings.with_columns(action=pl.lit(None, dtype=pl.String))
    assert "<h2>Actions</h2>" not in render(full_result(findings=no_actions))


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_report_mode_follows_the_umask(tmp_path, umask, mode):
    target = tmp_path / "report.html"
    old = os.umask(umask)
    try:
        html_reporter.write(full_result(), target)
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == mode


def test_value_concentration_deciles_add_up_to_the_whole():
    page = render(full_result(tables={"customers": customers()}))
    start = page.index('aria-label="Share of total clv by customer decile"')
    chart = page[start : page.index("</svg>", start)]
    shares = [float(v) for v in re.findall(r"top \d+–\d+ %: ([\d.]+)%</title>", chart)]
    assert len(shares) == 10
    assert sum(shares) == pytest.approx(100, abs=0.3)  # each rounded to 0.1 %
    assert shares == sorted(shares, reverse=True)  # most valuable tenth first


def test_kano_drift_and_segment_charts():
    kano = full_result().tables["kano"]
    waves = pl.concat(
        [
            kano.with_columns(wave=pl.lit(1), better=pl.col("better") - 0.2),
            kano.with_columns(wave=pl.lit(2)).with_columns(
                category=pl.when(pl.col("feature") == "previews")
                .then(pl.lit("O"))
                .otherwise("category")
            ),
        ]
    )
    segments = pl.concat(
        [
            kano.with_columns(segment=pl.lit("collector")),
            kano.with_columns(segment=pl.lit("casual")),
        ]
    )
    page = render(
        full_result(tables={"kano": kano, "kano_waves": waves, "kano_segments": segments})
    )
    assert 'aria-label="Kano drift: wave 1 → 2"' in page
    assert "Changed category: previews: A → O." in page
    drift = page[page.index('aria-label="Kano drift') :]
    drift = drift[: drift.index("</svg>")]
    assert drift.count('fill="#fff" stroke="#999"') == 4  # one hollow "before" marker per feature
    for seg in ("casual", "collector"):
        assert f'aria-label="Kano: segment {seg}"' in page
