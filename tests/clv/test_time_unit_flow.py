"""The summary's time unit reaches the model: no silently wrong CLV from a weekly summary.

Before: ``summarize(unit="1w")`` → ``BetaGeo().fit(summary)`` → ``lifetime_value(horizon=12,
horizon_unit="month")`` read weeks as days, giving a CLV about 4x too high.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from truenorth import clv
from truenorth.clv import BetaGeo, GammaGamma, ModelInputError

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    pdf = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master", "id", "date", "cds", "dollars"],
    )
    return pl.from_pandas(pdf).with_columns(pl.col("date").cast(pl.String).str.to_date("%Y%m%d"))


def _summary(log: pl.DataFrame, unit: str) -> pl.DataFrame:
    return clv.summarize(
        log, customer="id", time="date", amount="dollars", unit=unit, observation_end="1997-09-30"
    )


def test_weekly_and_daily_summaries_give_the_same_clv(log):
    values = []
    for unit in ("1w", "1d"):
        s = _summary(log, unit)
        bg = BetaGeo().fit(s)  # no unit given: it comes from the summary
        assert bg.time_unit == unit
        gg = GammaGamma().fit(s)
        values.append(clv.lifetime_value(bg, gg, s, horizon=12, horizon_unit="month"))
    weekly, daily = values
    # the same customers and the same model in two units: the same CLV (up to the fit's
    # optimiser tolerance), not a factor of 7/30.4 apart
    np.testing.assert_allclose(weekly.sum(), daily.sum(), rtol=1e-4)
    np.testing.assert_allclose(weekly.to_numpy(), daily.to_numpy(), rtol=1e-3, atol=1e-6)


def test_a_contradicting_unit_is_an_error(log):
    s = _summary(log, "1w")
    with pytest.raises(ModelInputError, match=r"measures recency and T in '1w'.*'1d'"):
        BetaGeo(time_unit="1d").fit(s)
    with pytest.raises(ModelInputError, match="'1w'"):
        BetaGeo().fit(s, time_unit="1d")
    # the same length written differently is no contradiction
    assert BetaGeo(time_unit="7d").fit(s).time_unit == "7d"


def test_an_unknown_unit_is_refused_not_guessed(log):
    s = _summary(log, "1w")
    derived = s.filter(pl.col("T") > 0)  # a new frame: summarize's unit is not known for it
    bg = BetaGeo().fit(derived)
    assert bg.time_unit is None
    with pytest.raises(ModelInputError, match="time unit of recency and T is unknown"):
        clv.lifetime_value(bg, 10.0, derived, horizon=12, horizon_unit="month")
    # told, it works and agrees with the model fitted on summarize's own frame
    told = clv.lifetime_value(bg, 10.0, derived, time_unit="1w")
    own = clv.lifetime_value(BetaGeo().fit(s), 10.0, s)
    np.testing.assert_allclose(told.to_numpy(), own.to_numpy(), rtol=1e-9)
    # a persisted model keeps the unit (or its absence)
    assert clv.load(bg.to_json()).time_unit is None
    assert clv.load(BetaGeo().fit(s).to_json()).time_unit == "1w"
