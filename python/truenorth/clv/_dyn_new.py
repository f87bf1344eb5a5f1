"""New-customer predictions of the time-varying-covariate Pareto/NBD: E[X(t)] and P(X(t) = n)
for a customer whose first purchase is at ``born``, over their first ``t`` periods, under a
given covariate path (the static models' ``expected_purchases_new`` and ``p_purchases``).

A new customer is a customer observed for no time: x = t_x = T = 0, so P(alive) = 1 and the
posterior is the prior. The conditional predictions of ``dynamic::predict`` and
``dynamic::pmf`` at that history are exactly the new-customer ones:

    E[X(t)] = r/α · ∫_0^t a(u) (β / (β + B(u)))^s du,
    P(X(t) = n) = NB(n; A(t)) (β/(β+B(t)))^s + ∫_0^t b(u) s/β (β/(β+B(u)))^(s+1) NB(n; A(u)) du,

with a(u) = exp(γ_trans'z_trans(born + u)), b(u) = exp(γ_life'z_life(born + u)), A, B their
integrals from ``born`` and NB(n; A) the negative binomial of the purchases of a customer
with λ ~ Gamma(r, α) over an integrated rate A. The path's periods are the fitted calendar's
(``born`` may be mid-period: the first piece is the rest of that period). A dict of constant
covariates gives the static-covariate model's new customer (α·exp(−z'γ_trans),
β·exp(−z'γ_life)), whatever ``born``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from ._checks import _horizons
from ._dyn_intervals import FitLike, Window, packed
from ._dynpath import Paths, coefficient_map, future
from ._input import ModelInputError

#: the new customer's id in the path table (named in messages about a missing period)
NEW = "new customer"


def _path_table(fit: FitLike, covariates: Any, born: Any, horizon: float) -> Any:
    """(the path as a covariate table keyed by ``NEW``, born as a datetime)."""
    cols = fit.columns
    names = list(dict.fromkeys(c.column for c in fit.spec.transaction + fit.spec.lifetime))
    if isinstance(covariates, dict):
        missing = [n for n in names if n not in covariates]
        if missing:
            raise ModelInputError(
                f"covariates: the new customer's {', '.join(map(repr, missing))} missing "
                f"(the model's covariates: {', '.join(names)})"
            )
        when = fit.calendar.calibration_end if born is None else _datetime(born)
        p = fit.calendar.period_us
        start = _us(fit, when)
        k0, k1 = start // p, max(start // p, -(-(start + round(horizon * p)) // p) - 1)
        ks = np.arange(k0, k1 + 1)
        origin = pl.lit(fit.calendar.origin, dtype=pl.Datetime("us"))
        frame = pl.DataFrame({"_k": ks}).select(
            pl.lit(NEW).alias(cols.customer),
            (origin + pl.duration(microseconds=pl.col("_k") * p)).alias(cols.period),
            *(pl.lit(covariates[n]).alias(n) for n in names),
        )
        return frame, when
    if not isinstance(covariates, pl.DataFrame):
        raise ModelInputError(
            "covariates: give the new customer's covariates as a dict {column: value} "
            f"(constant) or a DataFrame of their periods, got {type(covariates).__name__}"
        )
    if born is None:
        raise ModelInputError(
            "born: a new customer with a covariate path needs the time of their first "
            "purchase (born=date or datetime)"
        )
    frame = covariates
    if cols.customer in frame.columns:
        ids = frame[cols.customer].unique()
        if ids.len() > 1:
            raise ModelInputError(
                f"covariates: the path of one new customer expected, got {ids.len()} "
                f"values of {cols.customer!r}"
            )
        frame = frame.drop(cols.customer)
    frame = frame.with_columns(pl.lit(NEW).alias(cols.customer))
    return frame, _datetime(born)


def _datetime(born: Any) -> Any:
    try:
        s = pl.Series([born])
        if not (s.dtype == pl.Date or isinstance(s.dtype, pl.Datetime)):
            raise TypeError
        return s.cast(pl.Datetime("us"))[0]
    except (TypeError, pl.exceptions.PolarsError):
        raise ModelInputError(f"born must be a date or datetime, got {born!r}") from None


def _us(fit: FitLike, when: Any) -> int:
    return int(fit.calendar.us(pl.Series([when]))[0])


def window(fit: FitLike, covariates: Any, born: Any, horizon: float) -> Window:
    """The native inputs of a new customer's predictions over ``horizon`` periods."""
    frame, when = _path_table(fit, covariates, born, horizon)
    table = fit._table(frame)
    ti, li, _ = coefficient_map(fit.spec)
    none = np.zeros(0)
    paths = Paths(
        pl.Series(fit.columns.customer, [NEW]),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.array([_us(fit, when)]),
        np.zeros(2, dtype=np.int64),
        none,
        [none] * len(ti),
        [none] * len(li),
        [np.zeros(1)] * len(ti),
    )
    cal = dataclasses.replace(fit.calendar, calibration_end=when)
    f_off, f_dur, f_zt, f_zl = future(paths, table, fit.spec, fit.columns, cal, horizon)
    return packed(paths, f_off, f_dur, f_zt, f_zl)


def _each(
    fit: FitLike, t: float | Sequence[float], covariates: Any, born: Any, one: Any, name: str
) -> float | pl.Series:
    ts = _horizons(t)
    out = []
    for h in ts:
        v = float(one(window(fit, covariates, born, h))[0])
        if not math.isfinite(v):
            raise ModelInputError(
                "covariates: the new customer's covariate values are so large that "
                "exp(coefficients · covariates) overflows; check their scale"
            )
        out.append(v)
    return out[0] if isinstance(t, int | float) else pl.Series(name, out)


def expected_purchases_new(
    fit: FitLike, t: float | Sequence[float], covariates: Any, born: Any
) -> float | pl.Series:
    """E[X(t)] of a new customer (one value, or a Series for a sequence of ``t``)."""
    return _each(
        fit,
        t,
        covariates,
        born,
        lambda w: w.predict(fit._vector())[1],
        "expected_purchases",
    )


def p_purchases(
    fit: FitLike, n: Any, t: float | Sequence[float], covariates: Any, born: Any
) -> float | pl.Series:
    """P(X(t) = n) of a new customer (one value, or a Series for a sequence of ``t``)."""
    if isinstance(n, bool) or not (isinstance(n, int) and n >= 0):
        raise ModelInputError(f"n must be a non-negative integer, got {n!r}")
    return _each(fit, t, covariates, born, lambda w: w.pmf(fit._vector(), n), "p_purchases")
