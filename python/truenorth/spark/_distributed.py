"""Fitting when the weighted patterns do not fit on the driver.

The optimiser stays on the driver (the core's: L-BFGS, Newton polish, Hessian for the
standard errors, boundary stops), but each of its log-likelihood evaluations is one Spark
job: every partition of the cached pattern table returns its share of the log-likelihood and
of its gradient in the log-parameters (the core's ``ll_grad``, the function a local fit
evaluates), and the driver adds them up. The log-likelihood is a weighted sum over patterns,
so the sum is the local fit's objective up to floating-point rounding, and the optimum is
the local fit's (to ~1e-9 relative). The start is the optimum on a sample of the patterns
collected once, as a local fit on many patterns starts from a subsample's.

Driver memory: the sample and ``numPartitions`` partial results, not the patterns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ._arrow import worker_errors

#: patterns collected to the driver for the start values (a local fit on many patterns
#: starts from a subsample of 50,000 likewise)
SAMPLE_PATTERNS = 50_000

_PARTIAL = pa.schema(
    [("point", pa.int32()), ("ll", pa.float64()), ("grad", pa.list_(pa.float64()))]
)
_PARTIAL_DDL = "point int, ll double, grad array<double>"


def _partial(model: Any, thetas: list[list[float]]):
    """A ``mapInArrow`` function: per partition, one row (point, log-likelihood, gradient)
    for each log-parameter vector of ``thetas``."""
    from truenorth import _core

    native = model._native

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = [b for b in batches if b.num_rows]
        if not got:
            return
        frame = pl.from_arrow(pa.Table.from_batches(got))
        assert isinstance(frame, pl.DataFrame)
        x, second, t = model._fit_columns(frame)
        out = _core.ll_grad(native, thetas, x, second, t, frame["weights"])
        rows = [{"point": i, "ll": ll, "grad": g} for i, (ll, g) in enumerate(out)]
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
    model. Cost: one Spark job per log-likelihood evaluation of the optimiser (typically
    15-30 per fit; the finite-difference Hessians of the Newton steps and of the standard
    errors evaluate all their points in one job)."""
    from truenorth import _core
    from truenorth.clv import ModelInputError

    purchase = model.capabilities.process == "purchase"
    cached = pats.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        aggs = [F.count(F.lit(1)).alias("n"), F.sum("weights").alias("w")]
        if purchase:
            aggs += [F.max("frequency").alias("x_max"), F.max("T").alias("t_max")]
        stats = cached.agg(*aggs).first()
        assert stats is not None
        n_patterns, n_obs = int(stats["n"]), float(stats["w"] or 0.0)
        if n_obs < 2 or n_patterns < 2:
            raise ModelInputError(
                f"cannot fit {model.label} on a single customer: the "
                f"{len(model.param_names)} parameters describe a population"
            )
        if purchase and not stats["x_max"]:
            raise ModelInputError(
                "summary: column 'frequency' is 0 for every customer: with no repeat purchases "
                f"the purchase rate of {model.label} cannot be estimated"
            )
        sample = cached.sample(fraction=min(1.0, sample_patterns / n_patterns), seed=0)
        if purchase:
            # Pareto/NBD's boundary diagnosis reads the longest T from the sample
            sample = sample.unionByName(cached.orderBy(F.col("T").desc()).limit(1))
        local = pl.from_arrow(sample.toArrow())
        assert isinstance(local, pl.DataFrame)
        x, second, t = model._fit_columns(local)
        start_list = None
        if start is not None:
            probe = type(model)(time_unit=model.time_unit)
            probe._set_params(start)
            start_list = list(probe._params or ())

        def total(thetas: list[list[float]]) -> list[tuple[float, list[float]]]:
            with worker_errors():
                rows = cached.mapInArrow(_partial(model, thetas), _PARTIAL_DDL).collect()
            sums = [(0.0, [0.0] * len(th)) for th in thetas]
            for r in rows:  # in partition order: the same sum on every run
                ll, grad = sums[r["point"]]
                sums[r["point"]] = (
                    ll + r["ll"],
                    [g + gi for g, gi in zip(grad, r["grad"], strict=True)],
                )
            return sums

        res = _core.fit_external(
            model._native,
            total,
            x,
            second,
            t,
            local["weights"],
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
