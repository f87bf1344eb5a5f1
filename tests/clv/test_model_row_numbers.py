"""Row numbers in the model layer's own messages count from 1 (row 1 = first data row)."""

from __future__ import annotations

import polars as pl
import pytest

from truenorth import _core
from truenorth.clv import GammaGamma
from truenorth.clv.models import ModelInputError, _finite


def test_non_finite_prediction_names_the_one_based_row():
    with pytest.raises(ArithmeticError, match=r"p_alive is not finite at row 3 \(nan\)"):
        _finite(pl.Series("p_alive", [0.5, 0.2, float("nan"), 1.0]), "BG/NBD")
    ok = pl.Series("p_alive", [0.5, 0.2])
    assert _finite(ok, "BG/NBD").to_list() == [0.5, 0.2]


def test_gamma_gamma_messages_count_rows_from_one():
    frac = pl.DataFrame({"frequency": [1.0, 2.0, 2.5], "monetary_value": [5.0, 6.0, 7.0]})
    with pytest.raises(ModelInputError, match=r"column 'frequency', row 3: expected a whole"):
        GammaGamma().fit(frac)
    spend = pl.DataFrame({"frequency": [0, 1, 2, 3], "monetary_value": [0.0, 4.0, 5.0, 0.0]})
    with pytest.raises(ModelInputError, match=r"column 'monetary_value', row 4: repeat"):
        GammaGamma().fit(spend)


def test_rust_count_check_counts_rows_from_one():
    # Reached only when Python's checks are bypassed (direct _core calls).
    with pytest.raises(_core.CoreError, match=r"column 'frequency': row 2: expected a non-neg"):
        _core.simulate_spend([1.0, 2.0, 3.0], pl.Series([1.0, 1.5, 2.0]), 1)
    x = pl.Series([0.0, 1.0, 2.0, -1.0])
    t = pl.Series([5.0, 5.0, 5.0, 5.0])
    with pytest.raises(_core.CoreError, match=r"row 4: expected a non-negative whole number"):
        _core.fit("bg_nbd", x, t * 0.5, t, None, None, 10)
