"""The project-wide convention for row numbers in messages: data rows count from 1, so a bad value
in the first row says "row 1" — one test per layer of the CLV and segment core."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from truenorth import _core
from truenorth.clv import BetaGeo, summarize
from truenorth.clv._input import ModelInputError
from truenorth.segment import aggregate, rfm

LOG = pl.DataFrame(
    {
        "c": [None, 1, 2],
        "t": [date(2020, 1, 1), date(2020, 1, 2), date(2020, 1, 3)],
        "a": [1.0, 2.0, 3.0],
    }
)


def test_summarize_python_checks() -> None:
    with pytest.raises(ValueError, match=r"column 'c': null customer id at row 1;"):
        summarize(LOG, customer="c", time="t", amount="a")


def test_rust_arrow_import() -> None:
    with pytest.raises(_core.CoreError, match=r"column 'k': null at row 1;"):
        _core.customer_summary(
            pl.Series("k", [None, 1]),
            pl.Series([1, 2]),
            None,
            period=1,
            offset=0,
            unit=1.0,
            names=("k", "t", "a"),
        )


def test_model_input_checks() -> None:
    df = pl.DataFrame({"frequency": [1, 0], "recency": [3.0, 0.0], "T": [float("nan"), 4.0]})
    bg = BetaGeo.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4})
    with pytest.raises(ModelInputError, match=r"column 'T', row 1: expected a finite number"):
        bg.p_alive(df)


def test_segment_python_checks() -> None:
    df = pl.DataFrame(
        {"recency": [None, 1.0], "frequency": [1, 2], "T": [5.0, 5.0], "monetary_value": [1.0, 2]}
    )
    with pytest.raises(ValueError, match=r"column 'recency' \(recency\): null at row 1;"):
        rfm(df)


def test_segment_rust_kernel() -> None:
    df = pl.DataFrame({"segment": ["a", "b"], "clv": [float("inf"), 1.0]})
    with pytest.raises(ValueError, match=r"column 'clv': non-finite value inf at row 1$"):
        aggregate(df)
    with pytest.raises(ValueError, match=r"column 'segment': null segment at row 1$"):
        aggregate(pl.DataFrame({"segment": [None, "b"], "clv": [1.0, 1.0]}))
