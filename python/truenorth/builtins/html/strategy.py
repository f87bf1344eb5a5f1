"""Report sections on strategy: the Business Model Canvas coverage and the maturity levels."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from . import svg
from .common import (
    _find_table,
    col,
    figure,
    numeric_col,
)
from .svg import fmt


def _canvas_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    name, df = _find_table(tables, "canvas", "canvas_coverage")  # type: ignore[misc]
    block = col(df, "block")
    if not block:
        return [svg.empty(f"{name}: no block column")]
    items = numeric_col(df, "items", "n_items", "count")
    gaps = numeric_col(df, "gaps", "issues", "findings", "unlinked")
    covered = numeric_col(df, "covered", "linked", "ok")
    share = numeric_col(df, "coverage", "coverage_share", "share")
    labels = [str(b) for b in df[block].to_list()]
    if (covered or items) and gaps:
        ok_vals = (
            df[covered].to_list()
            if covered
            else [
                (i or 0) - (g or 0)
                for i, g in zip(df[items].to_list(), df[gaps].to_list(), strict=True)  # type: ignore[index]
            ]
        )
        chart = svg.stacked_bar_chart(
            labels, {"consistent": ok_vals, "with gaps": df[gaps].to_list()},
            title="Canvas coverage per block", colours={"consistent": svg.PALETTE[2], "with gaps": svg.PALETTE[3]},
        )  # fmt: skip
        return [figure(chart)]
    if share:
        return [
            figure(
                svg.bar_chart(
                    labels, df[share].to_list(), title="Canvas coverage per block", domain=(0, 1)
                )
            )
        ]
    if items:
        return [figure(svg.bar_chart(labels, df[items].to_list(), title="Canvas items per block"))]
    return [svg.empty(f"{name}: no counts to chart")]


LEVEL_NAMES = {1: "ad-hoc", 2: "initiating", 3: "enabling", 4: "optimizing", 5: "leading"}


def _maturity_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    df = tables["maturity"]
    dim = col(df, "name", "dimension")
    level = numeric_col(df, "level", "score")
    if not (dim and level):
        return [svg.empty("maturity: no dimension/level columns")]
    d = df.filter(pl.col(dim).is_not_null())
    is_overall = pl.col(dim).cast(pl.String).str.to_lowercase() == "overall"
    overall_rows = d.filter(is_overall)
    d = d.filter(~is_overall)
    target = numeric_col(d, "target", "target_level", "next_level")
    chart = svg.radar_chart(
        [str(v) for v in d[dim].to_list()], d[level].to_list(), title="Customer-value maturity",
        max_value=5, min_value=0, target=d[target].to_list() if target else None, levels=[1, 2, 3, 4, 5],
    )  # fmt: skip
    cap = "Levels: 1 ad-hoc · 2 initiating · 3 enabling · 4 optimizing · 5 leading."
    if target:
        cap += f" Dashed: {target.replace('_', ' ')}."
    if overall_rows.height:
        overall = overall_rows[level][0]
    else:  # staged: the overall level is the lowest dimension's
        overall = d[level].min() if d.height else None
    if svg.finite(overall):
        name = LEVEL_NAMES.get(int(overall), "")
        floor = col(d, "floor")
        floors = (
            d.filter(pl.col(floor))[dim].to_list()
            if floor and d.schema[floor] == pl.Boolean
            else []
        )
        cap = (
            f"Overall level {fmt(overall)} ({name})"
            + (f"; floor: {', '.join(map(str, floors))}" if floors else "")
            + ". "
            + cap
        )
    return [figure(chart, cap)]
