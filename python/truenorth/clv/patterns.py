"""Weighted patterns: a customer summary compressed to its distinct rows of what a model reads.

A model's likelihood depends on a customer only through (frequency, recency, T) — or
(frequency, monetary_value) for a spend model — so customers with equal values are one
pattern weighted by their number. A fit compresses its summary to exactly these patterns
itself (sorted, so their order does not matter), which is why fitting the patterns with
``weights="weights"`` gives the parameters of fitting the summary. Computed over a LazyFrame
(a summary written by ``summarize(..., output=...)``) by Polars' streaming engine, they cost
memory in patterns — thousands to a few million — not in customers. ``truenorth.spark.
patterns`` does the same on Spark.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ._input import ModelInputError, as_frame
from ._units import summary_unit, tag_unit
from .registry import models_registry

__all__ = ["patterns"]

_PURCHASE = ("frequency", "recency", "T")
_SPEND = ("frequency", "monetary_value")


def patterns(summary: Any, model: str = "bg_nbd") -> pl.DataFrame:
    """The distinct rows of ``summary`` that ``model`` reads, with a ``weights`` column (the
    customers of each row).

    For a spend model (``gamma_gamma``) only repeat customers with positive mean spend are
    kept: the ones it is fitted on (the ``clv`` rule leaves the others out likewise). The
    result keeps the unit of a summary made by :func:`summarize`.

    Example:
        A summary too large for memory, fitted from its patterns::

            >>> import polars as pl
            >>> from truenorth import clv
            >>> summary = pl.LazyFrame({"frequency": [0, 2, 2, 1], "recency": [0.0, 30, 30, 9],
            ...                         "T": [40.0, 40, 40, 20], "monetary_value": [0, 5, 5, 7]})
            >>> pats = clv.patterns(summary).sort("frequency")
            >>> pats.rows()
            [(0, 0.0, 40.0, 1.0), (1, 9.0, 20.0, 1.0), (2, 30.0, 40.0, 2.0)]
            >>> clv.patterns(summary, "gamma_gamma").height
            2
            >>> model = clv.BetaGeo(time_unit="1d").fit(pats, weights="weights")
    """
    cls = models_registry().get(model)
    if cls is None:
        raise ModelInputError(f"model {model!r}: expected one of {', '.join(models_registry())}")
    lf = summary if isinstance(summary, pl.LazyFrame) else as_frame(summary).lazy()
    names = lf.collect_schema().names()
    spend = cls.capabilities.process == "spend"
    cols = _SPEND if spend else _PURCHASE
    missing = [c for c in cols if c not in names]
    if missing:
        raise ModelInputError(
            f"summary: column(s) {', '.join(missing)} missing (columns present: "
            f"{', '.join(names) or 'none'})"
        )
    if spend:
        lf = lf.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    out = (
        lf.group_by(*cols)
        .agg(pl.len().cast(pl.Float64).alias("weights"))
        .collect(engine="streaming")
    )
    unit = summary_unit(summary)
    if unit is not None:
        tag_unit(out, unit)
    return out
