"""The clv and segment kinds at load time: options, located errors, planning, schemas.

(These need no data: the numeric core is exercised end to end in test_clv_segment_run.py.)
"""

from __future__ import annotations

import pytest

import truenorth
from truenorth.builtins.clv import duration_days, parse_horizon

HEAD = {
    "truenorth": 1,
    "pack": "value",
    "datasets": {
        "transactions": {
            "path": "orders.csv",
            "columns": {"customer": "cust_id", "time": "ordered_at", "amount": "total"},
        }
    },
}

CLV = {"id": "value", "kind": "clv", "with": {"horizon": "12 months", "unit": "1w"}}
SEG = {"id": "segments", "kind": "segment", "with": {"method": "rfm", "bins": 4}}
LAPSING = {
    "id": "lapsing",
    "kind": "condition",
    "on": "customers",
    "when": "p_alive < 0.3 AND clv > 200 AND segment <> 'champions'",
    "action": "win-back",
}


def load(*rules):
    return truenorth.Engine.load({**HEAD, "rules": list(rules)})


def problems(*rules):
    with pytest.raises(truenorth.PackError) as info:
        load(*rules)
    return [str(p) for p in info.value.problems]


def test_plan_orders_creator_then_augmenter_then_readers():
    engine = load(LAPSING, SEG, CLV)
    assert [r.id for r in engine.rules] == ["value", "segments", "lapsing"]
    plan = {r.id: (r.reads, sorted(r.writes)) for r in engine.rules}
    assert plan["value"] == (["transactions"], ["customers"])
    assert plan["segments"] == (["customers"], ["customers", "segments"])
    assert engine.pack.schemas["segments"] is None  # known only at run time
    customers = engine.pack.schemas["customers"]
    assert {"customer", "p_alive", "expected_purchases", "clv", "rfm_score", "segment"} <= set(
        customers
    )


def test_conditions_on_clv_output_are_checked_with_suggestions():
    (msg,) = problems(CLV, {**LAPSING, "when": "p_alvie < 0.3"})
    assert "unknown column 'p_alvie'; did you mean 'p_alive'?" in msg
    # without a spend model there is no clv column
    no_spend = {**CLV, "with": {**CLV["with"], "spend": None}}
    (msg,) = problems(no_spend, {**LAPSING, "when": "clv > 1"})
    assert "unknown column 'clv'" in msg


def test_bad_clv_options_are_located():
    msgs = problems({**CLV, "with": {"horizon": "12 fortnights", "unit": "1x", "model": "bgnbd"}})
    assert sorted(m.split("rule 'value': ")[1].split(":")[0] for m in msgs) == [
        "horizon",
        "model",
        "unit",
    ]
    text = "\n".join(msgs)
    assert "horizon '12 fortnights': expected a number or '<n> days|weeks|months|years'" in text
    assert "'1x': expected a duration like 12h, 1d, 7d, 1w, or a calendar 1mo, 1q, 1y" in text
    assert "got 'bgnbd'" in text and "'bg_nbd'" in text


def test_clv_columns_checked_against_the_dataset():
    (msg,) = problems({**CLV, "with": {"customer": "cust_id"}})
    assert "customer: no column 'cust_id' in table 'transactions'" in msg
    assert "one of: customer, time, amount" in msg


def test_spend_model_needs_amount():
    (msg,) = problems({**CLV, "with": {"amount": None}})
    assert "a spend model needs an amount column" in msg


def test_segment_needs_rfm_columns():
    pack = {
        "truenorth": 1,
        "pack": "s",
        "datasets": {"customers": {"path": "c.csv", "columns": {"customer": "id", "clv": "clv"}}},
        "rules": [{"id": "seg", "kind": "segment", "with": {"method": "rfm"}}],
    }
    with pytest.raises(
        truenorth.PackError, match="no column\\(s\\) recency, frequency, monetary_value"
    ):
        truenorth.Engine.load(pack)
    pack["rules"][0]["with"] = {"method": "clv_tiers"}
    engine = truenorth.Engine.load(pack)
    assert list(engine.rules[0].writes["customers"]) == ["clv_tier"]
    pack["rules"][0]["with"] = {"method": "clv_tiers", "tiers": {"top": 0.2, "rest": 0.7}}
    with pytest.raises(truenorth.PackError, match=r"tier shares must sum to 1, got 0\.9"):
        truenorth.Engine.load(pack)
    pack["rules"][0]["with"] = {"method": "rfm", "bins": 12}
    with pytest.raises(truenorth.PackError, match="bins: Input should be less than or equal to 9"):
        truenorth.Engine.load(pack)


def test_horizon_and_duration_parsing():
    assert parse_horizon(12, "month") == (12.0, "month")
    assert parse_horizon("52 weeks", "month") == (52.0, "week")
    assert parse_horizon("1 year", "month") == (1.0, "year")
    with pytest.raises(ValueError):
        parse_horizon("soon", "month")
    assert duration_days("1w") == 7.0 and duration_days("2d") == 2.0 and duration_days("12h") == 0.5
    with pytest.raises(ValueError):
        duration_days("1 week")


def test_on_names_the_input_and_when_is_refused_by_segment():
    engine = load({"id": "value", "kind": "clv", "on": "transactions", "when": "amount > 0"})
    assert engine.rules[0].reads == ["transactions"]
    (msg,) = problems(
        {"id": "value", "kind": "clv", "on": "transactions", "with": {"source": "orders"}}
    )
    assert "`on: transactions` and `with.source: orders` disagree" in msg
    (msg,) = problems(CLV, {**SEG, "when": "clv > 1"})
    assert "`when:` is not supported" in msg and "rule 'segments'" in msg


def test_horizon_must_be_whole_steps():
    (msg,) = problems({**CLV, "with": {"horizon": "1.5 months"}})
    assert "expected a positive whole number of steps" in msg
    # calendar units count their mean Gregorian length (a 12-month horizon = 12 monthly units)
    assert duration_days("1mo") * 12 == pytest.approx(365.25)
    with pytest.raises(ValueError, match="expected a duration like"):
        duration_days("1fortnight")
