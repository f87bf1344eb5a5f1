"""Constraints and L2 regularisation of the time-varying-covariate Pareto/NBD: the same
options as the static covariate fit (``constrain``, ``l2``), persisted with the model, used by
its predictions, and bad options are clear errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from truenorth.clv._input import ModelInputError
from truenorth.clv.covariates_dynamic import DynamicCovariateFit, fit_dynamic_covariates
from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic

END = datetime(2024, 1, 1) + timedelta(weeks=40)


@pytest.fixture(scope="module")
def data():
    return simulate_dynamic(
        600,
        weeks=40,
        future_weeks=8,
        transaction={"promo": 0.5},
        lifetime={"promo": 0.5},
        seed=11,
    )


def _fit(data, **options):
    tr, cov = data
    return fit_dynamic_covariates(
        tr, cov, transaction=["promo"], lifetime=["promo"], calibration_end=END, **options
    )


def test_constrained_fit_is_one_coefficient_in_both_processes(data):
    tr, cov = data
    full = _fit(data)
    con = _fit(data, constrain=["promo"])
    assert list(con.coefficient_values) == ["constr.promo"]
    assert con.converged and con.standard_errors is not None
    assert con.log_likelihood <= full.log_likelihood + 1e-9
    # the constrained model is the full model with the one value in both places (by hand)
    g = con.coefficient_values["constr.promo"]
    by_hand = DynamicCovariateFit(
        params=con.params,
        coefficient_values={"trans.promo": g, "life.promo": g},
        spec=full.spec,
        calendar=full.calendar,
        columns=full.columns,
    )
    assert by_hand.log_likelihood_at(tr, cov) == pytest.approx(con.log_likelihood, rel=1e-12)
    assert con.log_likelihood_at(tr, cov) == pytest.approx(con.log_likelihood, rel=1e-12)
    a = con.predict(tr, cov, horizon=8)
    b = by_hand.predict(tr, cov, horizon=8)
    assert a["expected_purchases"].to_list() == b["expected_purchases"].to_list()


def test_large_l2_shrinks_to_zero_and_small_l2_changes_little(data):
    full = _fit(data)
    big = _fit(data, l2={"transaction": 1e5, "lifetime": 1e5})
    small = _fit(data, l2={"transaction": 1e-6})
    assert all(abs(v) < 1e-4 for v in big.coefficient_values.values())
    assert abs(full.coefficient_values["trans.promo"]) > 0.2
    for k, v in full.coefficient_values.items():
        assert small.coefficient_values[k] == pytest.approx(v, abs=1e-3)
    # only the transaction process is penalised
    trans_only = _fit(data, l2={"transaction": 1e5})
    assert abs(trans_only.coefficient_values["trans.promo"]) < 1e-4
    assert abs(trans_only.coefficient_values["life.promo"]) > 0.05


def test_options_persist(data, tmp_path):
    m = _fit(data, constrain=["promo"], l2={"lifetime": 0.5})
    back = DynamicCovariateFit.from_json(m.to_json(tmp_path / "m.json"))
    assert back.spec.constrain == ("promo",) and back.spec.l2 == {"lifetime": 0.5}
    tr, cov = data
    assert back.log_likelihood_at(tr, cov) == pytest.approx(m.log_likelihood, rel=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"constrain": ["season"]}, "constrain names 'season'"),
        ({"l2": {"trans": 1.0}}, "l2 keys are 'transaction' and 'lifetime'"),
        ({"l2": {"lifetime": -1.0}}, "must be >= 0"),
    ],
)
def test_bad_options_are_clear_errors(data, options, message):
    with pytest.raises(ModelInputError, match=message):
        _fit(data, **options)
