"""The clv rule's ``model: auto``: the pick checked against ``clv.backtest`` called directly,
the tables it writes, its findings, a failing candidate, and each bad input as a clear error."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl
import pytest

import truenorth
from truenorth import clv
from truenorth.clv import registry
from truenorth.testing import run_rule

BG = {"r": 0.25, "alpha": 28.0, "a": 0.8, "b": 2.5}  # per day
AUTO = {"model": "auto", "unit": "1w", "spend": None, "calibration_end": "2024-08-31"}
TABLES = ("clv_models", "clv_parameters", "clv_tracking", "clv_conditional", "clv_frequency")


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    return clv.simulate_bg_nbd_transactions(1500, **BG, seed=11, spend=(6.0, 4.0, 15.0))


@pytest.fixture(scope="module")
def auto_run(log) -> truenorth.Result:
    return run_rule("clv", AUTO, {"transactions": log})


@pytest.fixture(scope="module")
def direct(log) -> clv.Backtest:
    """The second path: the library's backtest on the same split."""
    return clv.backtest(
        log, customer="customer", time="time", calibration_end=date(2024, 8, 31), unit="1w"
    )


def _models(result: truenorth.Result) -> pl.DataFrame:
    return result.tables["clv_models"]


def _finding(result: truenorth.Result, severity: str, contains: str) -> dict:
    rows = result.findings.filter(
        (pl.col("severity") == severity) & pl.col("message").str.contains(contains, literal=True)
    )
    assert rows.height == 1, result.findings.select("severity", "message").rows()
    return rows.row(0, named=True)


def test_auto_picks_the_lowest_holdout_rmse_of_the_direct_backtest(auto_run, direct, log):
    ok = direct.comparison.filter(pl.col("error").is_null() & pl.col("converged"))
    best = ok.sort("rmse").row(0, named=True)
    models = _models(auto_run)
    cal = models.filter(pl.col("fit") == "calibration").sort("model")
    assert cal["model"].to_list() == sorted(clv.default_models())
    assert cal.filter(pl.col("selected"))["model"].to_list() == [best["model"]]
    assert cal.filter(pl.col("rank") == 1)["model"].to_list() == [best["model"]]
    # the run's figures are the backtest's
    joined = cal.join(direct.comparison, on="model", suffix="_direct")
    for col in ("rmse", "mae", "bias", "log_likelihood", "bic"):
        assert joined[col].to_list() == pytest.approx(joined[f"{col}_direct"].to_list())
    # scored with the chosen model refitted on the whole window: as if it had been named
    named = run_rule("clv", {"model": best["model"], "unit": "1w", "spend": None}, {"t": log})
    a = auto_run.tables["customers"]
    b = named.tables["customers"]
    assert a["p_alive"].to_list() == pytest.approx(b["p_alive"].to_list(), rel=1e-9)
    full = models.filter(pl.col("fit") == "full").row(0, named=True)
    assert full["model"] == best["model"] and full["selected"]
    assert full["customers"] == a.height


def test_select_bic_picks_the_lowest_bic(log, direct):
    result = run_rule("clv", {**AUTO, "select": "bic"}, {"transactions": log})
    cal = _models(result).filter(pl.col("fit") == "calibration")
    lowest = direct.comparison.sort("bic")["model"][0]
    assert cal.filter(pl.col("selected"))["model"].to_list() == [lowest]
    assert cal.sort("rank")["model"].to_list() == direct.comparison.sort("bic")["model"].to_list()
    info = _finding(result, "info", "model: auto chose")
    assert "lowest BIC of the calibration fit" in info["message"]
    assert json.loads(info["evidence"])["metric"] == "bic"


def test_tables_have_their_columns_and_no_nan(auto_run):
    from truenorth.builtins.clv.selection import TABLES as DECLARED

    for name in TABLES:
        df = auto_run.tables[name]
        assert df.columns == list(DECLARED[name]), name
        assert df.height > 0
        for col, dtype in df.schema.items():
            if dtype == pl.Float64:
                assert not df[col].is_nan().any(), (name, col)
    tracking = auto_run.tables["clv_tracking"]
    assert set(tracking["phase"]) == {"calibration", "holdout"}
    assert set(tracking["model"]) == set(clv.default_models())
    # a week's tracking period per model: the same periods for each
    periods = tracking.group_by("model").agg(pl.len())["len"].unique()
    assert periods.len() == 1
    params = auto_run.tables["clv_parameters"]
    assert set(params["fit"]) == {"calibration", "full"}
    assert params["std_error"].is_not_null().all()
    assert set(auto_run.tables["clv_conditional"]["bin"]) >= {"0", "1", "7+"}


def test_the_info_finding_names_the_choice_and_the_figures(auto_run):
    info = _finding(auto_run, "info", "model: auto chose")
    chosen = _models(auto_run).filter(pl.col("rank") == 1).row(0, named=True)
    assert info["subject"] == chosen["model"]
    assert chosen["label"] in info["message"]
    assert "per-customer RMSE of holdout purchases" in info["message"]
    assert info["value"] == pytest.approx(chosen["rmse"])
    evidence = json.loads(info["evidence"])
    assert evidence["calibration_end"] == "2024-08-31"
    assert set(evidence["values"]) == set(clv.default_models())


def test_bias_beyond_the_threshold_is_a_warning(log, auto_run):
    chosen = _models(auto_run).filter(pl.col("rank") == 1).row(0, named=True)
    bias = chosen["relative_bias"]
    assert bias == pytest.approx(
        (chosen["expected_holdout"] - chosen["actual_holdout"]) / chosen["actual_holdout"]
    )
    assert auto_run.findings.filter(pl.col("severity") == "warn").height == 0
    strict = run_rule("clv", {**AUTO, "bias_threshold": abs(bias) / 2}, {"transactions": log})
    warn = _finding(strict, "warn", "-predicts holdout purchases by")
    assert warn["value"] == pytest.approx(bias)
    assert f"{abs(bias):.1%}" in warn["message"]


@pytest.fixture
def broken(monkeypatch):
    """A registered purchase model whose fit fails, and one that never converges."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @clv.register_model
    class Broken(clv.BetaGeo):
        kind = "broken_bg"
        label = "Broken BG"
        native = "bg_nbd"

        def fit(self, *args, **kwargs):
            raise ArithmeticError("the likelihood overflowed")

    @clv.register_model
    class Stuck(clv.BetaGeo):
        kind = "stuck_bg"
        label = "Stuck BG"
        native = "bg_nbd"

        def fit(self, *args, **kwargs):
            super().fit(*args, **kwargs)
            self.converged = False
            self.message = "iteration limit"
            return self

    return Broken, Stuck


def test_a_failing_candidate_is_reported_and_left_out(log, broken):
    options = {**AUTO, "models": ["broken_bg", "stuck_bg", "pareto_nbd"]}
    result = run_rule("clv", options, {"transactions": log})
    models = _models(result).filter(pl.col("fit") == "calibration")
    row = models.filter(pl.col("model") == "broken_bg").row(0, named=True)
    assert "overflowed" in row["error"] and row["rank"] is None and row["rmse"] is None
    # the converged candidate ranks before the one that did not converge
    assert models.filter(pl.col("selected"))["model"].to_list() == ["pareto_nbd"]
    assert models.filter(pl.col("model") == "stuck_bg")["rank"].to_list() == [2]
    warn = _finding(result, "warn", "could not be fitted")
    assert warn["subject"] == "broken_bg" and "Broken BG" in warn["message"]
    info = _finding(result, "info", "did not converge")
    assert info["subject"] == "stuck_bg"
    assert set(result.tables["clv_tracking"]["model"]) == {"stuck_bg", "pareto_nbd"}


def test_an_unconverged_pick_is_a_warning(log, broken):
    result = run_rule("clv", {**AUTO, "models": ["stuck_bg"]}, {"transactions": log})
    assert _models(result).filter(pl.col("selected"))["model"].unique().to_list() == ["stuck_bg"]
    _finding(result, "warn", "was chosen, but its calibration fit did not converge")
    _finding(result, "warn", "stuck_bg (refitted on the whole window) fit did not converge")


def test_all_candidates_failing_is_a_rule_error(log, broken):
    with pytest.raises(truenorth.RuleError) as info:
        run_rule("clv", {**AUTO, "models": ["broken_bg"]}, {"transactions": log})
    text = str(info.value)
    assert "no candidate model could be fitted" in text and "broken_bg" in text


def test_the_default_split_is_the_last_quarter_and_holdout_counts_back(log):
    first, last = log["time"].min(), log["time"].max()
    quarter = first + (last - first) * 0.75  # the log has datetimes
    result = run_rule("clv", {**AUTO, "calibration_end": None}, {"transactions": log})
    evidence = json.loads(_finding(result, "info", "chose")["evidence"])
    assert evidence["calibration_end"] == str(quarter)
    assert evidence["observation_end"] == str(last)
    result = run_rule(
        "clv", {k: v for k, v in AUTO.items() if k != "calibration_end"} | {"holdout": "13w"},
        {"transactions": log},
    )  # fmt: skip
    evidence = json.loads(_finding(result, "info", "chose")["evidence"])
    assert evidence["calibration_end"] == str(last - timedelta(weeks=13))
    holdout = result.tables["clv_tracking"].filter(pl.col("phase") == "holdout")
    # 13 weeks of holdout; the weekly tracking grid starts at the first purchase, so they touch
    # 14 tracking weeks unless the split falls on a grid line
    assert holdout["period"].n_unique() in (13, 14)


# -- bad input ------------------------------------------------------------------------------


def _pack(tmp_path, log, options: str) -> str:
    log.write_csv(tmp_path / "t.csv")
    path = tmp_path / "pack.yaml"
    path.write_text(
        "truenorth: 1\npack: p\ndatasets:\n  transactions: {path: t.csv}\nrules:\n"
        "  - id: value\n    kind: clv\n    with:\n      spend: null\n" + options,
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize(
    ("options", "where", "says"),
    [
        ("      model: auto\n      holdout: 3d\n", "pack.yaml:11:16", "shorter than one unit"),
        (
            "      model: auto\n      calibration_end: 2024-09-01\n      observation_end: "
            "2024-06-30\n",
            "pack.yaml:11:24",
            "calibration_end 2024-09-01 is not before observation_end 2024-06-30",
        ),
        ("      model: auto\n      interval: 1.5\n", "pack.yaml:11:17", "less than 1"),
        ("      model: auto\n      interval: 0\n", "pack.yaml:11:17", "greater than 0"),
        ("      model: bg_nbd\n      holdout: 13w\n", "pack.yaml:11:16", "only used with model"),
        ("      model: auto\n      models: [bg_nbd, bg_bb]\n", "pack.yaml:11:", "BG/BB cannot"),
        ("      model: auto\n      models: []\n", "pack.yaml:11:15", "at least 1 item"),
        ("      model: auto\n      holdout: 13w\n      calibration_end: 2024-06-30\n",
         "pack.yaml:12:24", "holdout and calibration_end both"),
        ("      model: auto\n      period: 1mo\n", "pack.yaml:11:15", "calendar duration"),
        ("      model: auto\n      select: aic\n", "pack.yaml:11:15", "'holdout' or 'bic'"),
    ],
)  # fmt: skip
def test_bad_options_are_pack_errors_with_their_place(tmp_path, log, options, where, says):
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(_pack(tmp_path, log, options))
    text = str(info.value)
    assert where in text and says in text, text


def _data_error(log, **options) -> str:
    with pytest.raises(truenorth.RuleError) as info:
        run_rule("clv", {**AUTO, **options}, {"transactions": log})
    text = str(info.value)
    assert "rule (clv): DataError: table 'transactions'" in text  # a data error, not a crash
    return text


def test_calibration_end_outside_the_data_is_a_data_error(log):
    for end in ("2023-06-30", "2025-01-31"):
        text = _data_error(log, calibration_end=end)
        assert f"calibration_end {end} falls outside the data" in text
        assert "runs from 2024-01-01 01:10:37" in text and "to 2024-12-31 22:41:19" in text
    text = _data_error(log, calibration_end=None, holdout="2y")
    assert "holdout '2y'" in text and "falls outside the data" in text


def test_a_holdout_under_one_unit_in_the_data_is_a_data_error(log):
    # the options allow it (observation_end unknown at load); the data's window does not
    text = _data_error(log, calibration_end="2024-12-28")
    assert "holdout window is 0.429 1w long; it must be at least one unit" in text


def test_no_repeat_purchase_in_the_calibration_window_is_a_data_error():
    log = pl.DataFrame(
        {
            "customer": ["a", "b", "a", "b"],
            "time": [date(2024, 1, 1), date(2024, 1, 2), date(2024, 6, 1), date(2024, 6, 5)],
        }
    )
    text = _data_error(log, calibration_end="2024-03-31", amount=None)
    assert "no customer made a repeat purchase by" in text


def test_a_calendar_holdout_counts_back_on_the_calendar(log):
    daily = log.with_columns(pl.col("time").dt.date())
    zoned = log.with_columns(pl.col("time").dt.replace_time_zone("Europe/Amsterdam"))
    options = {**AUTO, "calibration_end": None, "holdout": "3mo", "models": ["bg_nbd"]}
    for data, end in ((daily, "2024-09-30"), (zoned, "2024-09-30 22:41:19")):
        result = run_rule("clv", options, {"transactions": data})
        evidence = json.loads(_finding(result, "info", "chose")["evidence"])
        assert evidence["calibration_end"].startswith(end)  # 31 Dec back three months


def test_a_passed_model_with_model_auto_is_an_error_and_without_it_scores(log):
    bg = clv.BetaGeo(time_unit="1w").fit(
        clv.summarize(log, customer="customer", time="time", unit="1w")
    )
    pack = {"truenorth": 1, "pack": "svc", "rules": [{"id": "value", "kind": "clv"}]}
    auto = truenorth.Engine.load({**pack, "rules": [{**pack["rules"][0], "with": AUTO}]})
    result = auto.run(data={"transactions": log}, resources={"value": bg})
    (rule,) = result.rules
    assert rule.status == "error" and "a fitted purchase model was passed" in rule.error
    named = {"unit": "1w", "spend": None}
    fixed = truenorth.Engine.load({**pack, "rules": [{**pack["rules"][0], "with": named}]})
    scored = fixed.run(data={"transactions": log}, resources={"value": bg}).tables["customers"]
    assert scored["p_alive"].to_list() == pytest.approx(bg.p_alive(scored).to_list())
