"""The clv kind end to end on CDNOW data, against the numeric core's own API."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth import clv

DATA = Path(__file__).resolve().parents[1] / "data"
BUNDLED = Path(truenorth.__file__).parent / "packs" / "data" / "transactions.csv"
CAL_END = date(1997, 9, 30)
OPTIONS = {"unit": "1w", "period": "1d", "observation_end": "1997-09-30", "horizon": "12 months"}


def direct(transactions):
    summary = clv.summarize(
        transactions,
        customer="customer",
        time="time",
        amount="amount",
        period="1d",
        unit="1w",
        observation_end=CAL_END,
    )
    bg = clv.BetaGeo(time_unit="1w").fit(summary)
    gg = clv.GammaGamma(time_unit="1w").fit(summary)
    return summary, bg, gg


def test_clv_table_matches_the_core_api(clv_result, transactions):
    out = clv_result.tables["customers"].sort("customer")
    summary, bg, gg = direct(transactions)
    summary = summary.sort("customer")
    assert out.height == summary.height == 2357
    assert out["customer"].to_list() == summary["customer"].to_list()
    assert out["p_alive"].to_list() == pytest.approx(bg.p_alive(summary).to_list(), rel=1e-9)
    t = 365.25 / 12 * 12 / 7  # 12 months in weeks
    assert out["expected_purchases"].to_list() == pytest.approx(
        bg.expected_purchases(summary, t).to_list(), rel=1e-9
    )
    expected_clv = clv.lifetime_value(
        bg, gg, summary, horizon=12, horizon_unit="month", discount_rate=0.01
    )
    assert out["clv"].to_list() == pytest.approx(expected_clv.to_list(), rel=1e-9, nan_ok=True)
    assert out["p_alive"].is_between(0, 1).all()


def test_clv_fit_is_close_to_the_published_bgnbd_estimates(clv_result):
    notes = clv_result.rule("rule").explain
    params = next(n for n in notes if n["step"] == "purchase model")["params"]
    # Fader, Hardie & Lee (2005): r=0.243, alpha=4.414, a=0.793, b=2.426 (39 calibration weeks)
    assert params["r"] == pytest.approx(0.243, rel=0.05)
    assert params["alpha"] == pytest.approx(4.414, rel=0.05)
    assert params["a"] == pytest.approx(0.793, rel=0.05)
    assert params["b"] == pytest.approx(2.426, rel=0.05)


def test_declared_schema_matches_the_real_table(clv_result):
    kind = truenorth.Engine.load(
        {"truenorth": 1, "pack": "x", "rules": [{"id": "v", "kind": "clv"}]}
    ).rules[0]
    declared = kind.writes["customers"]
    real = clv_result.tables["customers"].schema
    assert set(declared) <= set(real)
    for col, dtype in declared.items():
        if dtype is not None:
            assert real[col] == dtype, col


def test_fitted_model_from_json_file_or_resources(tmp_path, transactions, clv_result):
    _, bg, gg = direct(transactions)
    (tmp_path / "bg.json").write_text(bg.to_json())
    (tmp_path / "gg.json").write_text(gg.to_json())
    pack = {
        "truenorth": 1,
        "pack": "score",
        "rules": [
            {
                "id": "value",
                "kind": "clv",
                "with": {
                    **OPTIONS,
                    "model_path": str(tmp_path / "bg.json"),
                    "spend_model_path": str(tmp_path / "gg.json"),
                },
            }
        ],
    }
    scored = (
        truenorth.Engine.load(pack)
        .run(data={"transactions": transactions})
        .tables["customers"]
        .sort("customer")
    )
    fitted = clv_result.tables["customers"].sort("customer")
    assert scored["p_alive"].to_list() == pytest.approx(fitted["p_alive"].to_list(), rel=1e-9)
    assert scored["clv"].to_list() == pytest.approx(fitted["clv"].to_list(), rel=1e-9, nan_ok=True)
    # a service hands in models it loaded once
    engine = truenorth.Engine.load(
        {**pack, "rules": [{"id": "value", "kind": "clv", "with": OPTIONS}]}
    )
    model = clv.load(bg.to_json())
    result = engine.run(
        data={"transactions": transactions}, resources={"value": {"purchase": model, "spend": gg}}
    )
    assert result.tables["customers"].sort("customer")["p_alive"].to_list() == pytest.approx(
        fitted["p_alive"].to_list(), rel=1e-9
    )


def test_cli_runs_a_clv_pack_on_the_bundled_transactions(tmp_path, tn):

    pack = tmp_path / "value.yaml"
    pack.write_text(
        f"""truenorth: 1
pack: value
datasets:
  transactions:
    path: {BUNDLED}
    columns: {{customer: customer_id, time: date, amount: amount}}
params: {{months: 12}}
rules:
  - id: value
    kind: clv
    with: {{unit: 1w, horizon: "${{months}} months", observation_end: 1998-06-30}}
  - id: lapsing-high-value
    kind: condition
    on: customers
    when: "p_alive < 0.3 AND clv > 200"
    action: win-back-offer
"""
    )
    proc = tn("run", str(pack), "--format", "json", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "out" / "value" / "report.json").read_text())
    assert [r["status"] for r in data["rules"]] == ["ok", "ok"]
    assert data["tables"]["customers"]["rows"] == 23570
    lapsing = [f for f in data["findings"] if f["rule_id"] == "lapsing-high-value"]
    assert all(f["action"] == "win-back-offer" for f in lapsing)
    # the full CDNOW has one repeat buyer whose repeat purchases total $0: left out of the
    # Gamma-Gamma fit, and reported
    (note,) = [f for f in data["findings"] if f["rule_id"] == "value"]
    assert note["severity"] == "info" and note["evidence"] == {"customers": 23570, "excluded": 1}


def test_concurrent_scoring_with_a_loaded_model(transactions):
    """A service: load the pack and a fitted model once, score many small frames at once."""
    from concurrent.futures import ThreadPoolExecutor

    _, bg, gg = direct(transactions)
    model, spend = clv.load(bg.to_json()), clv.load(gg.to_json())
    engine = truenorth.Engine.load(
        {"truenorth": 1, "pack": "svc", "rules": [{"id": "value", "kind": "clv", "with": OPTIONS}]}
    )
    ids = transactions["customer"].unique().sort().to_list()[:40]
    frames = [transactions.filter(pl.col("customer") == c) for c in ids]

    def score(frame):
        result = engine.run(
            data={"transactions": frame}, resources={"value": {"purchase": model, "spend": spend}}
        )
        return result.tables["customers"].row(0, named=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(score, frames))
    alone = [score(f) for f in frames]
    assert [r["customer"] for r in rows] == ids
    assert rows == alone
    # the same numbers as scoring all customers together with the same model
    together = engine.run(
        data={"transactions": transactions.filter(pl.col("customer").is_in(ids))},
        resources={"value": {"purchase": model, "spend": spend}},
    ).tables["customers"]
    # (T depends only on the customer's own first purchase and the fixed observation_end)
    assert [r["p_alive"] for r in rows] == pytest.approx(
        together.sort("customer")["p_alive"].to_list(), rel=1e-12
    )


def test_a_spend_model_with_q_at_most_one_is_a_data_error(transactions):
    """Gamma-Gamma's population mean spend p·v/(q−1) does not exist for q <= 1: the rule
    says so as a data error (exit 2), not a crash inside the model."""
    _, bg, _ = direct(transactions)
    heavy = clv.GammaGamma.from_params({"p": 2.0, "q": 0.8, "v": 10.0}, time_unit="1w")
    pack = {
        "truenorth": 1,
        "pack": "value",
        "rules": [{"id": "value", "kind": "clv", "with": OPTIONS}],
    }
    result = truenorth.Engine.load(pack).run(
        data={"transactions": transactions}, resources={"value": {"purchase": bg, "spend": heavy}}
    )
    (rule,) = result.rules
    assert rule.status == "error" and rule.data_error
    assert "q = 0.8 <= 1" in rule.error and "heavy-tailed" in rule.error
    assert result.exit_code() == 2
