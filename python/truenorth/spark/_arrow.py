"""Arrow plumbing between Spark's ``mapInArrow`` and Polars: one partition as one Polars frame,
Polars results cast to the schema declared to Spark, and that schema as Arrow."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import polars as pl
import pyarrow as pa
from pyspark.sql import types as T


def arrow_schema(schema: T.StructType) -> pa.Schema:
    """The Arrow schema Spark expects back from ``mapInArrow`` for ``schema``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC")


def partition_frame(batches: Iterable[pa.RecordBatch]) -> pl.DataFrame | None:
    """All batches of one partition as one Polars frame (None when the partition is empty).

    A customer's rows are in one partition (the input was repartitioned by customer) but may
    span several batches, so per-customer kernels need the whole partition at once."""
    got = [b for b in batches if b.num_rows]
    if not got:
        return None
    return pl.from_arrow(pa.Table.from_batches(got))  # type: ignore[return-value]


def to_batches(frame: pl.DataFrame, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """``frame`` as record batches of exactly ``schema`` (Polars exports large strings and
    its own integer widths; Spark checks the declared types)."""
    table = frame.select(schema.names).to_arrow().cast(schema)
    yield from table.to_batches()


def per_partition(
    work: Callable[[pl.DataFrame], pl.DataFrame | None], schema: pa.Schema
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A ``mapInArrow`` function running ``work`` on each whole partition."""

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        frame = partition_frame(batches)
        if frame is None:
            return
        out = work(frame)
        if out is not None and out.height:
            yield from to_batches(out, schema)

    return run


def per_batch(
    work: Callable[[pl.DataFrame], pl.DataFrame | None], schema: pa.Schema
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A ``mapInArrow`` function running row-wise ``work`` on each Arrow batch (memory bounded
    by Spark's ``spark.sql.execution.arrow.maxRecordsPerBatch``)."""

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if not batch.num_rows:
                continue
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            out = work(frame)
            if out is not None and out.height:
                yield from to_batches(out, schema)

    return run


def spark_type(dtype: Any) -> T.DataType:
    """The Spark type of a Polars dtype of the tables truenorth writes."""
    simple: dict[Any, T.DataType] = {
        pl.Float64: T.DoubleType(),
        pl.Float32: T.FloatType(),
        pl.Int64: T.LongType(),
        pl.Int32: T.IntegerType(),
        pl.Int16: T.ShortType(),
        pl.Int8: T.ByteType(),
        pl.UInt32: T.LongType(),
        pl.UInt8: T.ShortType(),
        pl.UInt16: T.IntegerType(),
        pl.String: T.StringType(),
        pl.Boolean: T.BooleanType(),
        pl.Date: T.DateType(),
    }
    for k, v in simple.items():
        if dtype == k:
            return v
    if isinstance(dtype, pl.Datetime):
        return T.TimestampType() if dtype.time_zone else T.TimestampNTZType()
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return T.StringType()
    if isinstance(dtype, pl.List):
        return T.ArrayType(spark_type(dtype.inner))
    raise TypeError(f"no Spark type for {dtype}")


def spark_schema(schema: pl.Schema) -> T.StructType:
    return T.StructType([T.StructField(n, spark_type(d), True) for n, d in schema.items()])


# The last "ModelInputError: ..." or "DataError: ..." line of a worker's traceback.
_WORKER_ERROR = re.compile(r"^(?:[\w.]+\.)?(ModelInputError|DataError): (.+)$", re.MULTILINE)


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """Re-raise a truenorth error raised on a Spark worker as itself on the driver.

    Spark wraps whatever a Python worker raises in a ``PythonException`` whose text is the
    worker's whole traceback. Bad data found on a worker (a pattern row a kernel refuses) is
    the user's to fix, so it should read like the same error found locally: one line, the
    same exception type. Anything else stays Spark's exception, traceback included."""
    from pyspark.errors import PythonException

    from truenorth.clv import ModelInputError
    from truenorth.errors import DataError

    try:
        yield
    except PythonException as exc:
        found = _WORKER_ERROR.findall(str(exc))
        if not found:
            raise
        name, message = found[-1]
        kind = ModelInputError if name == "ModelInputError" else DataError
        raise kind(f"on a Spark worker: {message.strip()}") from None
