"""A clv rule reports a fit's warnings as findings of the rule, never as raw stderr lines."""

from __future__ import annotations

import warnings
from datetime import date

import polars as pl

import truenorth

# Six customers (the Northwind pack-test log): too few repeat buyers for Gamma-Gamma, whose fit
# runs off towards p -> infinity and stops without converging.
LOG = pl.DataFrame(
    {
        "id": ["L"] * 6 + ["S"] * 3 + ["A"] * 4 + ["O"] + ["B"] * 2,
        "d": [date(1997, 1, 1 + 7 * i) for i in range(5)]
        + [date(1997, 2, 5)]
        + [date(1997, 1, 2), date(1997, 1, 9), date(1997, 1, 16)]
        + [date(1997, 1, 3), date(1997, 3, 3), date(1997, 5, 3), date(1998, 6, 30)]
        + [date(1997, 2, 10), date(1997, 2, 1), date(1998, 2, 1)],
        "a": [
            *[40.0, 120.0, 60.0, 100.0, 50.0, 110.0],
            *[4.0, 12.0, 20.0],
            *[5.0, 35.0, 5.0, 35.0],
            *[15.0, 10.0, 60.0],
        ],
    }
)
PACK = {
    "truenorth": 1,
    "pack": "warnings",
    "datasets": {"transactions": {"columns": {"customer": "id", "time": "d", "amount": "a"}}},
    "rules": [{"id": "value", "kind": "clv", "with": {"spend": "gamma_gamma"}}],
}


def test_non_convergence_is_a_finding_not_a_printed_warning():
    engine = truenorth.Engine.load(PACK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping the rule fails the test
        result = engine.run(data={"transactions": LOG})
    assert not result.errors
    msgs = [f.message for f in result.finding_records() if f.rule_id == "value"]
    assert any("did not converge" in m for m in msgs), msgs


def test_spend_frequency_correlation_is_a_finding():
    """Gamma-Gamma assumes spend independent of frequency (DOMAIN.md §1): a log where frequent
    buyers spend more makes the rule say so, as a finding, not on stderr."""
    rows = []
    for c in range(300):
        repeats = 1 + c % 10  # 1..10 repeat purchases
        for k in range(repeats + 1):
            # repeat spend grows with frequency (+-2 noise that does not depend on it)
            rows.append((c, date(2020, 1, 1 + 2 * k), 10.0 + 5.0 * repeats + (c % 5 - 2)))
    log = pl.DataFrame(rows, schema=["id", "d", "a"], orient="row")
    engine = truenorth.Engine.load(PACK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = engine.run(data={"transactions": log})
    assert not result.errors, result.errors
    hits = [
        f
        for f in result.finding_records()
        if f.evidence.get("warning") == "SpendFrequencyCorrelationWarning"
    ]
    assert len(hits) == 1 and hits[0].severity == "warn", result.finding_records()
    assert "frequency" in hits[0].message
