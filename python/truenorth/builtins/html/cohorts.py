"""Cohort retention heatmaps for the HTML report: acquisition cohort × periods since.

One heatmap per cohort table (``cohort_retention`` or ``<table>_cohort_retention``, written by
the kpi rule's ``cohort_retention`` metric), for all customers (the rows without a segment);
each cell is the share of the cohort active that many periods on, with the cohort size in its
tooltip. The triangle's empty corner (ages not yet reached) is left blank, not drawn as zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from . import svg
from .common import figure

COHORT_COLUMNS = {"cohort", "age", "customers", "retention"}


def cohort_tables(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    return [
        n
        for n, df in tables.items()
        if n.endswith("cohort_retention") and COHORT_COLUMNS <= set(df.columns)
    ]


def _label(value: object) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, dt.date) else str(value)


def cohort_heatmaps(tables: Mapping[str, pl.DataFrame], max_cohorts: int = 36) -> list[str]:
    out = []
    for name in cohort_tables(tables):
        df = tables[name]
        if "segment" in df.columns and df["segment"].null_count():
            df = df.filter(pl.col("segment").is_null())
        elif "segment" in df.columns and df.height:  # segmented only: the first segment
            df = df.filter(pl.col("segment") == df["segment"].sort()[0])
        if df.height == 0:
            continue
        cohorts = df["cohort"].unique().sort().to_list()[-max_cohorts:]
        ages = sorted(df["age"].unique().to_list())
        cells = {
            (c, a): (r, n)
            for c, a, r, n in df.select("cohort", "age", "retention", "customers").iter_rows()
        }
        values = [[cells.get((c, a), (None, None))[0] for a in ages] for c in cohorts]
        counts = [[cells.get((c, a), (None, None))[1] for a in ages] for c in cohorts]
        chart = svg.heatmap(
            [_label(c) for c in cohorts],
            [str(a) for a in ages],
            values,
            counts=counts,
            title=f"{name}: share of each cohort still active",
            x_label="periods since acquisition",
            y_label="cohort",
            width=900,
            cell_height=22,
        )
        out.append(
            figure(
                chart,
                "Row: acquisition cohort; column: periods since acquisition; colour: share of "
                "the cohort retained (tooltip: the cohort's size). Blank: not yet observed.",
                wide=True,
            )
        )
    return out
