"""Running the ``clv`` rule: summarise the transactions, fit (or pick, with ``model: auto``)
the purchase and spend models, and score every customer."""

from __future__ import annotations

from typing import Any

import polars as pl

import truenorth

from . import covariates as clv_covariates
from . import dynamic as clv_dynamic
from . import outputs
from .fitting import convergence, fit_model, given_models, load_model, same_unit
from .options import AUTO, UNIT_DAYS, ClvOptions, duration_days, parse_horizon, source_of
from .selection import choose
from .spend import fit_spend


def evaluate(ctx: truenorth.RuleContext[ClvOptions]) -> truenorth.RuleOutput:
    from truenorth import clv

    opts = ctx.rule.options
    lf = ctx.table(source_of(opts, ctx.rule))
    if ctx.rule.when:  # `when:` keeps only matching transactions (e.g. one country)
        lf = lf.filter(ctx.condition(ctx.rule.when, lf.collect_schema()).fill_null(False))
    try:
        summary = clv.summarize(
            lf,
            customer=opts.customer,
            time=opts.time,
            amount=opts.amount,
            period=opts.period,
            unit=opts.unit,
            observation_end=opts.observation_end,
        )
    except ValueError as exc:
        # summarize raises ValueError (or the core's CoreError, a ValueError) only for bad input:
        # missing columns, unsupported dtypes, empty input, null ids/times, non-finite amounts
        raise truenorth.DataError(f"table {source_of(opts, ctx.rule)!r}: {exc}") from exc
    findings: list[truenorth.Finding] = []
    given = given_models(ctx)
    if clv_dynamic.is_dynamic(opts):
        out = clv_dynamic.evaluate(ctx, lf, summary, given, findings).sort(opts.customer)
        if hasattr(ctx, "note"):
            ctx.note("customers", out.height)
        return truenorth.RuleOutput(tables={opts.into: out}, findings=findings)
    # the model reads covariates from `data`; the output table keeps the summary's columns
    data = (
        clv_covariates.attach(ctx, opts.covariates, summary, opts.customer)
        if opts.covariates is not None
        else summary
    )
    cov_fit = clv_covariates.fit_options(opts.covariates) if opts.covariates else {}
    auto_tables: dict[str, pl.DataFrame] = {}
    if opts.model == AUTO:
        if given.get("purchase") is not None:
            raise ValueError(
                f"resources for {ctx.rule.id!r}: a fitted purchase model was passed, but the "
                "rule has model: auto (it fits and picks its own); pass it to a rule that names "
                "its model"
            )
        model, auto_tables = _auto(ctx, lf, summary, findings)
    elif given.get("purchase") is not None:
        model = given["purchase"]
    elif opts.model_path:
        model = load_model(ctx, opts.model_path)
    else:
        model = fit_model(
            lambda: clv.models_registry()[opts.model](time_unit=opts.unit).fit(data, **cov_fit),
            ctx,
            opts.model,
            findings,
        )
    if opts.model != AUTO:  # model: auto reports the refit's convergence under its kind
        convergence(ctx, model, opts.model, findings)
    horizon, horizon_unit = parse_horizon(opts.horizon, opts.horizon_unit)
    same_unit(model, opts.unit, "purchase model")
    t_units = horizon * UNIT_DAYS[horizon_unit] / duration_days(opts.unit)
    band: dict[str, Any] | None = (
        {
            "interval": opts.interval,
            "draws": opts.draws,
            "seed": opts.seed,
            "method": opts.interval_method,
        }
        if opts.interval is not None
        else None
    )
    columns: list[pl.Series] = (
        [model.p_alive(data).alias("p_alive")]
        if band is None
        else model.p_alive(data, **band).get_columns()
    )
    columns.append(model.expected_purchases(data, t_units).alias("expected_purchases"))
    if opts.spend:
        expected_spend = fit_spend(ctx, summary, given.get("spend"), findings)
        columns.append(expected_spend)
        common: dict[str, Any] = {
            "horizon": int(horizon),
            "horizon_unit": horizon_unit,
            "discount_rate": opts.discount_rate,
        }
        # the spend per row is computed once (lifetime_value accepts it as a Series)
        value: pl.Series | pl.DataFrame = (
            clv.lifetime_value(model, expected_spend, data, **common)
            if band is None
            else clv.lifetime_value(model, expected_spend, data, **common, **band)
        )
        columns.extend(value.get_columns() if isinstance(value, pl.DataFrame) else [value])
    out = summary.with_columns(columns).sort(opts.customer)
    if hasattr(ctx, "note"):
        ctx.note("customers", out.height)
        params = getattr(model, "params", None)
        if params:
            kind = getattr(model, "kind", opts.model)
            ctx.note("purchase model", None, model=kind, params=dict(params))
        if getattr(model, "covariates", None) is not None:
            coef = model.coefficients()
            ctx.note(
                "covariate coefficients",
                None,
                **{
                    name: {"estimate": est, "std_error": se, "p_value": p}
                    for name, est, se, p in coef.select(
                        "coefficient", "estimate", "std_error", "p_value"
                    ).iter_rows()
                },
            )
    return truenorth.RuleOutput(tables={opts.into: out, **auto_tables}, findings=findings)


def _auto(
    ctx: truenorth.RuleContext[ClvOptions],
    lf: pl.LazyFrame,
    summary: pl.DataFrame,
    findings: list[truenorth.Finding],
) -> tuple[Any, dict[str, pl.DataFrame]]:
    """model: auto: backtest the candidates, refit the pick on the whole window; its tables."""
    from truenorth import clv

    opts = ctx.rule.options
    transactions = lf.select(opts.customer, opts.time).collect()
    choice = choose(ctx, transactions, summary)
    cls = clv.models_registry()[choice.kind]
    model = fit_model(lambda: cls(time_unit=opts.unit).fit(summary), ctx, choice.kind, findings)
    findings.extend(outputs.findings(ctx, choice, model))
    convergence(ctx, model, f"{choice.kind} (refitted on the whole window)", findings)
    return model, outputs.tables(choice, model)
