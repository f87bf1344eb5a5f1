"""QA regression: a condition comparing a String column with a number names the column type."""

from __future__ import annotations

import polars as pl

import truenorth
from truenorth.engine.conditions import type_check_on_frame

PACK = {
    "truenorth": 1,
    "pack": "types",
    "datasets": {"customers": {"columns": {"customer": "id", "clv": "clv"}}},
    "rules": [{"id": "big", "kind": "condition", "on": "customers", "when": "clv > 100"}],
}


def test_string_column_compared_with_a_number_is_explained():
    msg = type_check_on_frame(pl.sql_expr("clv > 100"), "clv > 100", {"clv": pl.String})
    assert msg is not None and "column types: clv: String" in msg
    assert type_check_on_frame(pl.sql_expr("clv > 100"), "clv > 100", {"clv": pl.Float64}) is None

    result = truenorth.Engine.load(PACK).run(
        data={"customers": pl.DataFrame({"id": ["A"], "clv": ["lots"]})}
    )
    (rr,) = result.errors
    assert "ComputeError" not in rr.error and rr.data_error
    assert "compares column 'clv' (String) with the number 100" in rr.error
    assert "clv: String" in rr.error
