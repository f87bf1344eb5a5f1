"""Customer summaries of a Spark transaction log: rows are repartitioned by customer hash and
each partition is summarised by the same Rust kernel as ``truenorth.clv.summarize``."""

from __future__ import annotations

from typing import Any

import polars as pl
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ._arrow import arrow_schema, per_partition

UNIT_KEY = "truenorth.unit"  # column metadata of T: the unit of recency and T

_TIMES = (T.DateType, T.TimestampType, T.TimestampNTZType)


def _check(df: DataFrame, customer: str, time: str, amount: str | None) -> dict[str, T.DataType]:
    types = {f.name: f.dataType for f in df.schema.fields}
    for c in [customer, time] + ([amount] if amount else []):
        if c not in types:
            raise ValueError(f"column '{c}' not found; the input has columns {list(types)}")
    if not isinstance(types[customer], (T.IntegralType, T.StringType)):
        raise ValueError(
            f"column '{customer}': customer ids must be integers or strings, got "
            f"{types[customer].simpleString()}"
        )
    if not isinstance(types[time], _TIMES):
        raise ValueError(
            f"column '{time}': expected Date or Timestamp purchase times, got "
            f"{types[time].simpleString()}"
        )
    if amount and not isinstance(types[amount], T.NumericType):
        raise ValueError(
            f"column '{amount}': expected numeric amounts, got {types[amount].simpleString()}"
        )
    return types


def _scan(df: DataFrame, customer: str, time: str, amount: str | None) -> Any:
    """One pass: the latest purchase time and the bad-row counts (Spark has no row numbers,
    so a message names the column and how many rows are bad)."""
    aggs = [
        F.max(time).alias("latest"),
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col(customer).isNull().cast("long")).alias("null_customer"),
        F.sum(F.col(time).isNull().cast("long")).alias("null_time"),
    ]
    if amount:
        a = F.col(amount).cast("double")
        aggs += [
            F.sum(a.isNull().cast("long")).alias("null_amount"),
            F.sum((F.isnan(a) | (F.abs(a) == float("inf"))).cast("long")).alias("bad_amount"),
        ]
    row = pl.from_arrow(df.agg(*aggs).toArrow()).row(0, named=True)  # type: ignore[union-attr]
    if not row["rows"]:
        raise ValueError("the transaction log is empty: no rows to summarise")
    for key, col, what in (
        ("null_customer", customer, "customer ids"),
        ("null_time", time, "times"),
        ("null_amount", amount, "amounts"),
    ):
        if row.get(key):
            raise ValueError(
                f"column '{col}': {row[key]} row(s) with null {what}; nulls are not allowed"
            )
    if row.get("bad_amount"):
        raise ValueError(
            f"column '{amount}': {row['bad_amount']} row(s) with NaN or infinite amounts"
        )
    return row["latest"]


def summarize(
    df: DataFrame,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    period: str = "1d",
    unit: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
    partitions: int | None = None,
    when: str | None = None,
) -> DataFrame:
    """One row per customer, as :func:`truenorth.clv.summarize` (same options and columns),
    computed inside Spark.

    The log is repartitioned by a hash of ``customer`` (``partitions``: default Spark's
    ``spark.sql.shuffle.partitions``) and every partition is summarised by the Rust kernel via
    ``mapInArrow``; the default observation end is the latest purchase in the whole log (one
    aggregation pass, which also rejects nulls and non-finite amounts by column). ``when``: a
    pack condition (e.g. ``"amount > 0"``) keeping only matching transactions, as a ``clv``
    rule's ``when:``. The result's ``T`` column carries the unit in its metadata
    (``truenorth.unit``), which :func:`truenorth.spark.fit` reads.

    Rows are not sorted (Spark frames have no order); a customer's values equal the local
    summary's exactly. Timestamps come back as Spark's ``TimestampType``.

    Example::

        summaries = truenorth.spark.summarize(
            spark.read.parquet("s3://shop/orders/"),
            customer="customer_id", time="ordered_at", amount="total", unit="1w",
        )
    """
    from truenorth import clv

    types = _check(df, customer, time, amount)
    cols = [customer, time] + ([amount] if amount else [])
    df = df.select(*cols)
    if when is not None:
        df = _filtered(df, when)
    latest = _scan(df, customer, time, amount)
    end = observation_end if observation_end is not None else latest
    fields = [
        T.StructField(customer, types[customer]),
        T.StructField("frequency", T.LongType()),
        T.StructField("recency", T.DoubleType()),
        T.StructField("T", T.DoubleType()),
    ]
    if amount:
        fields.append(T.StructField("monetary_value", T.DoubleType()))
    fields.append(T.StructField("n_transactions", T.LongType()))
    if amount:
        fields.append(T.StructField("revenue", T.DoubleType()))
    fields += [
        T.StructField("first_purchase", types[time]),
        T.StructField("last_purchase", types[time]),
    ]
    if calibration_end is not None:
        fields.append(T.StructField("frequency_holdout", T.LongType()))
        if amount:
            fields.append(T.StructField("monetary_value_holdout", T.DoubleType()))
        fields.append(T.StructField("duration_holdout", T.DoubleType()))
    schema = T.StructType(fields)
    options = {
        "customer": customer,
        "time": time,
        "amount": amount,
        "period": period,
        "unit": unit,
        "observation_end": end,
        "calibration_end": calibration_end,
    }
    # the unit the local summary would tag, known before any task runs
    from truenorth.clv._time import parse_span, resolve_unit

    unit_text = resolve_unit(unit, parse_span(period, "period")).text

    def work(frame: pl.DataFrame) -> pl.DataFrame | None:
        try:
            return clv.summarize(frame, **options)
        except ValueError as exc:
            # a partition whose customers all start after the observation end: no rows here
            if str(exc).startswith("no purchases on or before"):
                return None
            raise

    parts = df.repartition(partitions, customer) if partitions else df.repartition(customer)
    out = parts.mapInArrow(per_partition(work, arrow_schema(schema)), schema)
    return out.withMetadata("T", {UNIT_KEY: unit_text})


def _filtered(df: DataFrame, when: str) -> DataFrame:
    """Rows meeting a pack condition, compiled by the engine's condition compiler on each
    partition (so ``=``, NULL and NaN behave as in a local run)."""
    from truenorth.engine.conditions import compile_condition

    from ._arrow import arrow_schema, partition_frame, to_batches

    schema = df.schema
    target = arrow_schema(schema)

    def run(batches: Any) -> Any:
        frame = partition_frame(batches)
        if frame is None:
            return
        expr = compile_condition(when, schema=frame.schema).fill_null(False)
        kept = frame.filter(expr)
        if kept.height:
            yield from to_batches(kept, target)

    return df.mapInArrow(run, schema)


def summary_unit(df: DataFrame) -> str | None:
    """The unit of recency and T of a summary made by :func:`summarize` (None otherwise)."""
    for f in df.schema.fields:
        if f.name == "T":
            return (f.metadata or {}).get(UNIT_KEY)
    return None
