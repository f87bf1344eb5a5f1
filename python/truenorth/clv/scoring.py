"""Scoring every customer of a summary — P(alive), expected purchases, expected spend and CLV,
the columns of the ``clv`` rule — batch by batch, so a summary larger than memory (a
LazyFrame of ``summarize(..., output=...)``) is scored into a Parquet file within bounded
memory. Every prediction depends only on its own row (and, for ``method="normal"`` intervals,
on parameter draws that depend only on the model and the seed), so batches give the scores
of the whole frame. ``truenorth.spark.score`` runs the same per-batch function on Spark.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, overload

import polars as pl

from ._assemble import write
from ._input import ModelInputError, as_frame, time_unit_days
from .value import DAYS_PER_MONTH, lifetime_value

__all__ = ["score", "score_frame"]

#: days per ``horizon_unit`` (a month is the mean Gregorian one, as ``lifetime_value``'s)
HORIZON_DAYS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH, "year": 365.25}
# rows scored at a time: ~20 MB of a summary, far below any budget, big enough that the
# per-batch cost is invisible
_BATCH_ROWS = 1 << 18


def score_frame(
    summary: pl.DataFrame,
    model: Any,
    spend: Any,
    *,
    horizon_units: float,
    value: dict[str, Any],
    band: dict[str, Any] | None,
) -> pl.DataFrame:
    """``summary`` with the score columns; ``horizon_units`` is the horizon in the model's
    time unit, ``value`` the keywords of :func:`lifetime_value`, ``band`` its interval ones."""
    cols: list[pl.Series] = (
        [model.p_alive(summary).alias("p_alive")]
        if band is None
        else model.p_alive(summary, **band).get_columns()
    )
    cols.append(model.expected_purchases(summary, horizon_units).alias("expected_purchases"))
    if spend is not None:
        # a negative mean (refunds) is predicted as a mean of 0, as in the clv rule
        spend_input = summary.select("frequency", pl.col("monetary_value").clip(lower_bound=0.0))
        es = spend.expected_spend(spend_input).alias("expected_spend")
        cols.append(es)
        clv = (
            lifetime_value(model, es, summary, **value)
            if band is None
            else lifetime_value(model, es, summary, **value, **band)
        )
        cols.extend(clv.get_columns() if isinstance(clv, pl.DataFrame) else [clv])
    return summary.with_columns(cols)


@overload
def score(
    summary: Any,
    model: Any,
    spend: Any = None,
    *,
    horizon: int = 12,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    interval: float | None = None,
    draws: int = 200,
    seed: int = 0,
    method: str = "delta",
    output: None = None,
) -> pl.DataFrame: ...
@overload
def score(
    summary: Any,
    model: Any,
    spend: Any = None,
    *,
    horizon: int = 12,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    interval: float | None = None,
    draws: int = 200,
    seed: int = 0,
    method: str = "delta",
    output: str | Path,
) -> pl.LazyFrame: ...
def score(
    summary: Any,
    model: Any,
    spend: Any = None,
    *,
    horizon: int = 12,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    interval: float | None = None,
    draws: int = 200,
    seed: int = 0,
    method: str = "delta",
    output: str | Path | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """The summary with ``p_alive``, ``expected_purchases`` (over ``horizon``) and, with a
    spend model, ``expected_spend`` and ``clv`` (``interval`` adds the ``_lower``/``_upper``
    bounds by ``method``, as :func:`lifetime_value`).

    ``summary`` may be a LazyFrame: it is scored batch by batch, and with ``output`` (a
    Parquet file) the scored batches go there and a LazyFrame scanning it is returned, so
    memory holds a batch, never the whole table. Without ``output`` the scores are returned
    in memory.

    Example:
        A summary written to disk, fitted from its patterns and scored to disk::

            summary = clv.summarize(pl.scan_parquet("tx/*.parquet"), customer="id",
                                    time="ts", amount="amount", output="summary.parquet")
            bgnbd = clv.BetaGeo().fit(clv.patterns(summary), weights="weights")
            spend = clv.GammaGamma().fit(clv.patterns(summary, "gamma_gamma"), "weights")
            scores = clv.score(summary, bgnbd, spend, horizon=12, output="scores.parquet")
    """
    if model.time_unit is None:
        raise ModelInputError(
            "the purchase model has no time_unit: fit it with time_unit= (or on a summary "
            "made by truenorth.clv.summarize)"
        )
    if horizon_unit not in HORIZON_DAYS:
        raise ModelInputError(
            f"horizon_unit: expected one of {', '.join(HORIZON_DAYS)}, got {horizon_unit!r}"
        )
    units = horizon * HORIZON_DAYS[horizon_unit] / time_unit_days(model.time_unit)
    value = {"horizon": int(horizon), "horizon_unit": horizon_unit, "discount_rate": discount_rate}
    band = (
        {"interval": interval, "draws": draws, "seed": seed, "method": method}
        if interval is not None
        else None
    )

    def run(frame: pl.DataFrame) -> pl.DataFrame:
        return score_frame(frame, model, spend, horizon_units=units, value=value, band=band)

    if output is None:
        return run(as_frame(summary))
    target = Path(output)
    if not isinstance(summary, pl.LazyFrame):
        write(run(as_frame(summary)), target)
        return pl.scan_parquet(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="truenorth-score-", dir=target.parent))
    try:
        files = []
        for i, batch in enumerate(summary.collect_batches(chunk_size=_BATCH_ROWS)):
            files.append(folder / f"batch-{i:06d}.ipc")
            run(batch).write_ipc(files[-1], compression="uncompressed")
        if not files:
            raise ModelInputError("summary is empty (no customers)")
        write(pl.scan_ipc(files), target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return pl.scan_parquet(target)
