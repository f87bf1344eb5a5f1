"""The bundled packs on the bundled data: they validate, run, and find what the data was built to show.

These are the domain files of the ``customer-value-review`` pack that stand alone (Kano, KPIs,
journey); the whole pack, with CLV, canvas and maturity, is exercised in ``test_review_pack``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import yaml

import truenorth
from truenorth.builtins.html import render

PACKS = Path(truenorth.__file__).parent / "packs"


def run(*names: str) -> truenorth.Result:
    return truenorth.Engine.load([PACKS / f"{n}.yaml" for n in names]).run()


def subjects(result: truenorth.Result, rule: str, severity: str | None = None) -> set[str]:
    f = result.findings.filter(pl.col("rule_id") == rule)
    if severity:
        f = f.filter(pl.col("severity") == severity)
    return set(f["subject"].to_list())


@pytest.fixture(scope="module")
def standalone() -> truenorth.Result:
    return run("kano", "kpi", "journey")


def test_standalone_domain_files_run_cleanly(standalone):
    assert standalone.pack == "customer-value-review"
    assert [r.id for r in standalone.errors] == []
    assert {"kano", "kano_waves", "kano_segments", "funnel", "attribution", "touchpoints"} <= set(
        standalone.tables
    )


def test_kano_finds_the_designed_priorities(standalone):
    kano = standalone.tables["kano"]
    cat = dict(kano.select("feature", "category").iter_rows())
    assert cat["catalogue_search"] == cat["secure_checkout"] == cat["order_tracking"] == "M"
    assert cat["fast_delivery"] == "O" and cat["track_previews"] == "O"
    assert cat["gift_wrapping"] == "I"
    # The unmet basic (order tracking) and the pitfall of building delighters meanwhile.
    messages = " | ".join(standalone.findings.filter(pl.col("rule_id") == "kano")["message"])
    assert "'order_tracking' is unmet" in messages
    assert "investing in attractive feature 'recommendations'" in messages
    # Drift between the waves, as generated.
    assert re.search(r"'track_previews' drifted from A .* to O", messages)
    assert re.search(r"'order_tracking' drifted from O .* to M", messages)
    seg = standalone.tables["kano_segments"]
    liner = dict(
        seg.filter(pl.col("feature") == "liner_notes").select("segment", "category").iter_rows()
    )
    assert liner == {"collector": "A", "casual": "I"}


def test_kpis_flag_the_holiday_backlog_and_the_csat_gap(standalone):
    assert "1997-12-01" in subjects(standalone, "nps-monthly", "warn")
    assert "1997-12-01" in subjects(standalone, "first-response-monthly", "fail")
    assert subjects(standalone, "csat") >= {"overall", "casual", "collector"}  # target 0.9 missed
    assert subjects(standalone, "first-response") == {"email"}  # phone and chat answer fast
    nps = standalone.tables["kpi_nps"].filter(pl.col("subject") == "overall")
    assert 30 < nps["value"][0] < 60 and nps["ci_low"][0] < nps["value"][0] < nps["ci_high"][0]


def test_journey_finds_the_checkout_bottleneck(standalone):
    funnel = standalone.tables["funnel"].sort("step_index")
    reached = funnel["reached"].to_list()
    assert reached == sorted(reached, reverse=True) and reached[0] == 2400
    assert subjects(standalone, "journey", "warn") >= {"purchase", "web_checkout", "order_tracking"}
    largest = standalone.findings.filter(
        (pl.col("rule_id") == "journey") & pl.col("message").str.contains("largest drop-off")
    )
    assert largest["subject"].to_list() == ["purchase"]
    attribution = standalone.tables["attribution"]
    assert attribution["markov_share"].sum() == pytest.approx(1.0)


def test_report_of_the_standalone_run(standalone):
    page = render(standalone)
    for title in ("Kano", "Journey funnel", "Attribution", "Touchpoints", "KPIs"):
        assert f"<h2>{title}</h2>" in page
    assert "chart could not be drawn" not in page
    assert "web_checkout" in page and "order_tracking" in page


def test_every_bundled_pack_file_validates():
    """All domain files together load and compile (conditions, columns, table graph)."""
    own = {"engine-demo.yaml", "clv-covariates.yaml", "clv-dynamic.yaml"}  # packs of their own
    files = sorted(p for p in PACKS.glob("*.yaml") if p.name not in own)
    assert {p.stem for p in files} >= {"kano", "kpi", "journey"}
    engine = truenorth.Engine.load(files)
    assert engine.name == "customer-value-review"
    declared = sum(len(yaml.safe_load(p.read_text())["rules"]) for p in files)
    assert len(engine.rules) == declared
