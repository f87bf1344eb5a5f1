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

import polars as pl

from truenorth.errors import DataError

from .events import ROW, STEP, TS, UNIT, after

ATTRIBUTION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "touchpoint": pl.String,
    "first_touch": pl.Float64,
    "last_touch": pl.Float64,
    "linear": pl.Float64,
    "removal_effect": pl.Float64,
    "markov_share": pl.Float64,
    "markov": pl.Float64,
}

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"
MAX_STATES = 400  # pure-Python O(n³) inverse: ~2 s at 200 states, ~20 s at 400


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


def removal_effects(counts: Mapping[tuple[str, str], float]) -> tuple[float, dict[str, float]]:
    """``(P(conv), {channel: RE})`` of the chain given by transition counts ``(from, to) → n``.

    States other than ``START``, ``CONVERSION`` and ``NULL`` are channels.
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
            r[index[src]] += p
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
        effects[channel] = 1.0 - without / p_conv if p_conv > 0 else float("nan")
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
) -> pl.DataFrame:
    """Attribution table: per touchpoint/channel, conversions credited by first touch, last
    touch, linear and Markov (``markov`` = share × conversions), with ``removal_effect`` and
    ``markov_share``. The key column is named ``touchpoint`` whichever column was used.
    """
    touches, outcomes = paths(events, column, conversion)
    conversions = int(outcomes["converted"].sum()) if outcomes.height else 0
    counts_frame = transition_counts(touches, outcomes)
    counts = {
        (f, t): float(c)
        for f, t, c in counts_frame.select("from", "to", "count").iter_rows()  # edges, not rows
    }
    channels = sorted(touches["channel"].unique().to_list())
    effects: dict[str, float | None]
    if conversions > 0:
        effects = dict(removal_effects(counts)[1])
    else:
        effects = dict.fromkeys(channels)
    total_effect = sum(v for v in effects.values() if v is not None and v > 0)
    markov = (
        pl.DataFrame(
            {
                "channel": channels,
                "removal_effect": [effects[c] for c in channels],
            },
            schema={"channel": pl.String, "removal_effect": pl.Float64},
        )
        .with_columns(
            markov_share=pl.when(pl.lit(total_effect) > 0).then(
                pl.col("removal_effect").clip(lower_bound=0.0) / total_effect
            )
        )
        .with_columns(markov=pl.col("markov_share") * conversions)
    )
    return (
        markov.join(heuristics(touches, outcomes), on="channel", how="left")
        .with_columns(pl.col("first_touch", "last_touch", "linear").fill_null(0.0))
        .select(
            pl.col("channel").alias("touchpoint"),
            "first_touch",
            "last_touch",
            "linear",
            "removal_effect",
            "markov_share",
            "markov",
        )
        .sort("touchpoint")
    )
