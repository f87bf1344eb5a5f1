"""The segment kind end to end, after clv, against truenorth.segment's own API."""

from __future__ import annotations

import polars as pl

import truenorth
from truenorth import segment
from truenorth.testing import run_rule

OPTIONS = {"unit": "1w", "period": "1d", "observation_end": "1997-09-30", "horizon": "12 months"}


def test_segment_rfm_after_clv_and_a_condition_on_both(transactions):
    pack = {
        "truenorth": 1,
        "pack": "value",
        "rules": [
            {
                "id": "lapsing",
                "kind": "condition",
                "on": "customers",
                "when": "p_alive < 0.2 AND clv > 100",
                "action": "win-back",
            },
            {"id": "segments", "kind": "segment", "with": {"method": "rfm", "bins": 5}},
            {"id": "value", "kind": "clv", "with": OPTIONS},
        ],
    }
    engine = truenorth.Engine.load(pack)
    assert [r.id for r in engine.rules] == ["value", "segments", "lapsing"]
    result = engine.run(data={"transactions": transactions})
    assert result.ok, [r.error for r in result.errors]
    customers = result.tables["customers"]
    assert {"r_score", "f_score", "m_score", "rfm_score", "segment", "clv"} <= set(
        customers.columns
    )
    direct_rfm = segment.rfm(
        result.tables["customers"].drop("r_score", "f_score", "m_score", "rfm_score", "segment"),
        bins=5,
    )
    assert (
        direct_rfm.sort("customer")["segment"].to_list()
        == customers.sort("customer")["segment"].to_list()
    )
    segs = result.tables["segments"]
    assert segs.height == customers["segment"].n_unique()
    expected = customers.filter((pl.col("p_alive") < 0.2) & (pl.col("clv") > 100))
    assert sorted(result.findings["subject"].to_list()) == sorted(
        str(c) for c in expected["customer"].to_list()
    )
    assert set(result.findings["action"].to_list()) <= {"win-back"}


def test_clv_tiers(clv_result):
    customers = clv_result.tables["customers"]
    result = run_rule(
        "segment",
        {"method": "clv_tiers", "column": "clv", "tiers": {"top": 0.1, "rest": 0.9}},
        {"customers": customers},
    )
    out = result.tables["customers"]
    assert out.height == customers.height
    direct = segment.clv_tiers(customers, column="clv", tiers=[("top", 0.1), ("rest", 0.9)])
    got = out.sort("customer")["clv_tier"].to_list()
    assert got == direct.sort("customer")["clv_tier"].to_list()
    segs = result.tables["segments"]
    assert segs["clv_tier"].cast(pl.String).to_list() == ["top", "rest"]  # best tier first
    assert segs["customers"].sum() == customers.height
