"""QA regressions found by the kind fuzz: bad input data is a data error (exit 2), not a bug.

``segment`` passed its core's ``ValueError`` (a null recency, a NaN CLV, an empty table) through
as a rule error (exit 3), and ``canvas`` a raw Polars cast error for a text or out-of-range
count in the segments table.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth.testing import run_rule

RFM_INPUT = ["customer", "recency", "frequency", "monetary_value", "T"]
CANVAS = Path(truenorth.__file__).parent / "packs" / "data" / "canvas.yaml"


@pytest.mark.parametrize(
    ("options", "frame", "why"),
    [
        ({"method": "clv_tiers"}, {"customer": ["a", "b"], "clv": [1.0, None]}, "null at row 2"),
        ({"method": "clv_tiers"}, {"customer": ["a"], "clv": [float("nan")]}, "non-finite"),
        ({"method": "rfm"}, {c: [] for c in RFM_INPUT}, "empty"),
    ],
)
def test_segment_bad_data_is_a_data_error(options, frame, why):
    result = run_rule("segment", options, {"customers": pl.DataFrame(frame)}, raise_errors=False)
    (rr,) = result.rules
    assert rr.status == "error" and rr.data_error, rr.error
    assert rr.error.startswith("DataError: table 'customers': ") and why in rr.error
    assert result.exit_code() == 2


def test_canvas_segments_with_uncastable_counts_are_a_data_error(tmp_path):
    (tmp_path / "canvas.yaml").write_text(CANVAS.read_text())
    pack = {
        "truenorth": 1,
        "pack": "c",
        "rules": [
            {
                "id": "canvas",
                "kind": "canvas",
                "with": {"path": "canvas.yaml", "segments": "segs", "segment_column": "tier"},
            }
        ],
    }
    frame = pl.DataFrame({"tier": ["vip"], "customers": [3e35], "clv_total": [1.0]})
    engine = truenorth.Engine.load(pack, data_root=tmp_path)
    result = engine.run(data={"segs": frame})
    (rr,) = result.rules
    assert rr.status == "error" and rr.data_error
    assert "segs: conversion from `f64` to `i64` failed in column 'customers'" in rr.error
    assert result.exit_code() == 2


def test_a_value_a_strict_cast_refuses_is_a_data_error():
    # found by the kind fuzz: 9.2e18 new customers summed in a float column and cast back to
    # Int64 inside the cac metric; any rule whose strict cast meets such a value exits 2
    frame = pl.DataFrame(
        {"cost": [None], "new_customers": [9_223_372_036_854_775_807]},
        schema={"cost": pl.Float64, "new_customers": pl.Int64},
    )
    result = run_rule(
        "kpi",
        {"metric": "cac", "source": "acquisition"},
        {"acquisition": frame},
        fail="value > 100",
        raise_errors=False,
    )
    (rr,) = result.rules
    assert rr.status == "error" and rr.data_error, rr.error
    assert "out of range" in rr.error and "conversion from `f64` to `i64` failed" in rr.error
    assert result.exit_code() == 2
