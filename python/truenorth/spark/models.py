"""Fitting and scoring BTYD models on Spark customer summaries.

Fitting: the summaries are compressed in Spark to weighted patterns — one row per distinct
(frequency, recency, T), or (frequency, monetary_value) for the spend model, with the number
of customers as weight — which are collected and fitted on the driver by the same Rust
optimiser as a local fit. The core compresses a local summary to exactly these patterns
(sorted, so row order does not matter), so the parameters are those of the local fit. When
the patterns are too many for the driver, the same optimiser runs on the driver with each
log-likelihood evaluation summed over the partitions (``_distributed``).

Scoring: the fitted models travel to the tasks as their JSON documents
(:func:`truenorth.clv.load`), a few hundred bytes inside each task's closure, and every
partition is scored by the Rust kernels via ``mapInArrow``.
"""

from __future__ import annotations

import functools
from typing import Any

import polars as pl
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ._arrow import arrow_schema, per_batch
from .summary import summary_unit

#: default ceiling on the patterns brought to the driver (about 40 bytes each in Spark's
#: Arrow result, ~100 bytes in the optimiser's tables: 5M patterns ≈ 0.5 GB on the driver);
#: beyond it the fit is distributed
MAX_PATTERNS = 5_000_000

_PURCHASE_COLUMNS = ("frequency", "recency", "T")
_SPEND_COLUMNS = ("frequency", "monetary_value")
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}


def patterns(summaries: DataFrame, model: str = "bg_nbd") -> DataFrame:
    """Distinct pattern rows of ``summaries`` for ``model`` with a ``weights`` column (customers
    per pattern). For ``gamma_gamma``: repeat customers with positive mean spend only (the
    ``clv`` rule's spend-fit population)."""
    cols: tuple[str, ...]
    if _is_spend(model):
        kept = summaries.filter((F.col("frequency") > 0) & (F.col("monetary_value") > 0))
        cols = _SPEND_COLUMNS
    else:
        kept, cols = summaries, _PURCHASE_COLUMNS
    missing = [c for c in cols if c not in summaries.columns]
    if missing:
        raise ValueError(
            f"summaries: no column(s) {', '.join(missing)}; the table has {summaries.columns}"
        )
    return kept.groupBy(*cols).agg(F.count(F.lit(1)).cast("double").alias("weights"))


def _is_spend(model: str) -> bool:
    from truenorth import clv

    cls = clv.models_registry().get(model)
    if cls is None:
        raise ValueError(f"model {model!r}: expected one of {', '.join(clv.models_registry())}")
    return cls.capabilities.process == "spend"


def fit(
    summaries: DataFrame,
    model: str = "bg_nbd",
    *,
    time_unit: str | None = None,
    max_patterns: int = MAX_PATTERNS,
    start: dict[str, float] | None = None,
    max_iter: int = 500,
) -> Any:
    """A model of kind ``model`` fitted on a Spark summary; returns the fitted
    ``truenorth.clv`` model (a local object: score with :func:`score`).

    ``time_unit`` defaults to the unit :func:`truenorth.spark.summarize` recorded. Up to
    ``max_patterns`` distinct patterns are collected and fitted on the driver (one Spark job
    for the patterns); beyond that the fit is distributed: the patterns are packed once into
    Arrow blobs cached in Spark (one partition per core) and each log-likelihood evaluation
    of the driver's optimiser is one Spark job that sums the blobs' log-likelihood and
    gradient (10-20 jobs). Both paths give
    the parameters of a local fit.

    Example::

        bgnbd = truenorth.spark.fit(summaries, "bg_nbd")
        spend = truenorth.spark.fit(summaries, "gamma_gamma")
    """
    from truenorth import clv

    from ._distributed import fit_distributed

    unit = time_unit or summary_unit(summaries)
    pats = patterns(summaries, model)  # checks the model's name
    cls = clv.models_registry()[model]
    # one job: at most one pattern more than allowed reaches the driver
    local = pl.from_arrow(pats.limit(max_patterns + 1).toArrow())
    assert isinstance(local, pl.DataFrame)
    if local.height > max_patterns:
        del local
        return fit_distributed(pats, cls(time_unit=unit), start=start, max_iter=max_iter)
    return cls(time_unit=unit).fit(local, "weights", start=start, max_iter=max_iter)


@functools.lru_cache(maxsize=8)
def _loaded(doc: str) -> Any:
    """A model rebuilt from its JSON once per worker process."""
    from truenorth import clv

    return clv.load(doc)


def score(
    summaries: DataFrame,
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
) -> DataFrame:
    """The summaries with ``p_alive``, ``expected_purchases`` (over ``horizon``) and, with a
    spend model, ``expected_spend`` and ``clv`` — the columns of the ``clv`` rule, computed as
    it does, per partition. ``interval`` adds ``p_alive_lower``/``_upper`` (and
    ``clv_lower``/``_upper``) by ``method``: ``delta`` (the default, as locally) or ``normal``
    (``draws`` parameter draws seeded by ``seed``: the draws depend only on the model, so every
    partition uses the same ones). Bootstrap intervals need refits and are refused here.

    Example::

        scored = truenorth.spark.score(summaries, bgnbd, spend, horizon=12, interval=0.9)
    """
    from truenorth import clv
    from truenorth.clv.scoring import score_frame

    if method not in ("delta", "normal"):
        raise ValueError(f"method: expected delta or normal on Spark, not {method!r}")
    if model.time_unit is None:
        raise ValueError(
            "the purchase model has no time_unit: fit it with time_unit= (or on a summary "
            "made by truenorth.spark.summarize)"
        )
    if horizon_unit not in UNIT_DAYS:
        raise ValueError(f"horizon_unit: expected one of {', '.join(UNIT_DAYS)}")
    t_units = horizon * UNIT_DAYS[horizon_unit] / clv.time_unit_days(model.time_unit)
    doc = model.to_json()
    spend_doc = spend.to_json() if spend is not None else None
    band: dict[str, Any] | None = (
        {"interval": interval, "draws": draws, "seed": seed, "method": method}
        if interval is not None
        else None
    )
    fields = list(summaries.schema.fields)
    names = ["p_alive"] + (["p_alive_lower", "p_alive_upper"] if band else [])
    names.append("expected_purchases")
    if spend is not None:
        names += ["expected_spend", "clv"] + (["clv_lower", "clv_upper"] if band else [])
    taken = [n for n in names if n in summaries.columns]
    if taken:
        raise ValueError(f"summaries already have column(s) {', '.join(taken)}")
    schema = T.StructType(fields + [T.StructField(n, T.DoubleType()) for n in names])
    common: dict[str, Any] = {
        "horizon": int(horizon),
        "horizon_unit": horizon_unit,
        "discount_rate": discount_rate,
    }

    def work(summary: pl.DataFrame) -> pl.DataFrame:
        # the local batch scorer, so a partition's scores are the local run's by construction
        return score_frame(
            summary,
            _loaded(doc),
            _loaded(spend_doc) if spend_doc is not None else None,
            horizon_units=t_units,
            value=common,
            band=band,
        )

    return summaries.mapInArrow(per_batch(work, arrow_schema(schema)), schema)
