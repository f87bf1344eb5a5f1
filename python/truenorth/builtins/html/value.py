"""Report sections on customer value: CLV, P(alive) and value concentration, segments."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import polars as pl

from . import svg
from .common import (
    col,
    figure,
    numeric_col,
)
from .svg import fmt


def _customers_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = tables["customers"]
    out = []
    clv = numeric_col(df, "clv", "predicted_clv", "customer_value", "value")
    if clv:
        out.append(
            figure(
                svg.histogram(
                    df[clv],
                    title="CLV distribution",
                    x_label=clv,
                    bins=30,
                    clip_quantile=0.95,
                ),
                f"{df.height:,} customers; mean {fmt(df[clv].mean())}, median {fmt(df[clv].median())}.",
            )
        )
        out.append(_value_concentration(df, clv))
    out += _interval_bands(df)
    p_alive = numeric_col(df, "p_alive", "prob_alive")
    freq = numeric_col(df, "frequency", "x")
    rec = numeric_col(df, "recency", "t_x")
    if p_alive and freq and rec:
        out.append(figure(*_p_alive_heatmap(df, p_alive, freq, rec)))
    elif p_alive:
        out.append(
            figure(
                svg.histogram(df[p_alive], title="P(alive)", x_label="P(alive)", clip_quantile=None)
            )
        )
    return out


def _interval_bands(df: pl.DataFrame) -> list[str]:
    """The prediction intervals of a clv rule's ``interval:`` option, as bands over customers
    ranked by the estimate."""
    out = []
    for mid, what in (("clv", "CLV"), ("p_alive", "P(alive)")):
        lower, upper = f"{mid}_lower", f"{mid}_upper"
        if not all(numeric_col(df, c) for c in (mid, lower, upper)):
            continue
        chart = svg.band_chart(
            df[mid].to_list(), df[lower].to_list(), df[upper].to_list(),
            title=f"{what} with its prediction interval", y_label=mid,
        )  # fmt: skip
        out.append(
            figure(
                chart,
                f"Customers ranked by {what} (line); shaded: from {lower} to {upper}, the "
                "interval over draws of the model's parameters.",
            )
        )
    return out


def _value_concentration(df: pl.DataFrame, clv: str) -> str:
    """Share of the total value held by each tenth of customers, most valuable first."""
    s = df[clv].cast(pl.Float64, strict=False)
    values = s.filter(s.is_finite() & (s >= 0)).sort(descending=True)
    n = values.len()
    total = float(values.sum()) if n else 0.0
    if n < 10 or total <= 0:
        return ""
    shares, labels = [], []
    for k in range(10):
        part = values.slice(k * n // 10, (k + 1) * n // 10 - k * n // 10)
        shares.append(float(part.sum()) / total)
        labels.append(f"top {10 * k}–{10 * (k + 1)} %")
    chart = svg.bar_chart(
        labels, shares, title=f"Share of total {clv} by customer decile", value_label=f"share of total {clv}",
        fmt_value=lambda v: svg.pct(v, 1), colours=[svg.PALETTE[2]] * 10, domain=(0, max(shares)),
    )  # fmt: skip
    return figure(
        chart,
        f"The most valuable tenth of customers holds {svg.pct(shares[0])} of the predicted value.",
    )


def _freq_bins(max_f: float) -> list[tuple[float, float, str]]:
    """Frequency bins: single values up to 4, then widening ranges (lower bound inclusive)."""
    edges = [0, 1, 2, 3, 4, 5, 7, 10, 15, 25, 50, 100]
    bins: list[tuple[float, float, str]] = []
    for a, b in itertools.pairwise(edges):
        if a > max_f:
            break
        bins.append((a, b, str(a) if b - a == 1 else f"{a}–{b - 1}"))
    if max_f >= edges[-1]:
        bins.append((edges[-1], math.inf, f"{edges[-1]}+"))
    elif bins and max_f >= bins[-1][1]:
        last = bins[-1][1]
        bins.append((last, math.inf, f"{last}+"))
    return bins


def _p_alive_heatmap(df: pl.DataFrame, p_alive: str, freq: str, rec: str) -> tuple[str, str]:
    d = df.select(
        pl.col(p_alive).cast(pl.Float64).alias("p"),
        pl.col(freq).cast(pl.Float64).alias("f"),
        pl.col(rec).cast(pl.Float64).alias("r"),
    ).filter(pl.all_horizontal(pl.all().is_not_null() & pl.all().is_finite()))
    if d.height == 0:
        return svg.empty("P(alive): no customers with frequency, recency and P(alive)"), ""
    max_f = float(d["f"].max())  # type: ignore[arg-type]
    max_r = float(d["r"].max())  # type: ignore[arg-type]
    fbins = _freq_bins(max_f)
    n_r = 8
    r_edges = svg.nice_ticks(0.0, max_r if max_r > 0 else 1.0, n_r)
    rows, values, counts = [], [], []
    fcase = pl.lit(None, dtype=pl.Int64)
    for i, (a, b, _) in reversed(list(enumerate(fbins))):
        fcase = pl.when((pl.col("f") >= a) & (pl.col("f") < b)).then(pl.lit(i)).otherwise(fcase)
    step = r_edges[1] - r_edges[0]
    agg = (
        d.with_columns(
            fb=fcase,
            rb=(pl.col("r") / step).floor().cast(pl.Int64).clip(0, len(r_edges) - 2),
        )
        .group_by("fb", "rb")
        .agg(pl.col("p").mean().alias("p"), pl.len().alias("n"))
    )
    lookup = {(fb, rb): (p, n) for fb, rb, p, n in agg.iter_rows()}
    cols = [f"{fmt(r_edges[j])}–{fmt(r_edges[j + 1])}" for j in range(len(r_edges) - 1)]
    for i in reversed(range(len(fbins))):  # highest frequency on top
        rows.append(fbins[i][2])
        values.append([lookup.get((i, j), (None, None))[0] for j in range(len(cols))])
        counts.append([lookup.get((i, j), (None, None))[1] for j in range(len(cols))])
    chart = svg.heatmap(
        rows, cols, values, counts=counts, title="Mean P(alive) by frequency and recency",
        x_label=f"recency ({rec})", y_label=f"frequency ({freq})",
    )  # fmt: skip
    return (
        chart,
        "Each cell: customers with that many repeat purchases whose last purchase came that late; grey: no customers.",
    )


def _segments_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    out = []
    seg_df = tables.get("segments")
    if seg_df is not None and seg_df.height:
        name = col(seg_df, "segment", "name", "tier", "clv_tier")
        size = numeric_col(seg_df, "customers", "n_customers", "n", "size", "count")
        if name and size:
            df = seg_df.sort(size, descending=True)
            total_clv = numeric_col(df, "clv_total", "total_clv", "clv_sum", "revenue")
            notes = None
            if total_clv:
                s = df[total_clv].fill_null(0).sum() or 0
                notes = [
                    f"{(v or 0) / s:.0%} of {'CLV' if 'clv' in total_clv else total_clv}"
                    if s
                    else ""
                    for v in df[total_clv].to_list()
                ]
            out.append(
                figure(
                    svg.bar_chart(
                        [str(v) for v in df[name].to_list()],
                        df[size].to_list(),
                        title="Segment sizes",
                        value_label="customers",
                        annotations=notes,
                    )
                )
            )
            mean_clv = numeric_col(df, "clv_mean", "mean_clv", "avg_clv")
            if mean_clv:
                out.append(
                    figure(
                        svg.bar_chart(
                            [str(v) for v in df[name].to_list()],
                            df[mean_clv].to_list(),
                            title="Mean CLV per segment",
                            value_label=mean_clv,
                            colours=[svg.PALETTE[2]] * df.height,
                        )
                    )
                )
            return out
    cust = tables.get("customers")
    if cust is not None:
        name = col(cust, "segment", "rfm_segment", "clv_tier", "tier")
        if name:
            counts = cust.group_by(name).len().sort("len", descending=True)
            out.append(
                figure(
                    svg.bar_chart(
                        [str(v) for v in counts[name].to_list()],
                        counts["len"].to_list(),
                        title=f"Customers per {name}",
                        value_label="customers",
                    )
                )
            )
    return out
