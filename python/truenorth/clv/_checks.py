"""Small checks and helpers the model bases and ``value`` share: the agreed time unit of a fit,
horizons and opportunity counts, and the guard that turns a non-finite prediction into an error.

Kept apart from the model classes so that ``value`` and the models can use them without
importing a model base, and so that they sit below both bases in the import order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from ._input import ModelInputError, time_unit_days
from ._units import summary_unit


def _delta_only(label: str, method: str) -> None:
    if method != "delta":
        raise ModelInputError(
            f"{label} with covariates: prediction intervals use method='delta' only "
            f"(got method={method!r}); the coefficients' standard errors are in coefficients()"
        )


def _agreed_unit(summary: Any, given: str | None, label: str) -> str | None:
    """The model's time unit after fitting ``summary``: the one given, else the summary's."""
    if given is not None:
        time_unit_days(given)
    made = summary_unit(summary)
    if made is not None and given is not None and time_unit_days(made) != time_unit_days(given):
        raise ModelInputError(
            f"{label}: the summary measures recency and T in {made!r} (summarize(unit={made!r})) "
            f"but the model's time_unit is {given!r}; drop time_unit or pass {made!r}"
        )
    return given or made


def _finite(s: pl.Series, label: str) -> pl.Series:
    """Never hand back NaN silently: a non-finite prediction is an error naming the row
    (counted from 1, the project's convention)."""
    bad = ~s.is_finite()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise ArithmeticError(
            f"{label}: {s.name} is not finite at row {i + 1} ({s[i]}); the parameters or the "
            "horizon are outside the range where the series used converges"
        )
    return s


def _check_horizon(t: float) -> None:
    if not (isinstance(t, int | float) and math.isfinite(t) and t >= 0):
        raise ModelInputError(f"t must be a non-negative finite number of time units, got {t!r}")


def _horizons(t: float | Sequence[float]) -> list[float]:
    ts = [t] if isinstance(t, int | float) else list(t)
    for v in ts:
        _check_horizon(v)
    return [float(v) for v in ts]


def _check_opportunities(t: float, label: str) -> None:
    if isinstance(t, bool) or not (isinstance(t, int) or (isinstance(t, float) and t.is_integer())):
        raise ModelInputError(f"t must be a whole number of opportunities for {label}, got {t!r}")


def _largest(column: pl.Series) -> float:
    """The largest value of a Float64 model column (for messages)."""
    top = column.max()
    return float(top) if isinstance(top, (int, float)) else math.nan
