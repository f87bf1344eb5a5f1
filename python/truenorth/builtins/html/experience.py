"""Report sections on customer experience: Kano, the journey funnel, attribution and
touchpoint satisfaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from . import svg
from .common import (
    _find_table,
    _finding_subjects,
    col,
    figure,
    floats,
    numeric_col,
)
from .journey_views import journey_views

KANO_COLOURS = {
    "attractive": "#4a9a5b", "A": "#4a9a5b",
    "one_dimensional": "#3b6ea8", "O": "#3b6ea8",
    "must_be": "#c4473d", "M": "#c4473d",
    "indifferent": "#9a9a9a", "I": "#9a9a9a",
    "reverse": "#8063a8", "R": "#8063a8",
    "questionable": "#8c6d4f", "Q": "#8c6d4f",
}  # fmt: skip


KANO_QUADRANTS = ("attractive", "one-dimensional", "indifferent", "must-be")


def _kano_points(
    df: pl.DataFrame, with_segment: bool = True
) -> list[tuple[str, Any, Any, Any]] | None:
    feature = col(df, "feature", "name")
    better = numeric_col(df, "better", "better_coefficient")
    worse = numeric_col(df, "worse", "worse_coefficient")
    if not (feature and better and worse):
        return None
    group = col(df, "category_name", "category")
    seg = col(df, "segment") if with_segment else None
    points = []
    for row in df.iter_rows(named=True):
        label = str(row[feature]) + (f" ({row[seg]})" if seg and row[seg] is not None else "")
        w = row[worse]
        points.append(
            (label, None if w is None else abs(w), row[better], row[group] if group else "feature")
        )
    return points


def _kano_scatter(points, title: str, trails=None) -> str:
    return svg.scatter_quadrants(
        points, title=title, x_label="|worse| (dissatisfaction if absent)",
        y_label="better (satisfaction if present)", quadrant_names=KANO_QUADRANTS,
        colours=KANO_COLOURS, trails=trails,
    )  # fmt: skip


def _kano_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    points = _kano_points(tables["kano"])
    if points is None:
        return [svg.empty("kano: no feature/better/worse columns to plot")]
    out = [
        figure(
            _kano_scatter(points, "Kano: better vs |worse|"),
            "Berger et al. coefficients; quadrant lines at 0.5.",
        )
    ]
    waves = tables.get("kano_waves")
    if (
        waves is not None
        and {"wave", "feature"} <= set(waves.columns)
        and waves["wave"].n_unique() >= 2
    ):
        order = waves["wave"].unique().sort().to_list()
        last = waves.filter(pl.col("wave") == order[-1])
        before = waves.filter(pl.col("wave") == order[-2])
        now = _kano_points(last, with_segment=False)
        then = _kano_points(before, with_segment=False)
        if now and then:
            trails = {lab: (x, y) for lab, x, y, _ in then}
            cat = col(waves, "category")
            changed = []
            if cat:
                old = dict(before.select("feature", cat).iter_rows())
                changed = [
                    f"{f}: {old.get(f)} → {c}"
                    for f, c in last.select("feature", cat).iter_rows()
                    if old.get(f) not in (None, c)
                ]
            cap = f"Wave {order[-2]} (hollow) → wave {order[-1]} (filled)." + (
                " Changed category: " + "; ".join(changed) + "." if changed else ""
            )
            out.append(
                figure(
                    _kano_scatter(now, f"Kano drift: wave {order[-2]} → {order[-1]}", trails), cap
                )
            )
    segs = tables.get("kano_segments")
    if segs is not None and "segment" in segs.columns:
        for seg in segs["segment"].drop_nulls().unique().sort().to_list():
            pts = _kano_points(segs.filter(pl.col("segment") == seg), with_segment=False)
            if pts:
                out.append(figure(_kano_scatter(pts, f"Kano: segment {seg}")))
    return out


def _funnel_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    name, df = _find_table(tables, "funnel", "journey_funnel")  # type: ignore[misc]
    step = col(df, "step", "stage", "name", "event")
    count = numeric_col(df, "customers", "count", "users", "entered", "n", "reached")
    if not (step and count):
        return [svg.empty(f"{name}: no step/count columns")]
    out = []
    group = col(df, "funnel", "rule_id")
    order = numeric_col(df, "step_index", "position", "index", "order", "step_no")
    groups = df[group].unique(maintain_order=True).to_list() if group else [None]
    for g in groups:
        part = df.filter(pl.col(group) == g) if group else df
        if order:
            part = part.sort(order)
        seg = col(part, "segment")
        if seg and part[seg].null_count() > 0:
            part = part.filter(pl.col(seg).is_null())
        title = "Funnel" + (f": {g}" if g is not None and len(groups) > 1 else "")
        out.append(
            figure(
                svg.funnel_chart(
                    [str(s) for s in part[step].to_list()], part[count].to_list(), title=title
                )
            )
        )
    return out + journey_views(tables)


ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "markov")


def _attribution_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = tables["attribution"]
    tp = col(df, "touchpoint", "channel", "name")
    if not tp:
        return [svg.empty("attribution: no touchpoint column")]
    model = col(df, "model", "method")
    share = numeric_col(df, "share", "credit", "value", "conversions")
    if model and share:  # long: one row per (touchpoint, model)
        models = [str(m) for m in df[model].unique(maintain_order=True).to_list()]
        touch = [str(t) for t in df[tp].unique(maintain_order=True).to_list()]
        lookup = {(str(a), str(b)): v for a, b, v in df.select(tp, model, share).iter_rows()}
        series = {m: [lookup.get((t, m)) for t in touch] for m in models}
    else:
        # Wide: one column per model (conversions credited, or shares); normalise each to
        # shares so first touch, last touch, linear and Markov are comparable.
        touch = [str(t) for t in df[tp].to_list()]
        series = {}
        for m in ATTRIBUTION_MODELS:
            c = numeric_col(df, m, f"{m}_share", f"{m}_conversions")
            if c is None:
                continue
            vals = floats(df[c])
            total = sum(v for v in vals if v is not None)
            series[m.replace("_", " ")] = [
                None if v is None or not total else v / total for v in vals
            ]
        if not series:
            return [svg.empty("attribution: no model columns")]
    chart = svg.grouped_bar_chart(
        touch, series, title="Attribution of conversions by touchpoint",
        value_label="share of conversions",
    )  # fmt: skip
    return [figure(chart)]


def _touchpoints_section(tables: Mapping[str, pl.DataFrame], result: Any) -> list[str]:
    _name, df = _find_table(tables, "touchpoints", "touchpoint_satisfaction")  # type: ignore[misc]
    tp = col(df, "touchpoint", "name")
    sat = numeric_col(df, "satisfaction", "mean_satisfaction", "satisfaction_mean", "score")
    if not (tp and sat):
        return []
    d = df.filter(pl.col(sat).is_not_null()).sort(sat)
    if d.height == 0:
        return []
    poor = col(d, "poor", "flagged", "below_threshold")
    if poor:
        flags = [bool(v) for v in d[poor].to_list()]
    else:  # touchpoints that a journey rule flagged
        flagged = _finding_subjects(result, kind="journey")
        flags = [str(v) in flagged for v in d[tp].to_list()]
    colours = [svg.PALETTE[3] if f else svg.PALETTE[0] for f in flags]
    chart = svg.bar_chart(
        [str(v) for v in d[tp].to_list()], d[sat].to_list(), title="Touchpoint satisfaction",
        value_label=sat, colours=colours, domain=(0, 5),
    )  # fmt: skip
    return [figure(chart, "Red: flagged by a rule (poor satisfaction).")]
