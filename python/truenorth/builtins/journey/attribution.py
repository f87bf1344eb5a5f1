"""Attribution of conversions to touchpoints or channels.

Paths. A unit's path is the sequence of its events that name a touchpoint (or channel), in the
ordering rule (timestamp, then row order). A unit *converts* at its first event of the conversion
step; its path then ends with that event (inclusive), otherwise it runs to the unit's last event.
Units whose path is empty (no touch at all) are left out of every model.

Heuristic models credit each conversion once: ``first_touch`` to the first touch of the path,
``last_touch`` to the last one, ``linear`` 1/m to each of its m touches (repeats included).

Markov removal effect (Anderl et al. 2014). The first-order chain has states ``start``, one per
channel, and the absorbing ``conversion`` and ``null``; transition probabilities are the observed
transition counts of all paths (``start → c1 → … → cm → conversion | null``) normalised per
state. ``P(conv)`` is the probability of absorption in ``conversion`` from ``start``.
Removing channel c redirects every transition into c to ``null``; the removal effect is
``RE(c) = 1 − P(conv | c removed) / P(conv)`` and the Markov share is ``RE(c) / Σ RE``.

Exact computation. With Q the transient-to-transient block and r the transient-to-conversion
column, the absorption probabilities are x = N r with N = (I − Q)⁻¹ (the fundamental matrix).
Removing c leaves the paths that never visit c, so by the strong Markov property
``P(conv | c removed) = x_start − (N[start, c] / N[c, c]) · x_c`` (``N[start, c] / N[c, c]`` is
the probability of ever visiting c). One matrix inverse (Gauss–Jordan elimination with partial
pivoting, pure Python, O(n³) for n channels) gives every removal effect exactly, up to floating
point; no simulation. The state space is the set of channels, small by nature (a few hundred at
most); the path and transition counting is done in Polars.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from truenorth.errors import DataError

from . import bootstrap as boot
from . import markov, pathdata
from .events import ROW, STEP, TS, UNIT, after

ATTRIBUTION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "touchpoint": pl.String,
    "first_touch": pl.Float64,
    "last_touch": pl.Float64,
    "linear": pl.Float64,
    "removal_effect": pl.Float64,
    "markov_share": pl.Float64,
    "markov": pl.Float64,
    "p_conversion": pl.Float64,
    "p_conversion_without": pl.Float64,
    "share_low": pl.Float64,
    "share_high": pl.Float64,
    "value_removal_effect": pl.Float64,
    "markov_value": pl.Float64,
    "order": pl.Int32,
}

ORDERS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "order": pl.Int32,
    "states": pl.UInt32,
    "auc": pl.Float64,
    "pauc": pl.Float64,
    "chosen": pl.Boolean,
}

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"
MAX_STATES = 400  # pure-Python O(n³) inverse: ~2 s at 200 states, ~20 s at 400
# Above this many channels (or at order > 1) attribution uses the sparse iterative solve of
# :mod:`.markov` instead of the dense inverse: both agree to ~1e-12, the sparse one scales.
DENSE_STATES = 60


def paths(
    events: pl.DataFrame | pl.LazyFrame, column: str, conversion: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(touches, outcomes) of every unit with at least one touch.

    ``touches``: ``unit, pos (0-based), channel``, in path order. ``outcomes``: ``unit,
    converted, length``.
    """
    lazy = events.lazy().select(UNIT, TS, ROW, STEP, pl.col(column).alias("channel"))
    conv = (
        lazy.filter(pl.col(STEP) == conversion)
        .group_by(UNIT)
        .agg(pl.col(TS, ROW).sort_by(TS, ROW).first())
        .select(UNIT, pl.col(TS).alias("c_ts"), pl.col(ROW).alias("c_row"))
    )
    touches = (
        lazy.filter(pl.col("channel").is_not_null())
        .join(conv, on=UNIT, how="left")
        .filter(pl.col("c_ts").is_null() | ~after(TS, ROW, "c_ts", "c_row"))
        .sort(UNIT, TS, ROW)
        .select(
            UNIT,
            pl.int_range(pl.len(), dtype=pl.UInt32).over(UNIT).alias("pos"),
            "channel",
            pl.col("c_ts").is_not_null().alias("converted"),
        )
        .collect()
    )
    outcomes = touches.group_by(UNIT).agg(pl.col("converted").first(), pl.len().alias("length"))
    return touches.drop("converted"), outcomes


def heuristics(touches: pl.DataFrame, outcomes: pl.DataFrame) -> pl.DataFrame:
    """``channel, first_touch, last_touch, linear``: conversions credited per model."""
    conv = touches.join(outcomes.filter(pl.col("converted")), on=UNIT)
    return conv.group_by("channel").agg(
        (pl.col("pos") == 0).sum().cast(pl.Float64).alias("first_touch"),
        (pl.col("pos") == pl.col("length") - 1).sum().cast(pl.Float64).alias("last_touch"),
        (1.0 / pl.col("length")).sum().alias("linear"),
    )


def transition_counts(touches: pl.DataFrame, outcomes: pl.DataFrame) -> pl.DataFrame:
    """``from, to, count`` of the Markov chain (with start, conversion and null states)."""
    steps = touches.sort(UNIT, "pos").select(
        pl.col("channel").shift(1).over(UNIT).fill_null(START).alias("from"),
        pl.col("channel").alias("to"),
    )
    last = (
        touches.join(outcomes, on=UNIT)
        .filter(pl.col("pos") == pl.col("length") - 1)
        .select(
            pl.col("channel").alias("from"),
            pl.when(pl.col("converted"))
            .then(pl.lit(CONVERSION))
            .otherwise(pl.lit(NULL))
            .alias("to"),
        )
    )
    return pl.concat([steps, last]).group_by("from", "to").agg(pl.len().alias("count"))


def _inverse(matrix: list[list[float]]) -> list[list[float]]:
    """Inverse by Gauss–Jordan elimination with partial pivoting (pure Python)."""
    n = len(matrix)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            raise ArithmeticError("singular matrix (a state that never reaches an end)")
        a[col], a[pivot] = a[pivot], a[col]
        p = a[col][col]
        row = a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col:
                f = a[r][col]
                if f != 0.0:
                    ar = a[r]
                    a[r] = [x - f * y for x, y in zip(ar, row, strict=True)]
    return [r[n:] for r in a]


def removal_effects(
    counts: Mapping[tuple[str, str], float], rewards: Mapping[str, float] | None = None
) -> tuple[float, dict[str, float]]:
    """``(P(conv), {channel: RE})`` of the chain given by transition counts ``(from, to) → n``.

    States other than ``START``, ``CONVERSION`` and ``NULL`` are channels. With ``rewards``
    (state → total conversion value of its ``→ conversion`` edge), the expected value replaces
    the probability: ``(E[value], {channel: value RE})``.
    """
    channels = sorted({s for pair in counts for s in pair} - {START, CONVERSION, NULL})
    if len(channels) > MAX_STATES:
        raise DataError(
            f"{len(channels)} touchpoints/channels is too many for exact Markov attribution "
            f"(at most {MAX_STATES}); group them (e.g. attribute by channel)"
        )
    states = [START, *channels]
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    out_total = [0.0] * n
    for (src, _), c in counts.items():
        if src in index:
            out_total[index[src]] += c
    q = [[0.0] * n for _ in range(n)]
    r = [0.0] * n
    for (src, dst), c in counts.items():
        if src not in index or out_total[index[src]] == 0:
            continue
        p = c / out_total[index[src]]
        if dst == CONVERSION:
            r[index[src]] += p if rewards is None else rewards.get(src, 0.0) / out_total[index[src]]
        elif dst in index:
            q[index[src]][index[dst]] += p
    i_minus_q = [[(1.0 if i == j else 0.0) - q[i][j] for j in range(n)] for i in range(n)]
    fundamental = _inverse(i_minus_q)
    x = [sum(fundamental[i][j] * r[j] for j in range(n)) for i in range(n)]
    p_conv = x[0]
    effects: dict[str, float] = {}
    for channel in channels:
        j = index[channel]
        without = x[0] - fundamental[0][j] / fundamental[j][j] * x[j]
        effects[channel] = 1.0 - without / p_conv if p_conv > 0 else 0.0
    return p_conv, effects


def absorption_probability(
    counts: Mapping[tuple[str, str], float], removed: str | None = None
) -> float:
    """P(conv) from start by solving (I − Q) x = r directly, optionally with ``removed``
    redirected to null. The slow, obvious formulation: used to cross-check :func:`removal_effects`.
    """
    kept = {k: v for k, v in counts.items()}
    if removed is not None:
        kept = {}
        for (src, dst), c in counts.items():
            if src == removed:
                continue
            key = (src, NULL if dst == removed else dst)
            kept[key] = kept.get(key, 0.0) + c
    channels = sorted({s for pair in kept for s in pair} - {START, CONVERSION, NULL})
    states = [START, *channels]
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    totals = [0.0] * n
    for (src, _), c in kept.items():
        totals[index[src]] += c
    a = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    b = [0.0] * n
    for (src, dst), c in kept.items():
        p = c / totals[index[src]]
        if dst == CONVERSION:
            b[index[src]] += p
        elif dst in index:
            a[index[src]][index[dst]] -= p
    inv = _inverse(a)
    return sum(inv[0][j] * b[j] for j in range(n))


def attribution(
    events: pl.DataFrame | pl.LazyFrame,
    column: str,
    conversion: str,
    *,
    weight: str | None = None,
    value: str | None = None,
    **options: Any,
) -> pl.DataFrame:
    """Attribution table of an event log (see :func:`attribution_of_paths` for the columns and
    ``options``). ``weight``: a column whose value on a unit's first touch is the number of
    journeys the unit stands for; ``value``: a column holding the conversion value on the
    conversion event.
    """
    touches, outcomes = paths(events, column, conversion)
    weights = None
    if weight is not None or value is not None:
        weights = unit_weights(events, conversion, weight, value)
    frame = pathdata.from_touches(touches, outcomes, weights)
    return attribution_of_paths(frame, **options)[0]


def unit_weights(
    events: pl.DataFrame | pl.LazyFrame, conversion: str, weight: str | None, value: str | None
) -> pl.DataFrame:
    """``unit, weight, value``: the weight on a unit's first event, the value on its first
    conversion event (1 and 0 when not given)."""
    lazy = events.lazy().sort(UNIT, TS, ROW)
    w = pl.col(weight).first() if weight else pl.lit(1.0)
    v = pl.col(value).filter(pl.col(STEP) == conversion).first() if value else pl.lit(0.0)
    return (
        lazy.group_by(UNIT)
        .agg(w.cast(pl.Float64).alias("weight"), v.cast(pl.Float64).alias("value"))
        .collect()
    )


def attribution_of_paths(
    frame: pl.DataFrame,
    *,
    order: int | str = 1,
    max_order: int = 10,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """(attribution table, order-choice table or None) of a paths frame (:mod:`.pathdata`).

    ``order``: the Markov order, or ``"auto"`` (:func:`.markov.choose_order`). ``bootstrap``
    resamples (0: none) give percentile intervals of the Markov shares at ``confidence``.
    """
    orders = None
    if order == "auto":
        orders = markov.choose_order(frame, max_order)
        k = int(orders.filter(pl.col("chosen"))["order"][0])
    else:
        k = int(order)
    table = _table(frame, k)
    if bootstrap:
        low, high = boot.share_intervals(
            frame, lambda f: _shares(f, k), bootstrap, confidence, seed
        )
        table = table.with_columns(
            pl.col("touchpoint").replace_strict(low, default=None).alias("share_low"),
            pl.col("touchpoint").replace_strict(high, default=None).alias("share_high"),
        )
    return table.select(list(ATTRIBUTION_SCHEMA)), orders


def _heuristics(frame: pl.DataFrame) -> pl.DataFrame:
    conv = frame.filter(pl.col("conversions") > 0).with_columns(m=pl.col("path").list.len())
    first = conv.group_by(pl.col("path").list.first().alias("channel")).agg(
        pl.col("conversions").sum().alias("first_touch")
    )
    last = conv.group_by(pl.col("path").list.last().alias("channel")).agg(
        pl.col("conversions").sum().alias("last_touch")
    )
    linear = (
        conv.explode("path")
        .group_by(pl.col("path").alias("channel"))
        .agg((pl.col("conversions") / pl.col("m")).sum().alias("linear"))
    )
    return first.join(last, on="channel", how="full", coalesce=True).join(
        linear, on="channel", how="full", coalesce=True
    )


def _markov(frame: pl.DataFrame, k: int, reward: str) -> tuple[float, dict[str, float]]:
    """(baseline, {channel: value with the channel removed}) of the order-k chain."""
    channels = sorted(frame["path"].explode().unique().to_list())
    edges = markov.chain(frame, k)
    if k == 1 and len(channels) <= DENSE_STATES:
        counts = {(f, t): w for f, t, w in edges.select("from", "to", "weight").iter_rows()}
        rewards = None
        if reward == "value":
            rewards = {
                f: v
                for f, v in edges.filter(pl.col("to") == CONVERSION)
                .select("from", "value")
                .iter_rows()
            }
        base, effects = removal_effects(counts, rewards)
        return base, {c: base * (1 - effects.get(c, 0.0)) for c in channels}
    return markov.solve_all(edges, channels, reward=reward)


def _shares(frame: pl.DataFrame, k: int) -> dict[str, float]:
    base, without = _markov(frame, k, "conversion")
    effects = {c: (1 - w / base if base > 0 else 0.0) for c, w in without.items()}
    total = sum(max(v, 0.0) for v in effects.values())
    return {c: (max(v, 0.0) / total if total > 0 else 0.0) for c, v in effects.items()}


def _table(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    channels = sorted(frame["path"].explode().unique().to_list())
    conversions = float(frame["conversions"].sum())
    total_value = float(frame["value"].sum())
    rows = {c: {"touchpoint": c} for c in channels}
    if conversions > 0:
        base, without = _markov(frame, k, "conversion")
        effects = {c: 1 - without[c] / base for c in channels}
        total = sum(max(v, 0.0) for v in effects.values())
        for c in channels:
            share = max(effects[c], 0.0) / total if total > 0 else None
            rows[c] |= {
                "removal_effect": effects[c],
                "markov_share": share,
                "markov": None if share is None else share * conversions,
                "p_conversion": base,
                "p_conversion_without": without[c],
            }
    if total_value > 0:
        vbase, vwithout = _markov(frame, k, "value")
        veffects = {c: 1 - vwithout[c] / vbase for c in channels}
        vtotal = sum(max(v, 0.0) for v in veffects.values())
        for c in channels:
            vshare = max(veffects[c], 0.0) / vtotal if vtotal > 0 else None
            rows[c] |= {
                "value_removal_effect": veffects[c],
                "markov_value": None if vshare is None else vshare * total_value,
            }
    base_table = pl.DataFrame(
        [
            {name: r.get(name) for name in ATTRIBUTION_SCHEMA if name != "first_touch"}
            for r in rows.values()
        ],
        schema={n: t for n, t in ATTRIBUTION_SCHEMA.items() if n != "first_touch"},
    ).drop("last_touch", "linear")
    return (
        base_table.join(
            _heuristics(frame).rename({"channel": "touchpoint"}), on="touchpoint", how="left"
        )
        .with_columns(
            pl.col("first_touch", "last_touch", "linear").fill_null(0.0),
            pl.lit(k, dtype=pl.Int32).alias("order"),
        )
        .select(list(ATTRIBUTION_SCHEMA))
        .sort("touchpoint")
    )
