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
per-period dataset role, one row per customer and period (with ``attributes:`` as well, the
customer attributes are repeated on each of the customer's periods; ``id`` names the customer
column of both tables, and a covariate must be a column of exactly one of them):

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
        "period; Pareto/NBD); with attributes too, those repeat on every period",
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
    if cov.attributes is None and cov.dynamic is None:
        ctx.error(
            "covariates: name a dataset role, attributes or dynamic",
            at=at,
            expected="attributes: <customer table> (static) and/or dynamic: <per-period table>",
        )
    if not cov.transaction and not cov.lifetime:
        ctx.error(
            "covariates: no columns", at=at, expected="transaction: [...] and/or lifetime: [...]"
        )
    if interval_method not in (None, "delta") and cov.dynamic is None:
        # time-varying covariates offer draws and bootstrap intervals too
        ctx.error(
            "prediction intervals with covariates use the delta method only (time-varying "
            "ones also offer normal and bootstrap)",
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
    for key, value in cov.l2.items():
        if key not in ("transaction", "lifetime") or value < 0:
            ctx.error(
                f"covariates: l2 {key}: {value:g} is not a penalty of a process",
                at=(*at, "l2", key),
                expected="l2: {transaction: <number >= 0>, lifetime: <number >= 0>}",
            )
    if cov.dynamic is not None:
        _validate_dynamic(cov, cov.dynamic, customer, ctx, model=model, model_path=model_path)
        return
    for key in ("period_start", "period_days"):
        if key in cov.model_fields_set:
            ctx.error(
                f"covariates: {key} is an option of time-varying covariates",
                at=(*at, key),
                expected="dynamic: <per-period table>, or no " + key,
            )
    if cov.attributes is not None:
        check_columns(ctx, cov, cov.attributes, [("id", cov.id or customer)])


def _validate_dynamic(
    cov: CovariateOptions,
    table: str,
    customer: str,
    ctx: Any,
    *,
    model: str | None,
    model_path: str | None,
) -> None:
    if model not in (None, DYNAMIC_KIND, "auto"):  # model: auto has its own error
        ctx.error(
            f"time-varying covariates are fitted with the Pareto/NBD, not {model!r}",
            at=("with", "model"),
            expected=f"model: {DYNAMIC_KIND}",
        )
    if model_path is not None:
        ctx.error(
            "model_path: the rule fits the time-varying covariate model itself",
            at=("with", "model_path"),
            expected="no model_path with covariates: {dynamic: ...}",
        )
    single = [("id", cov.id or customer), ("period_start", cov.period_start)]
    if cov.attributes is None:
        check_columns(ctx, cov, table, single)
        return
    # static attributes broadcast onto every period: each covariate from exactly one table
    periods, attrs = ctx.schema(table), ctx.schema(cov.attributes)
    if periods is None or attrs is None:
        return
    at = ("with", "covariates")
    for key, col in single:
        if col not in periods:
            ctx.error(
                f"covariates: no column {col!r} in table {table!r}",
                at=(*at, key),
                expected=f"one of: {', '.join(periods)}",
            )
    if (cov.id or customer) not in attrs:
        ctx.error(
            f"covariates: no column {cov.id or customer!r} in table {cov.attributes!r}",
            at=(*at, "id"),
            expected=f"the customer id column of both tables; {cov.attributes!r} has: "
            + ", ".join(attrs),
        )
    for where, col in _named(cov):
        if col in periods and col in attrs:
            ctx.error(
                f"covariates: column {col!r} is in both {table!r} and {cov.attributes!r}",
                at=(*at, *where),
                expected="a covariate name found in one of the two tables (rename one)",
            )
        elif col not in periods and col not in attrs:
            ctx.error(
                f"covariates: no column {col!r} in table {table!r} or {cov.attributes!r}",
                at=(*at, *where),
                expected=f"one of: {', '.join(dict.fromkeys([*periods, *attrs]))}",
            )


def _named(cov: CovariateOptions) -> list[tuple[tuple[Any, ...], str]]:
    """(location under ``covariates``, column) of each transaction and lifetime covariate."""
    out: list[tuple[tuple[Any, ...], str]] = [
        (("transaction", i), c) for i, c in enumerate(cov.transaction)
    ]
    return out + [(("lifetime", i), c) for i, c in enumerate(cov.lifetime)]


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
    wanted += _named(cov)
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
