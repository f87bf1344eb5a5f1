"""The ``covariates`` option of the ``clv`` rule: customer attributes from a dataset role that
scale the purchase model's parameters per customer (``truenorth.clv.covariates``).

.. code-block:: yaml

    with:
      model: pareto_nbd
      covariates:
        attributes: customer_attributes   # dataset role: one row per customer
        id: customer_id                   # its id column (default: the rule's customer column)
        transaction: [channel, first_basket]
        lifetime: [channel]
        constrain: []                     # columns with one coefficient in both processes
        l2: {transaction: 0, lifetime: 0}

Time-varying covariates (Pareto/NBD only; ``truenorth.clv.covariates_dynamic``) come from a
per-period dataset role instead, one row per customer and period:

.. code-block:: yaml

    with:
      model: pareto_nbd
      covariates:
        dynamic: weekly_contacts          # dataset role: one row per customer per period
        period_start: week                # its column of each period's first day
        period_days: 7                    # period length (default 7)
        transaction: [contacts]
        lifetime: [contacts]

Columns are checked at load time against the dataset's declared columns; a customer without an
attribute row (a customer-period without a row), a null or an unseen level is a data error
naming it.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import Field

import truenorth


class CovariateOptions(truenorth.Options):
    """Covariates of a ``clv`` rule's purchase model."""

    attributes: str | None = Field(
        None, description="dataset role of the customer attributes (one row per customer)"
    )
    dynamic: str | None = Field(
        None,
        description="dataset role of time-varying covariates (one row per customer and "
        "period; Pareto/NBD), instead of attributes",
    )
    period_start: str = Field(
        "period_start", description="dynamic: column of each period's first day"
    )
    period_days: float = Field(7.0, gt=0, description="dynamic: length of a period in days")
    id: str | None = Field(
        None, description="customer id column of the attributes (or per-period) table"
    )
    transaction: list[str] = Field([], description="covariates of the purchase process")
    lifetime: list[str] = Field([], description="covariates of the dropout process")
    constrain: list[str] = Field([], description="columns with one coefficient in both")
    l2: dict[str, float] = Field({}, description="L2 penalty per process (transaction, lifetime)")


def reads(cov: CovariateOptions | None) -> list[str]:
    return [t for t in (cov.attributes, cov.dynamic) if t] if cov is not None else []


#: the purchase model of time-varying covariates
DYNAMIC_KIND = "pareto_nbd"
#: options the time-varying fit does not take yet
_STATIC_ONLY = ("constrain", "l2")


def validate(
    cov: CovariateOptions | None,
    customer: str,
    ctx: Any,
    *,
    interval_method: str | None,
    model: str | None = None,
    model_path: str | None = None,
) -> None:
    """Load-time checks: the covariate table's declared columns, and options that combine
    (``interval_method``: None without intervals; ``model``, ``model_path``: the rule's)."""
    if cov is None:
        return
    at = ("with", "covariates")
    if (cov.attributes is None) == (cov.dynamic is None):
        ctx.error(
            "covariates: name one dataset role, attributes or dynamic",
            at=at,
            expected="attributes: <customer table> (static) or dynamic: <per-period table>",
        )
    if not cov.transaction and not cov.lifetime:
        ctx.error(
            "covariates: no columns", at=at, expected="transaction: [...] and/or lifetime: [...]"
        )
    if cov.dynamic is not None:
        _validate_dynamic(
            cov,
            cov.dynamic,
            customer,
            ctx,
            interval=interval_method is not None,
            model=model,
            model_path=model_path,
        )
        return
    for key in ("period_start", "period_days"):
        if key in cov.model_fields_set:
            ctx.error(
                f"covariates: {key} is an option of time-varying covariates",
                at=(*at, key),
                expected="dynamic: <per-period table>, or no " + key,
            )
    if interval_method not in (None, "delta"):
        ctx.error(
            "prediction intervals with covariates use the delta method only",
            at=("with", "interval_method"),
            expected="interval_method: delta",
        )
    for c in cov.constrain:
        if c not in cov.transaction or c not in cov.lifetime:
            ctx.error(
                f"covariates: constrain names {c!r}, which is not in both processes",
                at=(*at, "constrain"),
                expected="columns listed in transaction and lifetime",
            )
    if cov.attributes is not None:
        check_columns(ctx, cov, cov.attributes, [("id", cov.id or customer)])


def _validate_dynamic(
    cov: CovariateOptions,
    table: str,
    customer: str,
    ctx: Any,
    *,
    interval: bool,
    model: str | None,
    model_path: str | None,
) -> None:
    at = ("with", "covariates")
    if model not in (None, DYNAMIC_KIND, "auto"):  # model: auto has its own error
        ctx.error(
            f"time-varying covariates are fitted with the Pareto/NBD, not {model!r}",
            at=("with", "model"),
            expected=f"model: {DYNAMIC_KIND}",
        )
    if interval:
        ctx.error(
            "prediction intervals are not available with time-varying covariates yet",
            at=("with", "interval"),
            expected="no interval, or static covariates (covariates: {attributes: ...})",
        )
    if model_path is not None:
        ctx.error(
            "model_path: the rule fits the time-varying covariate model itself",
            at=("with", "model_path"),
            expected="no model_path with covariates: {dynamic: ...}",
        )
    for key in _STATIC_ONLY:
        if getattr(cov, key):
            ctx.error(
                f"covariates: {key} is not available with time-varying covariates yet",
                at=(*at, key),
                expected=f"no {key}, or static covariates (attributes: ...)",
            )
    check_columns(ctx, cov, table, [("id", cov.id or customer), ("period_start", cov.period_start)])


def check_columns(
    ctx: Any, cov: CovariateOptions, table: str, single: list[tuple[str, str]]
) -> None:
    """Each named column (``single``: (option, column) pairs, then the transaction and
    lifetime lists) is among ``table``'s declared columns, if it declares them."""
    schema = ctx.schema(table)
    if schema is None:
        return
    at = ("with", "covariates")
    wanted: list[tuple[tuple[Any, ...], str]] = [((key,), col) for key, col in single]
    wanted += [(("transaction", i), c) for i, c in enumerate(cov.transaction)]
    wanted += [(("lifetime", i), c) for i, c in enumerate(cov.lifetime)]
    for where, col in wanted:
        if col not in schema:
            ctx.error(
                f"covariates: no column {col!r} in table {table!r}",
                at=(*at, *where),
                expected=f"one of: {', '.join(schema)}",
            )


def attach(
    ctx: truenorth.RuleContext, cov: CovariateOptions, summary: pl.DataFrame, customer: str
) -> pl.DataFrame:
    """The summary with the attribute columns joined (a data error names a missing one)."""
    from truenorth import clv

    assert cov.attributes is not None  # the load-time check
    attrs = ctx.table(cov.attributes).collect()
    key = cov.id or customer
    if key != customer and key in attrs.columns:
        attrs = attrs.rename({key: customer})
    keep = [customer, *dict.fromkeys(cov.transaction + cov.lifetime)]
    missing = [c for c in keep if c not in attrs.columns]
    if missing:
        raise truenorth.DataError(f"table {cov.attributes!r}: no column(s) {', '.join(missing)}")
    attrs = attrs.select(keep)
    if attrs[customer].dtype != summary[customer].dtype:
        try:
            attrs = attrs.with_columns(pl.col(customer).cast(summary[customer].dtype))
        except pl.exceptions.PolarsError as exc:
            raise truenorth.DataError(
                f"table {cov.attributes!r}: id column {key!r} does not match the customer ids "
                f"({attrs[customer].dtype} vs {summary[customer].dtype})"
            ) from exc
    try:
        return clv.with_covariates(summary, attrs, id=customer)
    except clv.ModelInputError as exc:
        raise truenorth.DataError(f"table {cov.attributes!r}: {exc}") from exc


def fit_options(cov: CovariateOptions) -> dict[str, Any]:
    """Keyword arguments of the model's ``fit``."""
    return {
        "transaction": cov.transaction,
        "lifetime": cov.lifetime,
        "constrain": cov.constrain,
        "l2": cov.l2,
    }
