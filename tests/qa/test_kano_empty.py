"""QA regression: an empty Kano survey is a clear data error (no Polars warning, no odd message)."""

from __future__ import annotations

import warnings

import polars as pl

import truenorth

PACK = {
    "truenorth": 1,
    "pack": "kano-empty",
    "datasets": {"survey": {}},
    "rules": [{"id": "kano", "kind": "kano", "with": {"source": "survey"}}],
}


def test_empty_survey_is_a_data_error_without_warnings():
    empty = pl.DataFrame(
        schema={
            "respondent": pl.String,
            "wave": pl.Int64,
            "feature": pl.String,
            "functional": pl.String,
            "dysfunctional": pl.String,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = truenorth.Engine.load(PACK).run(data={"survey": empty})
    (rr,) = result.errors
    assert rr.data_error and "no answers (0 rows)" in rr.error
    assert result.exit_code() == 2
