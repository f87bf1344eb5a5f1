"""JSON persistence: round trip, scoring without refit, validation of documents."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import truenorth.clv as clv
from truenorth.clv import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModelInputError,
    ModifiedBetaGeo,
    ParetoNBD,
)

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_round_trip_fitted_model(cls, cdnow, tmp_path):
    m = cls(time_unit="1w").fit(cdnow)
    text = m.to_json()
    doc = json.loads(text)
    assert doc["format"] == "truenorth.clv.model" and doc["version"] == 1
    assert doc["kind"] == m.kind and doc["time_unit"] == "1w"
    assert len(text) < 2000
    for source in (text, tmp_path / "m.json", str(tmp_path / "m.json"), doc):
        if not isinstance(source, str | dict):
            m.to_json(source)
        elif isinstance(source, str) and source.endswith(".json"):
            m.to_json(source)
        back = clv.load(source)
        assert type(back) is cls
        assert back.params == m.params  # exact: JSON floats round-trip
        assert back.time_unit == "1w"
        assert back.log_likelihood == m.log_likelihood
        assert back.standard_errors == m.standard_errors
        assert back.converged and back.n_observations == 2357
        assert back.p_alive(cdnow).equals(m.p_alive(cdnow))


def test_round_trip_gamma_gamma_and_bg_bb(cdnow):
    gg = GammaGamma().fit(cdnow)
    back = clv.load(gg.to_json())
    assert back.params == gg.params
    assert back.frequency_spend_correlation == gg.frequency_spend_correlation
    assert back.expected_spend(cdnow).equals(gg.expected_spend(cdnow))
    bb = BetaGeoBetaBinom.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8})
    back = clv.load(bb.to_json())
    assert back.params == bb.params and back.log_likelihood is None


def test_clv_from_loaded_models_equals_original(cdnow):
    bg = BetaGeo(time_unit="1w").fit(cdnow)
    gg = GammaGamma().fit(cdnow)
    a = clv.lifetime_value(bg, gg, cdnow)
    b = clv.lifetime_value(clv.load(bg.to_json()), clv.load(gg.to_json()), cdnow)
    assert a.equals(b)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json {", "no such model file"),
        ("{not json", "not valid JSON"),
        ('{"format": "other"}', "not a truenorth model document"),
        ('{"format": "truenorth.clv.model", "version": 99}', "version 99 is not supported"),
        ('{"format": "truenorth.clv.model", "version": 1, "kind": "magic"}', "unknown model kind"),
        (
            '{"format": "truenorth.clv.model", "version": 1, "kind": "bg_nbd", '
            '"params": {"r": 1, "alpha": 1, "a": 1}}',
            "missing b",
        ),
        (
            '{"format": "truenorth.clv.model", "version": 1, "kind": "bg_nbd", '
            '"params": {"r": 1, "alpha": -1, "a": 1, "b": 1}}',
            "alpha must be a positive",
        ),
    ],
)
def test_bad_documents(doc, message):
    with pytest.raises(ModelInputError, match=message):
        clv.load(doc)
