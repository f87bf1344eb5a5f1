"""PostHog's unordered funnel: the steps may be completed in any order, starting from any.

Definition (PostHog's ``FunnelUnordered``): every event of a funnel step is a candidate
*anchor*. From an anchor, a step counts as completed when the unit has an event of it at or after
the anchor (the anchor's own step: the anchor itself; any other step: strictly after it in the
ordering rule) and, with a ``window``, at most ``window`` after the anchor. The anchor's depth is
the number of steps completed; with ``attempt: best`` (the default, PostHog's rule) the unit's
depth is the largest over its anchors — the earliest such anchor gives its times; with
``attempt: first`` only the unit's first funnel-step event anchors. Funnel row k ("k steps")
counts the units of depth >= k. Step k is reached at the k-th smallest of the completion times,
so the times from the entry (and between two rows) are those of PostHog's sorted
``conversion_times``.

One difference from PostHog: "after" follows truenorth's ordering rule (timestamp, then row
order), so of two events with the same timestamp the later row counts as after the earlier one;
PostHog compares timestamps only.

Computed without a loop over rows: per step, the key of its next event at or after each row is a
backward fill over the unit's events sorted by key.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from .events import UNIT
from .keys import us, within


def levels(ev: pl.DataFrame, n: int, window: timedelta | None, attempt: str) -> pl.DataFrame:
    """Level frame (``unit, a, k, t0, at, key``; see :mod:`.funnel`) of every anchor.

    ``ev``: ``unit, key, k`` of the funnel-step events (k = 0-based step index).
    """
    nexts = [
        pl.when(pl.col("k") == j).then(pl.col("key")).backward_fill().over(UNIT).alias(f"n{j}")
        for j in range(n)
    ]
    ordered = ev.lazy().sort(UNIT, "key").with_columns(nexts)
    if attempt == "first":
        ordered = ordered.filter(pl.col("key") == pl.col("key").min().over(UNIT))
    t0 = us(pl.col("key"))
    done = [
        pl.when(pl.col(f"n{j}").is_not_null() & within(window, us(pl.col(f"n{j}")), t0)).then(
            pl.col(f"n{j}")
        )
        for j in range(n)
    ]
    return (
        ordered.select(
            UNIT,
            pl.col("key").alias("a"),
            t0.alias("t0"),
            pl.concat_list(done).list.drop_nulls().list.sort().alias("times"),
        )
        .explode("times")
        .select(
            UNIT,
            "a",
            pl.int_range(pl.len(), dtype=pl.Int32).over(UNIT, "a").alias("k"),
            "t0",
            us(pl.col("times")).alias("at"),
            pl.col("times").alias("key"),
        )
        .collect()
    )
