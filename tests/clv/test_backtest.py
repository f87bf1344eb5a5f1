"""backtest and the diagnostics: each figure against a direct computation, the candidates from
the registry, and bad input as clear errors (never NaN tables)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
from scipy import stats

from truenorth import clv
from truenorth.clv import registry
from truenorth.clv.diagnostics import MIN_EXPECTED

BG = {"r": 0.25, "alpha": 28.0, "a": 0.8, "b": 2.5}  # per day


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    return clv.simulate_bg_nbd_transactions(3000, **BG, seed=7, spend=(6.0, 4.0, 15.0))


@pytest.fixture(scope="module")
def bt(log) -> clv.Backtest:
    return clv.backtest(
        log, customer="customer", time="time", amount="amount", calibration_end="2024-06-30"
    )


def test_default_candidates_come_from_the_registry(bt):
    assert clv.default_models() == tuple(
        k for k in ("bg_nbd", "mbg_nbd", "pareto_nbd", "ggom_nbd") if k in clv.models_registry()
    )
    assert bt.comparison["model"].to_list() == list(clv.default_models())
    assert set(bt.tracking["model"]) == set(clv.default_models())


def test_a_newly_registered_model_is_a_candidate(monkeypatch, log):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @clv.register_model
    class Twin(clv.BetaGeo):
        kind = "twin_bg"
        label = "Twin BG"
        native = "bg_nbd"

    bt = clv.backtest(
        log,
        customer="customer",
        time="time",
        calibration_end="2024-06-30",
        models=["bg_nbd", "twin_bg"],
    )
    a, b = (bt.comparison.filter(pl.col("model") == k) for k in ("bg_nbd", "twin_bg"))
    assert a["log_likelihood"][0] == b["log_likelihood"][0]
    assert bt.spend is None  # no amount column given


def test_comparison_figures(bt):
    s = bt.summary
    actual = s["frequency_holdout"].cast(pl.Float64)
    for row in bt.comparison.iter_rows(named=True):
        m = bt.models[row["model"]]
        pred = m.expected_purchases(s, s["duration_holdout"])
        err = (pred - actual).to_numpy()
        assert row["error"] is None and row["converged"] is True
        assert row["actual_holdout"] == actual.sum()
        assert row["expected_holdout"] == pytest.approx(pred.sum(), rel=1e-12)
        assert row["mae"] == pytest.approx(np.abs(err).mean(), rel=1e-12)
        assert row["rmse"] == pytest.approx(np.sqrt((err**2).mean()), rel=1e-12)
        assert row["bias"] == pytest.approx(err.mean(), rel=1e-9, abs=1e-12)
        # 4 parameters for BG/NBD, MBG/NBD and Pareto/NBD, 5 for GGom/NBD
        k, ll, n = len(m.param_names), m.log_likelihood, s.height
        assert row["aic"] == pytest.approx(2 * k - 2 * ll)
        assert row["bic"] == pytest.approx(k * np.log(n) - 2 * ll)
        assert 0 < row["gini_ratio"] <= 1 and 0.1 < row["top_decile_share"] < 1
        assert row["top_decile_lift"] == pytest.approx(row["top_decile_share"] / 0.1)
        assert row["chi_square_dof"] >= 1 and 0 <= row["chi_square_p"] <= 1
    # BG/NBD generated the data: its holdout total is within 5% and its bias small
    bg = bt.comparison.filter(pl.col("model") == "bg_nbd").row(0, named=True)
    assert abs(bg["expected_holdout"] / bg["actual_holdout"] - 1) < 0.05
    assert set(bt.parameters["model"]) == {*clv.default_models(), "gamma_gamma"}
    assert bt.parameters["std_error"].is_finite().all()


def test_predictions_per_distinct_history_are_the_per_customer_ones(bt):
    """With one holdout length for everyone the backtest predicts once per distinct
    (x, t_x, T) and ranks the distinct histories: the very figures of predicting and ranking
    every customer."""
    from truenorth.clv._holdout import holdout_predictions
    from truenorth.clv._input import rfm_columns
    from truenorth.clv.diagnostics import _gains

    s = bt.summary
    models = {k: m for k, m in bt.models.items() if k != "gamma_gamma"}
    h = holdout_predictions(models, s, *rfm_columns(s), "duration_holdout")
    assert h.customers is not None and h.by_pattern is not None
    assert h.customers.sum() == s.height and h.customers.len() < s.height
    actual = s["frequency_holdout"].cast(pl.Float64)
    a_by_pattern = h.actual_by_pattern(actual)
    for k, m in models.items():
        per_customer = m.expected_purchases(s, "duration_holdout")
        assert h.predicted[k].equals(per_customer)
        assert _gains(h.by_pattern[k], a_by_pattern, h.customers) == _gains(per_customer, actual)
    # a horizon per customer that differs: per customer, as before
    varied = s.with_columns(h=pl.col("duration_holdout") + pl.int_range(pl.len()) % 3)
    h = holdout_predictions(models, varied, *rfm_columns(varied), "h")
    assert h.pattern is None
    assert h.predicted["bg_nbd"].equals(bt.models["bg_nbd"].expected_purchases(varied, "h"))


def test_top_decile_and_gini_by_hand():
    s = pl.DataFrame({"frequency": [0] * 10, "recency": [0.0] * 10, "T": [10.0] * 10}).with_columns(
        frequency_holdout=pl.Series([5, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    )
    m = clv.BetaGeo.from_params({"r": 1, "alpha": 1, "a": 1, "b": 1}, time_unit="1d")
    out = clv.holdout_accuracy(m, s, horizon=5.0).row(0, named=True)
    # every prediction is tied: the top decile (1 of 10 customers) gets a tenth of the purchases,
    # as a random tie-break would on average; the gains curve is the diagonal
    assert out["top_decile_share"] == pytest.approx(0.1)
    assert out["gini"] == pytest.approx(0.0, abs=1e-12)
    assert out["gini_ratio"] == pytest.approx(0.0, abs=1e-12)
    # the customer who buys ranks first: all purchases in the top decile, perfect order
    ranked = s.with_columns(
        frequency=pl.Series([3] + [0] * 9), recency=pl.Series([9.0] + [0.0] * 9)
    )
    out = clv.holdout_accuracy(m, ranked, horizon=5.0).row(0, named=True)
    assert out["top_decile_share"] == pytest.approx(1.0)
    assert out["gini"] == pytest.approx(0.9) and out["gini_ratio"] == pytest.approx(1.0)
    # no holdout purchases: the ranking figures are undefined, null rather than NaN
    none = clv.holdout_accuracy(m, s.with_columns(frequency_holdout=pl.lit(0)), horizon=5.0)
    assert none["gini"].is_null().all() and none["top_decile_share"].is_null().all()


def test_frequency_chi_square_against_scipy(bt):
    for name in bt.comparison["model"]:
        k = len(bt.models[name].param_names)
        t = bt.frequency.filter(pl.col("model") == name)
        pooled = t.group_by("pooled_bin", maintain_order=True).agg(
            pl.col("customers").sum(), pl.col("expected").sum()
        )
        assert (pooled["expected"] >= MIN_EXPECTED).all()
        assert t["expected"].sum() == pytest.approx(bt.summary.height, rel=1e-12)
        ref = stats.chisquare(
            pooled["customers"].to_numpy(), pooled["expected"].to_numpy(), ddof=k, sum_check=False
        )
        assert t["chi_square"][0] == pytest.approx(ref.statistic, rel=1e-10)
        assert t["chi_square_p"][0] == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-15)
        assert t["chi_square_dof"][0] == pooled.height - 1 - k


def test_the_tail_is_pooled_until_expected_counts_reach_five():
    m = clv.BetaGeo.from_params({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, time_unit="1w")
    s = pl.DataFrame(
        {
            "frequency": [0] * 30 + [1, 2, 9],
            "recency": [0.0] * 30 + [3.0, 5.0, 20.0],
            "T": [30.0] * 33,
        }
    )
    t = clv.frequency_table(m, s, max_count=5)
    assert t["bin"].to_list() == ["0", "1", "2", "3", "4", "5+"]
    groups = t.group_by("pooled_bin", maintain_order=True).agg("bin", pl.col("expected").sum())
    tail = groups.row(-1, named=True)
    assert len(tail["bin"]) > 1 and tail["pooled_bin"] == tail["bin"][0].rstrip("+") + "+"
    # pooled from the top down just until the tail reaches 5 expected customers
    assert tail["expected"] >= MIN_EXPECTED
    first = t.filter(pl.col("bin") == tail["bin"][0])["expected"][0]
    assert tail["expected"] - first < MIN_EXPECTED
    assert all(len(b) == 1 for b in groups["bin"][:-1])
    dof = groups.height - 1 - 4
    assert t["chi_square_dof"][0] == dof < 1 and t["chi_square_p"].is_null().all()


def test_conditional_and_spend_tables(bt):
    s = bt.summary
    m = bt.models["pareto_nbd"]
    pred = m.expected_purchases(s, "duration_holdout")
    t = bt.conditional.filter(pl.col("model") == "pareto_nbd")
    bins = s.with_columns(pred=pred, bin=pl.col("frequency").clip(0, 7))
    for i, row in enumerate(t.iter_rows(named=True)):
        part = bins.filter(pl.col("bin") == i)
        assert row["bin"] == (str(i) if i < 7 else "7+")
        assert row["customers"] == part.height
        assert row["actual"] == pytest.approx(part["frequency_holdout"].mean())
        assert row["expected"] == pytest.approx(part["pred"].mean())
    assert bt.spend is not None
    gg = bt.models["gamma_gamma"]
    buyers = s.with_columns(e=gg.expected_spend(s)).filter(pl.col("frequency_holdout") > 0)
    assert bt.spend["customers"].sum() == buyers.height
    first = bt.spend.row(0, named=True)
    zero = buyers.filter(pl.col("frequency") == 0)
    assert first["actual"] == pytest.approx(zero["monetary_value_holdout"].mean())
    assert first["expected"] == pytest.approx(zero["e"].mean())
    # simulated Gamma-Gamma spend: the model's group means are close to what was spent
    ratio = (bt.spend["expected"] / bt.spend["actual"]).to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.25)


def test_tracking_is_the_cohort_sum_customer_by_customer(bt, log):
    """E at the end of week k = Σ over customers acquired before it of E[X(end − birth)]; the
    actual count = repeat purchase days in that week (first day excluded)."""
    m = bt.models["bg_nbd"]
    days = log.with_columns(day=pl.col("time").dt.date()).select("customer", "day").unique()
    births = days.group_by("customer").agg(birth=pl.col("day").min())
    t0 = births["birth"].min()
    t = bt.tracking.filter(pl.col("model") == "bg_nbd").sort("period")
    for k in (1, 10, 26, 27, 52):
        end = t0 + (k * 7) * (date(2000, 1, 2) - date(2000, 1, 1))
        ages = births.filter(pl.col("birth") < end).select(
            ((pl.lit(end) - pl.col("birth")).dt.total_days() / 7.0).alias("age")
        )["age"]
        direct = float(m.expected_purchases_new(ages.to_list()).sum())
        assert t["expected_cumulative"][k - 1] == pytest.approx(direct, rel=1e-10)
        repeats = days.join(births, on="customer").filter(
            (pl.col("day") > pl.col("birth")) & (pl.col("day") < end)
        )
        assert t["actual_cumulative"][k - 1] == repeats.height
    assert t["phase"][25] == "calibration" and t["phase"][26] == "holdout"


def test_tracking_from_the_summary_cohort_is_the_tracking_from_the_log():
    """The backtest reads the cohort's births from its summary instead of the log; with many
    customers acquired in the holdout (outside the cohort, buying there) the table is the one
    expected_cumulative_transactions computes from the log alone."""
    log = clv.simulate_bg_nbd_transactions(1500, **BG, seed=3, cohort_days=300.0)
    first = log.group_by("customer").agg(pl.col("time").min().dt.date().alias("first"))
    # (a customer first seen on the calibration end's day would have T = 0)
    log = log.join(first.filter(pl.col("first") != date(2024, 6, 30)), on="customer")
    assert first.filter(pl.col("first") > date(2024, 6, 30)).height > 300
    bt = clv.backtest(
        log, customer="customer", time="time", calibration_end="2024-06-30", models=["bg_nbd"]
    )
    direct = clv.expected_cumulative_transactions(
        bt.models, log, customer="customer", time="time", calibration_end="2024-06-30"
    )
    # the same customers and counts; the sums only in another order (rounding)
    assert bt.tracking.drop("expected", "expected_cumulative").equals(
        direct.drop("expected", "expected_cumulative")
    )
    for c in ("expected", "expected_cumulative"):
        np.testing.assert_allclose(bt.tracking[c], direct[c], rtol=1e-12)
    assert bt.tracking["actual"].sum() > 0


def test_expected_purchases_takes_a_horizon_per_row(bt):
    s = bt.summary.head(50)
    m = bt.models["bg_nbd"]
    horizons = pl.Series("h", [float(i % 4) * 3.5 for i in range(50)])
    per_row = m.expected_purchases(s, horizons)
    one_by_one = [m.expected_purchases(s[i], horizons[i])[0] for i in range(50)]
    np.testing.assert_allclose(per_row.to_numpy(), one_by_one, rtol=1e-12)
    assert m.expected_purchases(s.with_columns(horizons), "h").equals(per_row)
    with pytest.raises(clv.ModelInputError, match="expected 50 horizons"):
        m.expected_purchases(s, horizons.head(3))
    with pytest.raises(clv.ModelInputError, match="column 'h', row 2: expected a non-negative"):
        m.expected_purchases(s, horizons.scatter(1, -1.0))


def test_bad_input_is_a_clear_error(log):
    kw = {"customer": "customer", "time": "time"}
    with pytest.raises(ValueError, match="no purchases on or before"):
        clv.backtest(log, calibration_end="2023-01-01", **kw)
    with pytest.raises(clv.ModelInputError, match=r"holdout window is .* at least one unit"):
        clv.backtest(log, calibration_end="2024-12-29", **kw)
    with pytest.raises(clv.ModelInputError, match="not a continuous-time purchase model"):
        clv.backtest(log, calibration_end="2024-06-30", models=["bg_bb"], **kw)
    with pytest.raises(clv.ModelInputError, match="unknown model kind 'nope'"):
        clv.backtest(log, calibration_end="2024-06-30", models=["nope"], **kw)
    once = pl.DataFrame(
        {"customer": [1, 2, 3], "time": [datetime(2024, 1, d) for d in (1, 2, 3)]}
    ).vstack(pl.DataFrame({"customer": [1], "time": [datetime(2024, 3, 1)]}))
    with pytest.raises(clv.ModelInputError, match="no customer made a repeat purchase"):
        clv.backtest(once, calibration_end="2024-01-31", **kw)
    with pytest.raises(clv.ModelInputError, match="'2025-06-01' must fall before observation_end"):
        clv.backtest(log, calibration_end="2025-06-01", **kw)
    with pytest.raises(
        clv.ModelInputError, match=r"must fall before observation_end \('2024-03-01'\)"
    ):
        clv.backtest(log, calibration_end="2024-06-30", observation_end="2024-03-01", **kw)
    with pytest.raises(clv.ModelInputError, match="period: '1mo' is a calendar duration"):
        clv.backtest(log, calibration_end="2024-06-30", period="1mo", unit="1mo", **kw)
    with pytest.raises(clv.ModelInputError, match="max_count"):
        clv.backtest(log, calibration_end="2024-06-30", max_count=0, **kw)


def test_a_spend_model_that_cannot_be_used_is_reported(log):
    # zero amounts: Gamma-Gamma cannot be fitted; the purchase models are still compared
    free = log.with_columns(amount=pl.lit(0.0))
    bt = clv.backtest(
        free,
        customer="customer",
        time="time",
        amount="amount",
        calibration_end="2024-06-30",
        models=["bg_nbd"],
    )
    assert bt.comparison.height == 1 and bt.comparison["error"].is_null().all()
    assert bt.spend is None and "gamma_gamma" not in bt.models
    assert bt.spend_error is not None and "positive spend" in bt.spend_error


def test_monitoring_needs_a_known_time_unit(bt, log):
    m = clv.BetaGeo.from_params(BG)  # no unit: the tracking ages cannot be converted
    with pytest.raises(clv.ModelInputError, match="time unit of bg_nbd is unknown"):
        clv.expected_cumulative_transactions(m, log, customer="customer", time="time")
    with pytest.raises(clv.ModelInputError, match="not a fitted purchase model"):
        clv.frequency_table({"gg": bt.models["gamma_gamma"]}, bt.summary)
