"""Time-varying covariates in the ``clv`` rule (``covariates: {dynamic: <role>, ...}``): the
Pareto/NBD of ``truenorth.clv.covariates_dynamic`` fitted on the rule's transactions and a
per-customer-per-period table, scored with the table's future periods, and valued with the
rule's spend model (``truenorth.clv.covariates_dynamic_value``). ``constrain``/``l2`` go to the
fit; ``interval`` adds bounds of P(alive), expected purchases and CLV by ``interval_method``
(delta, normal draws or bootstrap, with ``draws`` and ``seed``), carrying the purchase model's
estimation error and, for a Gamma-Gamma spend model with a covariance, the spend model's as an
independent block (a spend model without one, e.g. built from parameters, is held at its
estimate). With
``attributes:`` as well, each customer's static attributes are repeated on all their periods.

Purchases are floored to the rule's ``period`` (a day by default) before the fit, so purchases
within one period count once, as in the summary the rule reports. The calibration window ends
at ``observation_end`` (default: the last purchase). The covariate table needs a row for every
customer and period from the customer's first purchase to the end of the CLV horizon.
"""

from __future__ import annotations

from typing import Any

import polars as pl

import truenorth

from .covariates import DYNAMIC_KIND, CovariateOptions
from .fitting import convergence, fit_model
from .options import ClvOptions, parse_horizon, source_of
from .spend import fit_spend_model

KIND = DYNAMIC_KIND


def is_dynamic(options: ClvOptions) -> bool:
    return options.covariates is not None and options.covariates.dynamic is not None


def _data_error(exc: Exception, opts: ClvOptions, rule: truenorth.Rule) -> truenorth.DataError:
    """The API's message, prefixed with the table it is about."""
    cov = opts.covariates
    assert cov is not None and cov.dynamic is not None
    text = str(exc)
    table = source_of(opts, rule) if text.startswith("transactions") else cov.dynamic
    return truenorth.DataError(f"table {table!r}: {text}")


def _inputs(
    ctx: truenorth.RuleContext[ClvOptions], lf: pl.LazyFrame, cov: CovariateOptions
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(purchases floored to the rule's period, the covariate table keyed as the rule)."""
    opts = ctx.rule.options
    assert cov.dynamic is not None
    schema = lf.collect_schema()
    when = pl.col(opts.time)
    if opts.time in schema and schema[opts.time].is_temporal():
        when = when.dt.truncate(opts.period)
    tx = lf.select(pl.col(opts.customer), when).collect()
    table = ctx.table(cov.dynamic).collect()
    key = cov.id or opts.customer
    if key != opts.customer and key in table.columns:
        table = table.rename({key: opts.customer})
    if opts.customer in table.columns and opts.customer in tx.columns:
        want = tx[opts.customer].dtype
        if table[opts.customer].dtype != want:
            try:
                table = table.with_columns(pl.col(opts.customer).cast(want))
            except pl.exceptions.PolarsError as exc:
                raise truenorth.DataError(
                    f"table {cov.dynamic!r}: id column {key!r} does not match the customer "
                    f"ids ({table[opts.customer].dtype} vs {want})"
                ) from exc
    if cov.attributes is not None:
        table = _broadcast(ctx, cov, table, tx[opts.customer].dtype)
    return tx, table


def _broadcast(
    ctx: truenorth.RuleContext[ClvOptions], cov: CovariateOptions, table: pl.DataFrame, dtype: Any
) -> pl.DataFrame:
    """The per-period table with the static attributes repeated on each customer's periods."""
    assert cov.attributes is not None and cov.dynamic is not None
    customer = ctx.rule.options.customer
    attrs = ctx.table(cov.attributes).collect()
    key = cov.id or customer
    if key != customer and key in attrs.columns:
        attrs = attrs.rename({key: customer})
    used = list(dict.fromkeys(cov.transaction + cov.lifetime))
    clash = [c for c in used if c in attrs.columns and c in table.columns]
    if clash:
        raise truenorth.DataError(
            f"tables {cov.dynamic!r} and {cov.attributes!r} both have column(s) "
            f"{', '.join(clash)}: a covariate must come from one of them"
        )
    if customer not in attrs.columns:
        raise truenorth.DataError(f"table {cov.attributes!r}: no id column {key!r}")
    attrs = attrs.select(customer, *(c for c in used if c in attrs.columns))
    if attrs[customer].dtype != dtype:
        try:
            attrs = attrs.with_columns(pl.col(customer).cast(dtype))
        except pl.exceptions.PolarsError as exc:
            raise truenorth.DataError(
                f"table {cov.attributes!r}: id column {key!r} does not match the customer "
                f"ids ({attrs[customer].dtype} vs {dtype})"
            ) from exc
    twice = attrs.filter(pl.col(customer).is_duplicated())
    if twice.height:
        raise truenorth.DataError(
            f"table {cov.attributes!r}: customer {twice[customer][0]!r} has more than one row"
        )
    if customer not in table.columns:
        return table  # the API names the missing id column
    missing = table.select(customer).unique().join(attrs, on=customer, how="anti")
    if missing.height:
        raise truenorth.DataError(
            f"table {cov.attributes!r}: no row for customer {missing.sort(customer)[customer][0]!r}"
            f" ({missing.height} customer(s) of {cov.dynamic!r} without one)"
        )
    return table.join(attrs, on=customer, how="left", maintain_order="left")


def evaluate(
    ctx: truenorth.RuleContext[ClvOptions],
    lf: pl.LazyFrame,
    summary: pl.DataFrame,
    given: dict[str, Any],
    findings: list[truenorth.Finding],
) -> pl.DataFrame:
    """The rule's output table: the summary with p_alive, expected_purchases and, with a spend
    model, expected_spend and clv, under the time-varying covariate model."""
    from truenorth.clv import ModelInputError
    from truenorth.clv.covariates_dynamic import fit_dynamic_covariates
    from truenorth.clv.covariates_dynamic_value import dynamic_lifetime_value

    opts = ctx.rule.options
    cov = opts.covariates
    assert cov is not None
    if given.get("purchase") is not None:
        raise ValueError(
            f"resources for {ctx.rule.id!r}: the rule fits its time-varying covariate model "
            "itself; pass no purchase model"
        )
    tx, table = _inputs(ctx, lf, cov)

    def fit() -> Any:
        try:
            return fit_dynamic_covariates(
                tx,
                table,
                transaction=cov.transaction,
                lifetime=cov.lifetime,
                calibration_end=opts.observation_end,
                period_days=cov.period_days,
                customer=opts.customer,
                date=opts.time,
                period=cov.period_start,
                constrain=cov.constrain,
                l2=cov.l2,
            )
        except ModelInputError as exc:
            raise _data_error(exc, opts, ctx.rule) from exc

    name = f"{KIND} (time-varying covariates)"
    model = fit_model(fit, ctx, name, findings)
    convergence(ctx, model, name, findings)
    horizon, horizon_unit = parse_horizon(opts.horizon, opts.horizon_unit)
    # the static path's order: each column followed by its bounds
    ends = ["", "_lower", "_upper"] if opts.interval is not None else [""]
    columns = [c + end for c in ("p_alive", "expected_purchases") for end in ends]
    spend: Any = 0.0
    spend_data = None
    if opts.spend:
        model_s, expected = fit_spend_model(ctx, summary, given.get("spend"), findings)
        spend = summary.select(opts.customer).with_columns(expected)
        columns += ["expected_spend", *("clv" + end for end in ends)]
        if opts.interval is not None and getattr(model_s, "covariance", None) is not None:
            # the model itself, so its estimation error reaches the CLV bounds; it reads the
            # summary's frequency and mean spend (a negative mean as 0, as fit_spend_model)
            spend_data = summary.select(
                opts.customer, "frequency", pl.col("monetary_value").clip(lower_bound=0.0)
            )
    band: dict[str, Any] = (
        {
            "interval": opts.interval,
            "draws": opts.draws,
            "seed": opts.seed,
            "method": opts.interval_method,
        }
        if opts.interval is not None
        else {}
    )
    try:
        scored = dynamic_lifetime_value(
            model,
            tx,
            table,
            model_s if spend_data is not None else spend,
            horizon=int(horizon),
            horizon_unit=horizon_unit,
            discount_rate=opts.discount_rate,
            spend_data=spend_data,
            **band,
        )
    except ModelInputError as exc:
        raise _data_error(exc, opts, ctx.rule) from exc
    if opts.spend:
        scored = scored.join(spend, on=opts.customer, how="left")
    out = summary.join(scored, on=opts.customer, how="left").select(*summary.columns, *columns)
    if out["p_alive"].null_count():
        i = int(out["p_alive"].is_null().arg_true()[0])
        raise truenorth.DataError(
            f"table {source_of(opts, ctx.rule)!r}: customer {out[opts.customer][i]!r} is in "
            "the summary but not in the time-varying covariate model's calibration window"
        )
    _notes(ctx, model)
    return out


def _notes(ctx: truenorth.RuleContext[ClvOptions], model: Any) -> None:
    """The fit in the run notes, as the static covariate path writes them."""
    if not hasattr(ctx, "note"):
        return
    ctx.note(
        "purchase model",
        None,
        model=KIND,
        covariates="time-varying",
        params=dict(model.params),
        log_likelihood=model.log_likelihood,
        aic=model.aic,
        bic=model.bic,
    )
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
