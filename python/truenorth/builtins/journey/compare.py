"""Funnel comparison between two groups or periods: per-step two-proportion tests.

Each unit belongs to a group by a property (its first non-null value, as for breakdowns, see
:mod:`.views`): the ``baseline`` value and the ``current`` value; other units are left out.
For step k >= 2 the conversion from the previous step is ``p = reached_k / reached_(k-1)`` in
each group. The table gives the difference ``p_current − p_baseline`` with

* a two-sided z-test of equal proportions with the pooled proportion
  ``p̂ = (x_b + x_c) / (n_b + n_c)``, ``z = (p_c − p_b) / √(p̂(1 − p̂)(1/n_b + 1/n_c))``;
* a Wald interval for the difference at ``1 − alpha``:
  ``(p_c − p_b) ± z_(1−alpha/2) · √(p_b(1 − p_b)/n_b + p_c(1 − p_c)/n_c)``.

A step where either group has no unit at the previous step has no rate, no test and no interval
(nulls, never NaN); so has a test with zero pooled variance (both rates 0 or both 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import polars as pl

from . import weights as weights_mod
from .events import UNIT

COMPARISON_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "step_index": pl.Int32,
    "step": pl.String,
    "baseline_entered": pl.UInt32,
    "baseline_reached": pl.UInt32,
    "baseline_rate": pl.Float64,
    "current_entered": pl.UInt32,
    "current_reached": pl.UInt32,
    "current_rate": pl.Float64,
    "difference": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "z": pl.Float64,
    "p_value": pl.Float64,
}


def two_proportions(
    x_b: int, n_b: int, x_c: int, n_c: int, alpha: float = 0.05
) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    """``(difference, ci_low, ci_high, z, p_value)`` of ``x_c/n_c − x_b/n_b``.

    >>> d, lo, hi, z, p = two_proportions(50, 100, 30, 100)
    >>> round(d, 2), round(z, 3), round(p, 4)
    (-0.2, -2.887, 0.0039)
    """
    if n_b == 0 or n_c == 0:
        return None, None, None, None, None
    p_b, p_c = x_b / n_b, x_c / n_c
    diff = p_c - p_b
    q = NormalDist().inv_cdf(1 - alpha / 2)
    se = math.sqrt(p_b * (1 - p_b) / n_b + p_c * (1 - p_c) / n_c)
    pooled = (x_b + x_c) / (n_b + n_c)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_b + 1 / n_c))
    if se0 == 0:
        return diff, diff - q * se, diff + q * se, None, None
    z = diff / se0
    p = math.erfc(abs(z) / math.sqrt(2))
    return diff, diff - q * se, diff + q * se, z, p


def compare(
    reached: pl.DataFrame,
    values: pl.DataFrame,
    steps: Sequence[str],
    baseline: str,
    current: str,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """The comparison table (:data:`COMPARISON_SCHEMA`), one row per step from the second."""
    tagged = reached.join(values, on=UNIT)
    counts = {
        (v, k): n
        for v, k, n in tagged.filter(pl.col("value").is_in([baseline, current]))
        .group_by("value", "k")
        .agg(weights_mod.count(tagged))
        .iter_rows()
    }
    rows = []
    for k in range(1, len(steps)):
        nb, xb = counts.get((baseline, k - 1), 0), counts.get((baseline, k), 0)
        nc, xc = counts.get((current, k - 1), 0), counts.get((current, k), 0)
        diff, lo, hi, z, p = two_proportions(xb, nb, xc, nc, alpha)
        rows.append(
            (
                k + 1,
                steps[k],
                nb,
                xb,
                xb / nb if nb else None,
                nc,
                xc,
                xc / nc if nc else None,
                diff,
                lo,
                hi,
                z,
                p,
            )
        )
    return pl.DataFrame(rows, schema=COMPARISON_SCHEMA, orient="row")
