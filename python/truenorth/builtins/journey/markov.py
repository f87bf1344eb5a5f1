"""Markov chains of order k over aggregated paths, their absorption values and the choice of k.

Paths frame (:func:`.pathdata.aggregate`): ``path`` (list of channels), ``conversions``,
``nulls`` (journeys ending without conversion) and ``value`` (total conversion value), one row
per distinct path; weights may be any non-negative numbers.

States of order k (ChannelAttribution's construction): the windows of k consecutive channels of
a path, in order (a path shorter than k is one state, the whole path); consecutive equal states
are collapsed (a self-loop changes no absorption probability). A state is named by its channels
joined with " > ". Transition weights: every journey of a path adds its weight
(conversions + nulls) to ``start → s1 → … → sm``, then ``conversions`` to ``sm → (conversion)``
and ``nulls`` to ``sm → (null)``. Order 1 is the first-order chain of :mod:`.attribution`.

Removal of channel c sends every transition into a state that contains c to ``(null)``. The
absorption value of a state is ``x = R + Q x`` with Q the transient block and R the reward: the
conversion probability (R_s = P(s → conversion)) or the expected conversion value (R_s =
P(s → conversion) × mean value of those conversions). :func:`solve_all` computes it from the
start for the full chain and with each channel removed (its states made absorbing-null): Polars
names the states and builds the sparse edge list, and the native kernel
:func:`truenorth._core.absorption_values` solves every scenario in parallel — exactly, in one pass
in topological order, where the chain does not loop, and by Gauss–Seidel sweeps inside its loops
(strongly connected components) to a tolerance of 1e-12 relative to the largest value. It scales
to 10⁵ states and more, and stops with a clear error instead of running away when a loop does not
converge.

Order choice (ChannelAttribution's ``choose_order``, used by ``auto_markov_model``): for each
order k = 1 … max, every path's conversion is predicted by its last state's observed share of
conversions among the journeys ending there, ``conv(s) / (conv(s) + null(s))``; the ROC curve of
that prediction (journeys weighted by their counts, ``roc_npt`` = 100 thresholds spread evenly
from the smallest to the largest prediction, trapezoids) has an area AUC, penalised for the
number of possible states ``nnodes = C(n + k − 1, k)`` (n channels) over the ``np`` journeys:
``pauc = 1 − (1 − AUC)(np − 1)/(np − nnodes − 1)`` (0 when outside [0, 1] or when
np − nnodes − 1 <= 0). Orders k > 1 with nnodes >= np are not fitted; with fewer journeys than
channels, order 1 is still reported (pauc null) and used. The suggested order maximises pauc
(the smallest such k on a tie).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from truenorth import _core
from truenorth._core import CoreError
from truenorth.errors import DataError

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"
SEP = " > "
TOL = 1e-12
MAX_ITER = 20_000


def _same(col: str, by: int) -> pl.Expr:
    """The row ``by`` rows back (forward if negative) belongs to the same ``col`` group; rows
    are grouped contiguously, so a plain shift replaces a slower window function."""
    return (pl.col(col).shift(by) == pl.col(col)).fill_null(False)


def states(paths: pl.DataFrame, order: int) -> pl.DataFrame:
    """``pid, pos, state``: each path's order-``order`` states, consecutive repeats collapsed."""
    return (
        _state_rows(paths, order)
        .with_columns(pos=pl.col("pid").cum_count().over("pid").cast(pl.UInt32) - 1)
        .select("pid", "pos", "state")
        .collect()
    )


def _state_rows(paths: pl.DataFrame, order: int, carry: Sequence[str] = ()) -> pl.LazyFrame:
    """``pid, state, *carry`` in path order (rows of a path contiguous, no window functions)."""
    if order < 1:
        raise ValueError(f"Markov order must be at least 1, not {order}")
    long = (
        paths.lazy()
        .select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("pid"),
            "path",
            pl.col("path").list.len().alias("m"),
            pl.int_ranges(0, pl.col("path").list.len(), dtype=pl.UInt32).alias("pos"),
            *carry,
        )
        .explode("path", "pos")
    )
    if order == 1:
        named = long.with_columns(pl.col("path").alias("state"))
    else:
        window = [
            pl.when(_same("pid", order - 1 - j)).then(pl.col("path").shift(order - 1 - j))
            for j in range(order - 1)
        ]
        named = long.with_columns(
            pl.concat_str([*window, pl.col("path")], separator=SEP, ignore_nulls=True).alias(
                "state"
            )
        ).filter((pl.col("pos") >= order - 1) | (pl.col("pos") == pl.col("m") - 1))
    kept = named.filter(~(_same("pid", 1) & (pl.col("state") == pl.col("state").shift(1))))
    return kept.select("pid", "state", *carry)


def chain(paths: pl.DataFrame, order: int = 1) -> pl.DataFrame:
    """Transition weights ``from, to, weight, value`` of the order-``order`` chain (``value``:
    the conversion value carried by ``→ (conversion)`` edges, 0 elsewhere)."""
    tagged = _state_rows(paths, order, ("conversions", "nulls", "value")).with_columns(
        n=pl.col("conversions") + pl.col("nulls")
    )
    moves = tagged.select(
        pl.when(_same("pid", 1)).then(pl.col("state").shift(1)).otherwise(pl.lit(START))
        .alias("from"),
        pl.col("state").alias("to"),
        pl.col("n").alias("weight"),
        pl.lit(0.0).alias("value"),
    )  # fmt: skip
    last = tagged.filter(~_same("pid", -1))
    ends = pl.concat(
        [
            last.select(
                pl.col("state").alias("from"),
                pl.lit(CONVERSION).alias("to"),
                pl.col("conversions").alias("weight"),
                "value",
            ),
            last.select(
                pl.col("state").alias("from"),
                pl.lit(NULL).alias("to"),
                pl.col("nulls").alias("weight"),
                pl.lit(0.0).alias("value"),
            ),
        ]
    )
    return (
        pl.concat([moves, ends])
        .filter(pl.col("weight") > 0)
        .group_by("from", "to")
        .agg(pl.col("weight").sum(), pl.col("value").sum())
        .sort("from", "to")
        .collect()
    )


def solve_all(
    edges: pl.DataFrame, channels: Sequence[str], *, reward: str = "conversion"
) -> tuple[float, dict[str, float]]:
    """``(value from start, {channel: value from start with the channel removed})``.

    ``edges`` from :func:`chain`; ``reward``: ``conversion`` (probabilities) or ``value``.
    """
    transient = edges.filter(~pl.col("from").is_in([CONVERSION, NULL]))
    names = pl.concat([transient["from"], transient["to"]]).unique().sort()
    names = names.filter(~names.is_in([CONVERSION, NULL]))
    index = pl.DataFrame(
        {"state": names, "i": pl.int_range(names.len(), dtype=pl.UInt32, eager=True)}
    )
    n = names.len()
    totals = transient.group_by("from").agg(pl.col("weight").sum().alias("total"))
    probs = transient.join(totals, on="from").with_columns(p=pl.col("weight") / pl.col("total"))
    if reward == "value":
        gain = pl.when(pl.col("to") == CONVERSION).then(pl.col("value") / pl.col("total"))
    else:
        gain = pl.when(pl.col("to") == CONVERSION).then(pl.col("p"))
    r_frame = (
        probs.with_columns(g=gain.otherwise(0.0))
        .group_by("from")
        .agg(pl.col("g").sum())
        .join(index, left_on="from", right_on="state")
    )
    r = pl.Series("r", [0.0] * n).scatter(r_frame["i"], r_frame["g"])
    q = (
        probs.filter(~pl.col("to").is_in([CONVERSION, NULL]))
        .join(index.rename({"i": "src"}), left_on="from", right_on="state")
        .join(index.rename({"i": "dst"}), left_on="to", right_on="state")
        .select("src", "dst", "p")
    )
    start = index.filter(pl.col("state") == START)["i"]
    if start.len() == 0:
        return 0.0, dict.fromkeys(channels, 0.0)
    # scenario k (channel k removed) kills every state that names channel k
    dead = (
        index.select("i", pl.col("state").str.split(SEP).alias("channel"))
        .explode("channel")
        .join(
            pl.DataFrame(
                {
                    "channel": pl.Series(list(channels), dtype=pl.String),
                    "k": pl.int_range(len(channels), dtype=pl.UInt32, eager=True),
                }
            ),
            on="channel",
        )
        .unique(["k", "i"])
    )
    try:
        values = _core.absorption_values(
            q["src"].rechunk(),
            q["dst"].rechunk(),
            q["p"].cast(pl.Float64).rechunk(),
            r.cast(pl.Float64).rechunk(),
            start=int(start[0]),
            dead_scenario=dead["k"].rechunk(),
            dead_state=dead["i"].rechunk(),
            scenarios=len(channels),
            tol=TOL,
            max_sweeps=MAX_ITER,
        )
    except CoreError as e:
        raise DataError(
            f"Markov attribution ({n} states): {e}; the paths loop between channels too much "
            "— lower the order or group channels"
        ) from None
    return values[0], dict(zip(channels, values[1:], strict=True))


def choose_order(paths: pl.DataFrame, max_order: int = 10, roc_npt: int = 100) -> pl.DataFrame:
    """``order, states, auc, pauc, chosen`` per order fitted (see the module docstring)."""
    n_channels = paths.select(pl.col("path").explode().n_unique()).item()
    n_paths = float(paths.select((pl.col("conversions") + pl.col("nulls")).sum()).item())
    rows: list[tuple[int, int, float, float | None]] = []
    for k in range(1, max_order + 1):
        nnodes = math.comb(n_channels + k - 1, k)
        if nnodes >= n_paths and k > 1:
            break
        # journeys ending in the same state share its prediction: score per last state
        scored = (
            _state_rows(paths, k, ("conversions", "nulls"))
            .filter(~_same("pid", -1))
            .group_by("state")
            .agg(pl.col("conversions", "nulls").sum())
            .with_columns(
                pred=(pl.col("conversions") / (pl.col("conversions") + pl.col("nulls"))).fill_nan(
                    0.0
                )
            )
            .collect()
        )
        auc = _roc_auc(scored, roc_npt)
        room = n_paths - nnodes - 1
        pauc: float | None = 1 - (1 - auc) * ((n_paths - 1) / room) if room > 0 else 0.0
        if nnodes >= n_paths:
            pauc = None  # order 1 with too few journeys: kept as the fallback, not scored
        elif pauc is not None and not 0 <= pauc <= 1:
            pauc = 0.0
        n_states = _state_rows(paths, k).select(pl.col("state").n_unique()).collect().item()
        rows.append((k, n_states, auc, pauc))
    best = max(rows, key=lambda r: (r[3] or 0.0, -r[0]))[0]
    return pl.DataFrame(
        [(*r, r[0] == best) for r in rows],
        schema={
            "order": pl.Int32,
            "states": pl.UInt32,
            "auc": pl.Float64,
            "pauc": pl.Float64,
            "chosen": pl.Boolean,
        },
        orient="row",
    )


def _roc_auc(scored: pl.DataFrame, npt: int) -> float:
    """ChannelAttribution's ROC area: ``npt`` thresholds from the largest to the smallest
    prediction, a journey predicted to convert when its prediction >= the threshold."""
    lo, hi = scored["pred"].min(), scored["pred"].max()
    assert isinstance(lo, float) and isinstance(hi, float)
    pos = float(scored["conversions"].sum())
    neg = float(scored["nulls"].sum())
    auc = tpr_old = fpr_old = 0.0
    for k in range(npt - 1, -1, -1):
        th = lo + k * (hi - lo) / (npt - 1)
        above = scored.filter(pl.col("pred") >= th)
        tp, fp = float(above["conversions"].sum()), float(above["nulls"].sum())
        tpr = tp / pos if pos else 0.0
        fpr = fp / neg if neg else 0.0
        auc += (fpr - fpr_old) * tpr_old + (fpr - fpr_old) * (tpr - tpr_old) / 2
        tpr_old, fpr_old = tpr, fpr
    return auc + (1 - fpr_old) * tpr_old + (1 - fpr_old) * (1 - tpr_old) / 2
