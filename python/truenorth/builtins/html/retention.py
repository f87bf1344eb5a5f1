"""The retention section: actual (Kaplan-Meier) vs projected (sBG/BdW) survival per cohort.

Drawn for every table with the columns of the ``retention`` rule's survival table
(``cohort, period, actual_survival, fitted_survival``), whatever the rule named it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from .common import figure
from .drawing import (
    PALETTE,
    LinearScale,
    _line,
    _svg,
    _text,
    _x_axis,
    _y_axis,
    empty,
    esc,
    finite,
    nice_ticks,
    num,
)

COLUMNS = ("cohort", "period", "actual_survival", "fitted_survival")
MAX_COHORTS = 8


def retention_tables(tables: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The survival tables of ``retention`` rules in a result, by name."""
    return {k: v for k, v in tables.items() if all(c in v.columns for c in COLUMNS)}


def _pick(df: pl.DataFrame) -> list[str]:
    """Up to MAX_COHORTS cohorts with a projection: evenly spread over the cohort order (so the
    oldest and the newest fitted ones are both shown)."""
    fitted = (
        df.filter(pl.col("fitted_survival").is_not_null())
        .select(pl.col("cohort").unique(maintain_order=True))
        .to_series()
        .to_list()
    )
    if len(fitted) <= MAX_COHORTS:
        return fitted
    step = (len(fitted) - 1) / (MAX_COHORTS - 1)
    return [fitted[round(i * step)] for i in range(MAX_COHORTS)]


def survival_chart(df: pl.DataFrame, title: str, width: int = 760, height: int = 340) -> str:
    """Fitted survival as lines, actual survival as dots, one colour per cohort."""
    cohorts = _pick(df)
    if not cohorts:
        return empty(f"{title}: no cohort could be fitted")
    rows = df.filter(pl.col("cohort").is_in(cohorts))
    t_max = int(rows["period"].max())  # type: ignore[arg-type]
    left, right, top, bottom = 56, width - 150, 30, height - 46
    x = LinearScale(0, max(t_max, 1), left, right)
    y = LinearScale(0.0, 1.0, bottom, top)
    ticks = nice_ticks(0.0, 1.0)
    xt = [float(t) for t in nice_ticks(0, max(t_max, 1)) if t <= t_max]
    body = [_text(8, 16, title, font_weight="600")]
    body += _y_axis(y, ticks, left, "share of cohort active", right)
    body += _x_axis(x, xt, bottom, "renewals since joining")
    for i, name in enumerate(cohorts):
        colour = PALETTE[i % len(PALETTE)]
        part = rows.filter(pl.col("cohort") == name).sort("period")
        fit = [
            (t, v)
            for t, v in zip(part["period"], part["fitted_survival"], strict=True)
            if finite(v)
        ]
        if len(fit) > 1:
            coords = " ".join(f"{num(x(t))},{num(y(v))}" for t, v in fit)
            body.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.8">'
                f"<title>cohort {esc(name)}: projected</title></polyline>"
            )
        for t, v in zip(part["period"], part["actual_survival"], strict=True):
            if finite(v):
                body.append(
                    f'<circle cx="{num(x(t))}" cy="{num(y(v))}" r="2.6" fill="{colour}">'
                    f"<title>cohort {esc(name)}, renewal {t}: {v:.1%} active</title></circle>"
                )
        ly = top + 14 * i + 6
        body.append(_line(right + 12, ly, right + 30, ly, colour, stroke_width="2"))
        body.append(_text(right + 34, ly + 4, name, font_size=11))
    body.append(_text(right + 12, top + 14 * len(cohorts) + 16, "dots: actual", font_size=10))
    body.append(_text(right + 12, top + 14 * len(cohorts) + 30, "lines: projected", font_size=10))
    return _svg(width, height, body, title)


def retention_section(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    figs = []
    for name, df in retention_tables(tables).items():
        shown = len(_pick(df))
        total = df["cohort"].n_unique()
        note = f" ({shown} of {total} cohorts shown)" if shown < total else ""
        figs.append(
            figure(
                survival_chart(df, f"Survival by cohort: actual vs projected ({name})"),
                f"Kaplan-Meier survival while observed (dots) and the fitted model's projection "
                f"(lines){note}.",
                wide=True,
            )
        )
    return figs
