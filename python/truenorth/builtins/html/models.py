"""Report section on the purchase model a ``clv`` rule chose with ``model: auto``: the model
card, the comparison of the candidates, and the checks of Fader, Hardie & Lee (2005) —
tracking (cumulative and weekly), conditional expectations and the frequency fit.

It reads the rule's tables (``clv_models``, ``clv_parameters``, ``clv_tracking``,
``clv_conditional``, ``clv_frequency``); each chart is drawn when its table is present."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from . import svg
from .common import figure, html_table
from .svg import esc, fmt

ACTUAL = "actual"

#: the comparison's columns, in the order shown (those present)
COMPARISON = (
    "rank", "model", "label", "selected", "converged", "n_params", "log_likelihood", "aic",
    "bic", "actual_holdout", "expected_holdout", "relative_bias", "mae", "rmse",
    "top_decile_share", "gini_ratio", "chi_square", "chi_square_dof", "chi_square_p", "error",
)  # fmt: skip


def comparison(models: pl.DataFrame) -> pl.DataFrame:
    """The candidates' calibration fits and holdout figures, best first (the table of the HTML
    and Markdown reports)."""
    df = models
    if "fit" in df.columns:
        df = df.filter(pl.col("fit") == "calibration")
    if "rank" in df.columns:
        df = df.sort("rank", nulls_last=True)
    return df.select([c for c in COMPARISON if c in df.columns])


def _labels(models: pl.DataFrame) -> dict[str, str]:
    if "label" not in models.columns:
        return {}
    return {str(m): str(lab) for m, lab in models.select("model", "label").unique().iter_rows()}


def _chosen(models: pl.DataFrame) -> dict[str, Any] | None:
    full = models.filter(pl.col("fit") == "full") if "fit" in models.columns else models
    if "selected" in full.columns:
        full = full.filter(pl.col("selected").fill_null(False))
    return full.row(0, named=True) if full.height else None


def _card(tables: Mapping[str, pl.DataFrame]) -> str:
    models = tables["clv_models"]
    row = _chosen(models)
    if row is None:
        return ""
    rows = []
    params = tables.get("clv_parameters")
    if params is not None and {"model", "parameter", "estimate"} <= set(params.columns):
        mine = params.filter(pl.col("model") == row["model"])
        if "fit" in mine.columns:
            mine = mine.filter(pl.col("fit") == row.get("fit", "full"))
        for p in mine.iter_rows(named=True):
            se = p.get("std_error")
            value = fmt(p["estimate"]) + (f" ± {fmt(se)}" if svg.finite(se) else "")
            rows.append((p["parameter"], value))
    for key, name in (("log_likelihood", "log-likelihood"), ("aic", "AIC"), ("bic", "BIC"),
                      ("customers", "customers"), ("converged", "converged"),
                      ("message", "optimiser")):  # fmt: skip
        if key in row and row[key] is not None:
            rows.append((name, fmt(row[key])))
    why = ""
    cal = models.filter((pl.col("model") == row["model"]) & (pl.col("fit") == "calibration"))
    if cal.height and "rmse" in cal.columns:
        c = cal.row(0, named=True)
        why = (
            f" On the holdout: RMSE {fmt(c.get('rmse'))} per customer, "
            f"{fmt(c.get('expected_holdout'))} purchases expected against "
            f"{fmt(c.get('actual_holdout'))} made."
        )
    body = "".join(f'<tr><th>{esc(k)}</th><td class="num">{esc(v)}</td></tr>' for k, v in rows)
    title = f"Model card: {row.get('label') or row['model']}"
    table = f'<h3>{esc(title)}</h3><table class="model-card"><tbody>{body}</tbody></table>'
    return figure(
        table,
        "Parameters ± standard errors of the model refitted on the whole window, the one that "
        "scored the customers." + why,
    )


def _tracking(tables: Mapping[str, pl.DataFrame], labels: dict[str, str]) -> list[str]:
    df = tables["clv_tracking"]
    need = {"model", "period", "actual", "expected", "actual_cumulative", "expected_cumulative"}
    if not need <= set(df.columns):
        return []
    models = list(dict.fromkeys(df["model"].to_list()))
    first = df.filter(pl.col("model") == models[0]).sort("period")
    when = first["end"] if "end" in first.columns else first["period"]
    if isinstance(when.dtype, pl.Datetime):  # a tick label has room for the day only
        when = when.dt.date()
    ticks = [str(v) for v in when]
    marker = None
    if "phase" in first.columns:
        n_cal = first.filter(pl.col("phase") == "calibration").height
        if 0 < n_cal < first.height:
            marker = n_cal - 0.5
    out = []
    for actual, expected, what in (
        ("actual_cumulative", "expected_cumulative", "cumulative"),
        ("actual", "expected", "per period"),
    ):
        series = {ACTUAL: first[actual].to_list()}
        for m in models:
            part = df.filter(pl.col("model") == m).sort("period")
            series[labels.get(m, m)] = part[expected].to_list()
        chart = svg.multi_line_chart(
            ticks, series, title=f"Tracking: repeat transactions, {what}",
            y_label="repeat transactions", x_label="period ending", emphasis=ACTUAL,
            marker=marker, marker_label="calibration | holdout", width=1080, height=340,
        )  # fmt: skip
        out.append(
            figure(
                chart,
                f"Repeat transactions of the customers acquired in the calibration window, "
                f"{what}, against each model's expectation; the dashed line ends the "
                "calibration window.",
                wide=True,
            )
        )
    return out


def _by_bin(
    df: pl.DataFrame, labels: dict[str, str], actual: str
) -> tuple[list[str], dict[str, list[Any]]] | None:
    if not {"model", "bin", actual, "expected"} <= set(df.columns):
        return None
    models = list(dict.fromkeys(df["model"].to_list()))
    first = df.filter(pl.col("model") == models[0])
    bins = first["bin"].to_list()
    series: dict[str, list[Any]] = {ACTUAL: first[actual].to_list()}
    for m in models:
        part = df.filter(pl.col("model") == m)
        lookup = dict(zip(part["bin"].to_list(), part["expected"].to_list(), strict=True))
        series[labels.get(m, m)] = [lookup.get(b) for b in bins]
    return [str(b) for b in bins], series


def _conditional(tables: Mapping[str, pl.DataFrame], labels: dict[str, str]) -> str:
    got = _by_bin(tables["clv_conditional"], labels, "actual")
    if got is None:
        return ""
    bins, series = got
    chart = svg.multi_line_chart(
        bins, series, title="Conditional expectations: holdout purchases by calibration count",
        y_label="mean holdout purchases", x_label="repeat purchases in the calibration window",
        emphasis=ACTUAL, points=True,
    )  # fmt: skip
    return figure(
        chart,
        "Customers grouped by their calibration repeat purchases: the mean number they made in "
        "the holdout against each model's conditional expectation.",
    )


def _frequency(tables: Mapping[str, pl.DataFrame], labels: dict[str, str]) -> str:
    got = _by_bin(tables["clv_frequency"], labels, "customers")
    if got is None:
        return ""
    bins, series = got
    chart = svg.grouped_bar_chart(
        bins, series, title="Repeat purchases in the calibration window: customers per count",
        value_label="customers",
    )  # fmt: skip
    df = tables["clv_frequency"]
    caption = "Customers by calibration repeat purchases, actual against each model's expectation."
    if {"chi_square", "chi_square_dof", "chi_square_p"} <= set(df.columns):
        stats = df.group_by("model", maintain_order=True).agg(
            pl.col("chi_square", "chi_square_dof", "chi_square_p").first()
        )
        caption += " χ² (pooled tail): " + "; ".join(
            f"{labels.get(m, m)} {fmt(c)} on {fmt(d)} df, p {fmt(p)}"
            for m, c, d, p in stats.iter_rows()
        )
    return figure(chart, caption)


def _models_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    models = tables["clv_models"]
    labels = _labels(models)
    out = [_card(tables)]
    out.append(
        figure(
            "<h3>Candidates</h3>" + html_table(comparison(models), max_rows=50),
            "Each candidate fitted on the calibration window and checked on the holdout; rank 1 "
            "was chosen (converged fits first). relative_bias: (expected − actual) / actual "
            "holdout purchases.",
            wide=True,
        )
    )
    if "clv_tracking" in tables:
        out += _tracking(tables, labels)
    if "clv_conditional" in tables:
        out.append(_conditional(tables, labels))
    if "clv_frequency" in tables:
        out.append(_frequency(tables, labels))
    return out
