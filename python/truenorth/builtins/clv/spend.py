"""The spend model of the ``clv`` rule: fitted on the repeat customers' mean spends (or given,
or loaded), checked, and each customer's expected spend per purchase."""

from __future__ import annotations

from typing import Any

import polars as pl

import truenorth

from .fitting import convergence, fit_model, load_model, same_unit
from .options import ClvOptions


def fit_spend(
    ctx: truenorth.RuleContext[ClvOptions],
    summary: pl.DataFrame,
    given: Any,
    findings: list[truenorth.Finding],
) -> pl.Series:
    """The ``expected_spend`` column, in the summary's row order, of the spend model ``given``
    by a service, loaded from ``spend_model_path`` or fitted on the summary."""
    return fit_spend_model(ctx, summary, given, findings)[1]


def fit_spend_model(
    ctx: truenorth.RuleContext[ClvOptions],
    summary: pl.DataFrame,
    given: Any,
    findings: list[truenorth.Finding],
) -> tuple[Any, pl.Series]:
    """``fit_spend``'s spend model and column (a caller that carries the model's estimation
    error into CLV bounds needs the model itself)."""
    from truenorth import clv

    opts = ctx.rule.options
    kind = str(opts.spend)  # the rule calls this only with a spend model
    # Gamma-Gamma needs positive mean spend: repeat customers whose repeat purchases
    # sum to zero or less (refunds, free orders) are left out of the fit, and said so
    bad = (pl.col("frequency") > 0) & (pl.col("monetary_value") <= 0)
    n_bad = summary.select(bad.sum()).item()
    if n_bad:
        findings.append(
            ctx.finding(
                str(opts.spend),
                f"{n_bad} repeat customer(s) with non-positive mean spend (refunds, free "
                "orders) left out of the Gamma-Gamma fit; their expected_spend is the "
                "fitted model's for a mean spend of 0",
                severity="info",
                value=float(n_bad),
                evidence={"excluded": int(n_bad), "customers": summary.height},
            )
        )
    if given is not None:
        spend = given
    elif opts.spend_model_path:
        spend = load_model(ctx, opts.spend_model_path)
    else:
        spend = fit_model(
            lambda: clv.models_registry()[kind](time_unit=opts.unit).fit(summary.filter(~bad)),
            ctx,
            opts.spend,
            findings,
        )
    same_unit(spend, opts.unit, "spend model")
    convergence(ctx, spend, opts.spend, findings)
    # a negative mean (refunds) is predicted as a mean of 0: the model's population
    # prior, pulled down the more repeat purchases brought nothing
    spend_input = summary.select("frequency", pl.col("monetary_value").clip(lower_bound=0.0))
    q = (getattr(spend, "params", None) or {}).get("q")
    if q is not None and q <= 1:
        # Gamma-Gamma's population mean spend p·v/(q−1) does not exist for q <= 1: a
        # property of these spends (a very heavy tail), which the user can act on
        raise truenorth.DataError(
            f"the {opts.spend} spend model fitted q = {q:.3g} <= 1 on the repeat customers' "
            "mean spends: their spread is too heavy-tailed for a finite expected spend "
            "(expected q > 1); check the amount column for outliers or unit mix-ups "
            "(cents vs units), or cap extreme amounts"
        )
    return spend, spend.expected_spend(spend_input).alias("expected_spend")
