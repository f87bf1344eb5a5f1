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

Columns are checked at load time against the attribute dataset's declared columns; a customer
without an attribute row, a null or an unseen level is a data error naming it.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import Field

import truenorth


class CovariateOptions(truenorth.Options):
    """Covariates of a ``clv`` rule's purchase model."""

    attributes: str = Field(description="dataset role of the customer attributes")
    id: str | None = Field(None, description="customer id column of the attributes")
    transaction: list[str] = Field([], description="covariates of the purchase process")
    lifetime: list[str] = Field([], description="covariates of the dropout process")
    constrain: list[str] = Field([], description="columns with one coefficient in both")
    l2: dict[str, float] = Field({}, description="L2 penalty per process (transaction, lifetime)")


def reads(cov: CovariateOptions | None) -> list[str]:
    return [cov.attributes] if cov is not None else []


def validate(
    cov: CovariateOptions | None, customer: str, ctx: Any, *, interval_method: str | None
) -> None:
    """Load-time checks: the attribute table's declared columns, and options that combine
    (``interval_method``: None without intervals)."""
    if cov is None:
        return
    at = ("with", "covariates")
    if not cov.transaction and not cov.lifetime:
        ctx.error(
            "covariates: no columns", at=at, expected="transaction: [...] and/or lifetime: [...]"
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
    schema = ctx.schema(cov.attributes)
    if schema is None:
        return
    wanted = [("id", 0, cov.id or customer)]
    wanted += [("transaction", i, c) for i, c in enumerate(cov.transaction)]
    wanted += [("lifetime", i, c) for i, c in enumerate(cov.lifetime)]
    for key, i, col in wanted:
        if col not in schema:
            ctx.error(
                f"covariates: no column {col!r} in table {cov.attributes!r}",
                at=(*at, key) if key == "id" else (*at, key, i),
                expected=f"one of: {', '.join(schema)}",
            )


def attach(
    ctx: truenorth.RuleContext, cov: CovariateOptions, summary: pl.DataFrame, customer: str
) -> pl.DataFrame:
    """The summary with the attribute columns joined (a data error names a missing one)."""
    from truenorth import clv

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
