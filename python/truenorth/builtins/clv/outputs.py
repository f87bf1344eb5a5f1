"""What ``model: auto`` writes into the run: the backtest's tables (``clv_models``,
``clv_parameters``, ``clv_tracking``, ``clv_conditional``, ``clv_frequency``) and findings
that name the choice and its weak points."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

import truenorth

from .options import ClvOptions
from .selection import METRICS, TABLES, Choice


def tables(choice: Choice, model: Any) -> dict[str, pl.DataFrame]:
    """The backtest's tables, plus a ``fit = "full"`` row (and parameters) for the chosen
    model refitted on the whole window, the one that scored the customers. NaN never reaches
    a table: an undefined figure is null."""
    bt = choice.backtest
    calibration = choice.ranked.with_columns(
        fit=pl.lit("calibration"),
        selected=pl.col("model") == choice.kind,
        relative_bias=pl.when(pl.col("actual_holdout") > 0).then(
            (pl.col("expected_holdout") - pl.col("actual_holdout")) / pl.col("actual_holdout")
        ),
    )
    full = pl.DataFrame([_full_row(choice.kind, model)])
    models = pl.concat([calibration, full], how="diagonal_relaxed")
    params = pl.concat(
        [
            bt.parameters.with_columns(fit=pl.lit("calibration")),
            _param_rows(choice.kind, model).with_columns(fit=pl.lit("full")),
        ]
    )
    raw = {
        "clv_models": models,
        "clv_parameters": params,
        "clv_tracking": bt.tracking,
        "clv_conditional": bt.conditional,
        "clv_frequency": bt.frequency,
    }
    return {name: _typed(df, TABLES[name]) for name, df in raw.items()}


def _typed(df: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """The declared columns in the declared order and types, NaN as null."""
    cols = []
    for name, dtype in schema.items():
        c = pl.col(name) if name in df.columns else pl.lit(None)
        if dtype is not None:
            c = c.cast(dtype)
        if dtype == pl.Float64:
            c = c.fill_nan(None)
        cols.append(c.alias(name))
    return df.select(cols)


def _full_row(kind: str, m: Any) -> dict[str, Any]:
    ll = m.log_likelihood
    k = len(m.params)
    n = float(m.n_observations or 0.0)
    finite = ll is not None and math.isfinite(ll)
    return {
        "model": kind,
        "label": m.label,
        "fit": "full",
        "selected": True,
        "converged": m.converged,
        "message": m.message,
        "n_params": k,
        "customers": int(n),
        "log_likelihood": ll if finite else None,
        "aic": 2 * k - 2 * ll if finite else None,
        "bic": k * math.log(n) - 2 * ll if finite and n > 0 else None,
        "parameters": _params_text(m),
    }


def _params_text(m: Any) -> str:
    se = m.standard_errors or {}
    return ", ".join(
        f"{p}={v:.4g}" + (f" ± {se[p]:.2g}" if p in se and math.isfinite(se[p]) else "")
        for p, v in m.params.items()
    )


def _param_rows(kind: str, m: Any) -> pl.DataFrame:
    se = m.standard_errors or {}
    return pl.DataFrame(
        {
            "model": [kind] * len(m.params),
            "parameter": list(m.params),
            "estimate": list(m.params.values()),
            "std_error": [se.get(p) for p in m.params],
        },
        schema={"model": pl.String, "parameter": pl.String, "estimate": pl.Float64,
                "std_error": pl.Float64},
    )  # fmt: skip


def findings(
    ctx: truenorth.RuleContext[ClvOptions], choice: Choice, model: Any
) -> list[truenorth.Finding]:
    """An info finding naming the choice and the figures behind it; warn findings for a
    holdout bias beyond ``bias_threshold``, an unconverged chosen fit, and each candidate that
    could not be fitted (an unconverged candidate not chosen is an info finding)."""
    opts = ctx.rule.options
    metric, said = METRICS[opts.select]
    ranked = choice.ranked.sort("rank", nulls_last=True)
    row = ranked.filter(pl.col("model") == choice.kind).row(0, named=True)
    label = row["label"]
    others = [
        f"{r['label']} {_num(r[metric])}"
        for r in ranked.iter_rows(named=True)
        if r["model"] != choice.kind and r["rank"] is not None
    ]
    split = (
        f"calibration to {choice.calibration_end}, holdout to {choice.observation_end} "
        f"({_num(row['customers'])} customers)"
    )
    out = [
        ctx.finding(
            choice.kind,
            f"model: auto chose {label}: lowest {said}, {_num(row[metric])}"
            + (f" (against {', '.join(others)})" if others else " (the only usable candidate)")
            + f"; {split}; refitted on the whole window to score",
            severity="info",
            value=row[metric],
            evidence={
                "select": opts.select,
                "metric": metric,
                "values": {
                    r["model"]: r[metric] for r in ranked.iter_rows(named=True) if r["rank"]
                },
                "calibration_end": str(choice.calibration_end),
                "observation_end": str(choice.observation_end),
            },
        )
    ]
    actual, expected = row["actual_holdout"], row["expected_holdout"]
    if actual is not None and actual <= 0:
        out.append(
            ctx.finding(
                choice.kind,
                "no repeat purchases in the holdout window: the holdout cannot tell the "
                "candidates apart; lengthen the holdout",
                severity="warn",
                evidence={"actual_holdout": actual},
            )
        )
    elif actual is not None and expected is not None:
        bias = (expected - actual) / actual
        if abs(bias) > opts.bias_threshold:
            way = "over" if bias > 0 else "under"
            out.append(
                ctx.finding(
                    choice.kind,
                    f"{label} {way}-predicts holdout purchases by {abs(bias):.1%} "
                    f"({_num(expected)} expected, {_num(actual)} made; bias_threshold "
                    f"{opts.bias_threshold:.0%}): its forecasts may be {way}stated",
                    severity="warn",
                    value=bias,
                    threshold=f"|relative bias| > {opts.bias_threshold:g}",
                    evidence={"expected_holdout": expected, "actual_holdout": actual},
                )
            )
    if row["converged"] is False:
        out.append(
            ctx.finding(
                choice.kind,
                f"{label} was chosen, but its calibration fit did not converge "
                f"({row['message']}); no candidate converged",
                severity="warn",
                evidence={"message": row["message"]},
            )
        )
    for r in ranked.iter_rows(named=True):
        if r["error"] is not None:
            out.append(
                ctx.finding(
                    r["model"],
                    f"candidate {r['label']} could not be fitted on the calibration window and "
                    f"was left out: {r['error']}",
                    severity="warn",
                    evidence={"error": r["error"]},
                )
            )
        elif r["converged"] is False and r["model"] != choice.kind:
            out.append(
                ctx.finding(
                    r["model"],
                    f"candidate {r['label']}'s calibration fit did not converge "
                    f"({r['message']}); it ranks after the converged ones",
                    severity="info",
                    evidence={"message": r["message"]},
                )
            )
    return out


def _num(value: Any) -> str:
    """Four significant digits: the candidates' errors often differ in the third."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
