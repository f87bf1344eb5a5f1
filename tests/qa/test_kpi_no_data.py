"""QA regression: a KPI over an empty input warns instead of passing its thresholds silently."""

from __future__ import annotations

import polars as pl

import truenorth

PACK = {
    "truenorth": 1,
    "pack": "nps-empty",
    "datasets": {"feedback": {"columns": {"customer": "customer_id", "score": "nps"}}},
    "rules": [
        {
            "id": "nps",
            "kind": "kpi",
            "with": {"metric": "nps", "source": "feedback"},
            "warn": "value < 40",
            "fail": "value < 0",
        }
    ],
}


def test_empty_survey_gives_a_warn_finding_not_a_clean_run():
    engine = truenorth.Engine.load(PACK)
    empty = pl.DataFrame(
        {"customer_id": [], "nps": []}, schema={"customer_id": pl.Int64, "nps": pl.Int64}
    )
    result = engine.run(data={"feedback": empty})
    assert result.ok
    rows = result.findings.filter(pl.col("rule_id") == "nps")
    assert rows.height == 1 and rows["severity"].item() == "warn"
    assert "no value could be computed" in rows["message"].item()
    assert result.exit_code("warn") == 1

    full = pl.DataFrame({"customer_id": [1, 2, 3], "nps": [10, 9, 10]})
    result = engine.run(data={"feedback": full})
    assert result.findings.height == 0 and result.exit_code("warn") == 0
