"""Fitting when the weighted patterns do not fit on the driver.

The optimiser stays on the driver (the core's: L-BFGS, Newton polish, Hessian for the
standard errors, boundary stops), but each of its log-likelihood evaluations is one Spark
job: every partition of the cached pattern table returns its share of the log-likelihood and
of its gradient in the log-parameters (the core's ``ll_grad``, the function a local fit
evaluates), and the driver adds them up. The log-likelihood is a weighted sum over patterns,
so the sum is the local fit's objective up to floating-point rounding, and the optimum is
the local fit's (to ~1e-9 relative). The start is the optimum on a sample of the patterns
collected once, as a local fit on many patterns starts from a subsample's.

Where a job's time goes, and why the patterns are packed first (measured on ``local[2]``,
300k patterns in 8 partitions, benches/RESULTS_scale.md): evaluating the likelihood is
milliseconds; a job over the cached pattern table costs seconds, nearly all of it Spark
turning cached rows into Arrow batches for the Python workers (a job that only reads them
costs as much) plus a fixed cost per task. So the patterns are converted once: checked,
cast to Float64 and written as Arrow IPC blobs (one per ~1M patterns) in a cached table of
as many partitions as Spark has cores. Every evaluation job then moves a few binary
values per core, not rows: one task per core, no per-row conversion.

Driver memory: the sample and one partial result per blob, not the patterns.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame

from ._arrow import worker_errors

#: patterns collected to the driver for the start values (a local fit on many patterns
#: starts from a subsample of 50,000 likewise)
SAMPLE_PATTERNS = 50_000

#: patterns per packed blob: 32 bytes each, so ~32 MB, far from Spark's 2 GB value limit
BLOB_PATTERNS = 1 << 20

_PARTIAL = pa.schema(
    [("point", pa.int32()), ("ll", pa.float64()), ("grad", pa.list_(pa.float64()))]
)
_PARTIAL_DDL = "point int, ll double, grad array<double>"
_COLUMNS = ("x", "second", "t", "w")
_PACKED = pa.schema(
    [
        ("blob", pa.binary()),
        ("sample", pa.binary()),
        ("n", pa.int64()),
        ("w", pa.float64()),
        ("x_max", pa.float64()),
    ]
)
_PACKED_DDL = "blob binary, sample binary, n bigint, w double, x_max double"


def _pack(model: Any, sample_each: int):
    """A ``mapInArrow`` function: a partition's patterns, checked by the model (as a local fit
    checks them) and cast to Float64, as Arrow IPC blobs of about :data:`BLOB_PATTERNS`
    each, with their count, weight, largest frequency, and a sample for the start values."""

    def blob(frames: list[pl.DataFrame]) -> pa.RecordBatch:
        frame = pl.concat(frames)
        x, second, t = model._fit_columns(frame)
        w = frame["weights"].cast(pl.Float64)
        cols = pl.DataFrame(dict(zip(_COLUMNS, (x, second, t, w), strict=True)))
        # Pareto/NBD's boundary diagnosis reads the longest T from the sample
        top = cols.slice(_whole(cols["t"].arg_max()), 1)
        sample = pl.concat([cols.sample(n=min(cols.height, sample_each), seed=0), top])
        return pa.RecordBatch.from_pylist(
            [
                {
                    "blob": _ipc(cols),
                    "sample": _ipc(sample),
                    "n": cols.height,
                    "w": float(w.sum()),
                    "x_max": float(x.max() or 0.0),
                }
            ],
            schema=_PACKED,
        )

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: list[pl.DataFrame] = []
        rows = 0
        for batch in batches:  # a blob at a time: memory bounded by the blob, not the partition
            if not batch.num_rows:
                continue
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            pending.append(frame)
            rows += frame.height
            if rows >= BLOB_PATTERNS:
                yield blob(pending)
                pending, rows = [], 0
        if pending:
            yield blob(pending)

    return run


def _ipc(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf, compression="uncompressed")
    return buf.getvalue()


def _whole(value: object) -> int:
    assert isinstance(value, int)
    return value


def _partial(model: Any, thetas: list[list[float]]):
    """A ``mapInArrow`` function over packed blobs: per blob, one row (point, log-likelihood,
    gradient) for each log-parameter vector of ``thetas``."""
    from truenorth import _core

    native = model._native

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rows = []
        for batch in batches:
            for blob in batch.column(0).to_pylist():
                c = pl.read_ipc(io.BytesIO(blob))
                out = _core.ll_grad(native, thetas, c["x"], c["second"], c["t"], c["w"])
                rows += [{"point": i, "ll": ll, "grad": g} for i, (ll, g) in enumerate(out)]
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=_PARTIAL)

    return run


def fit_distributed(
    pats: DataFrame,
    model: Any,
    *,
    start: dict[str, float] | None,
    max_iter: int,
    sample_patterns: int = SAMPLE_PATTERNS,
) -> Any:
    """Fit ``model`` (an unfitted ``truenorth.clv`` model with its time unit) on the weighted
    pattern table ``pats`` (``truenorth.spark.patterns``) without collecting it; returns the
    model. Cost: one Spark job packing the patterns, then one per log-likelihood evaluation
    of the optimiser (typically 15-30 per fit; the finite-difference Hessians of the Newton
    steps and of the standard errors evaluate all their points in one job)."""
    from truenorth import _core
    from truenorth.clv import ModelInputError

    purchase = model.capabilities.process == "purchase"
    cores = max(1, pats.sparkSession.sparkContext.defaultParallelism)
    # one job packs the patterns into one partition per core: the evaluations then run one
    # task per core over a few binary values, never converting the patterns' rows again
    packed = pats.coalesce(cores).mapInArrow(
        _pack(model, max(1, sample_patterns // cores)), _PACKED_DDL
    )
    cached = packed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with worker_errors():  # a bad pattern is reported here, as itself
            meta = cached.select("sample", "n", "w", "x_max").collect()
        n_patterns = sum(int(r["n"]) for r in meta)
        n_obs = sum(float(r["w"]) for r in meta)
        if n_obs < 2 or n_patterns < 2:
            raise ModelInputError(
                f"cannot fit {model.label} on a single customer: the "
                f"{len(model.param_names)} parameters describe a population"
            )
        if purchase and not max(float(r["x_max"]) for r in meta):
            raise ModelInputError(
                "summary: column 'frequency' is 0 for every customer: with no repeat purchases "
                f"the purchase rate of {model.label} cannot be estimated"
            )
        local = pl.concat([pl.read_ipc(io.BytesIO(r["sample"])) for r in meta])
        del meta
        if local.height > sample_patterns + 1:
            top = local.slice(_whole(local["t"].arg_max()), 1)
            local = pl.concat([local.sample(n=sample_patterns, seed=0), top])
        blobs = cached.select("blob")
        start_list = None
        if start is not None:
            probe = type(model)(time_unit=model.time_unit)
            probe._set_params(start)
            start_list = list(probe._params or ())

        def total(thetas: list[list[float]]) -> list[tuple[float, list[float]]]:
            with worker_errors():
                rows = blobs.mapInArrow(_partial(model, thetas), _PARTIAL_DDL).collect()
            sums = [(0.0, [0.0] * len(th)) for th in thetas]
            for r in rows:  # in partition and blob order: the same sum on every run
                ll, grad = sums[r["point"]]
                sums[r["point"]] = (
                    ll + r["ll"],
                    [g + gi for g, gi in zip(grad, r["grad"], strict=True)],
                )
            return sums

        res = _core.fit_external(
            model._native,
            total,
            local["x"],
            local["second"],
            local["t"],
            local["w"],
            n_obs,
            n_patterns,
            start_list,
            max_iter,
        )
    finally:
        cached.unpersist()
    if not math.isfinite(res["log_likelihood"]):
        raise ModelInputError(
            f"cannot fit {model.label}: its log-likelihood is not finite on this data "
            f"({res['message']}); the values are too large for floating point: rescale them "
            "(amounts in thousands, times in a longer unit)"
        )
    return model._adopt_fit(dict(res))
