"""Customer covariate paths for the time-varying-covariate Pareto/NBD: from transactions and a
per-customer-per-period covariate table to the columns the Rust kernels read.

Time is counted in periods (``period_days`` days each) from ``origin``, the start of the
earliest period in the covariate table; period k covers ``[origin + k·period, origin +
(k+1)·period)`` (start inclusive, end exclusive), so a purchase on a period's first day is in
that period. Whole-microsecond arithmetic decides which period a timestamp is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from ._input import ModelInputError, as_frame
from .covariates import CovariateSpec

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Calendar:
    """Where periods start, how long they are, and where the calibration window ends."""

    origin: datetime
    period_days: float
    calibration_end: datetime

    @property
    def period_us(self) -> int:
        return round(self.period_days * _US_PER_DAY)

    def us(self, s: pl.Series) -> np.ndarray:
        """Microseconds since the origin (int64)."""
        origin = pl.lit(self.origin, dtype=pl.Datetime("us"))
        us = pl.select((s.cast(pl.Datetime("us")) - origin).dt.total_microseconds()).to_series()
        return us.to_numpy().astype(np.int64)

    def end_us(self) -> int:
        return int(self.us(pl.Series([self.calibration_end]))[0])


@dataclass(frozen=True)
class Columns:
    customer: str = "customer"
    date: str = "date"
    period: str = "period"


@dataclass
class Paths:
    """Per customer (sorted by id): x, t_x, T in periods since the first purchase, the
    calibration pieces and the purchase-time covariate sums; per piece: length and design."""

    customers: pl.Series
    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    end_us: np.ndarray
    offsets: np.ndarray
    dur: np.ndarray
    zt: list[np.ndarray]
    zl: list[np.ndarray]
    trans_sum: list[np.ndarray]


def _time_column(frame: pl.DataFrame, name: str, what: str) -> pl.Series:
    if name not in frame.columns:
        raise ModelInputError(
            f"{what}: no column {name!r} (columns: {', '.join(frame.columns) or 'none'})"
        )
    s = frame[name]
    if not (s.dtype == pl.Date or isinstance(s.dtype, pl.Datetime)):
        raise ModelInputError(f"{what}: column {name!r} must be a date or datetime, got {s.dtype}")
    if s.null_count():
        i = int(s.is_null().arg_true()[0])
        raise ModelInputError(f"{what}: column {name!r} is null at row {i + 1}")
    return s


def check_table(
    covariates: Any, cols: Columns, names: list[str], period_days: float
) -> tuple[pl.DataFrame, datetime]:
    """The covariate table checked (columns present, no nulls, period starts on one grid, one
    row per customer and period), with a ``_k`` period index; and the grid origin."""
    table = as_frame(covariates)
    what = "covariates"
    if not (period_days > 0 and round(period_days * _US_PER_DAY) > 0):
        raise ModelInputError(f"period_days must be positive, got {period_days!r}")
    for c in [cols.customer, *names]:
        if c not in table.columns:
            raise ModelInputError(
                f"{what}: no column {c!r} (columns: {', '.join(table.columns) or 'none'})"
            )
        if table[c].null_count():
            i = int(table[c].is_null().arg_true()[0])
            raise ModelInputError(f"{what}: column {c!r} is null at row {i + 1}")
    starts = _time_column(table, cols.period, what)
    origin = starts.cast(pl.Datetime("us")).min()
    assert isinstance(origin, datetime)
    cal = Calendar(origin, period_days, origin)
    us = cal.us(starts)
    off = us % cal.period_us
    if off.any():
        i = int(np.argmax(off != 0))
        raise ModelInputError(
            f"{what}: column {cols.period!r} at row {i + 1} ({starts[i]}) is not a period start: "
            f"periods are {period_days:g} days long from the earliest start {origin}"
        )
    table = table.with_columns(
        pl.Series("_k", us // cal.period_us), pl.int_range(pl.len()).alias("_row")
    )
    dup = table.select(pl.struct(cols.customer, "_k").is_duplicated()).to_series()
    if dup.any():
        i = int(dup.arg_true()[1])
        raise ModelInputError(
            f"{what}: row {i + 1} repeats customer {table[cols.customer][i]!r} and period "
            f"{starts[i]} (one row per customer and period)"
        )
    return table, origin


def _lookup(
    need: pl.DataFrame, table: pl.DataFrame, cols: Columns, cal: Calendar, why: str
) -> pl.DataFrame:
    """Join the needed (customer, _k) rows to the table; a missing one is an error."""
    got = need.join(table, on=[cols.customer, "_k"], how="left", maintain_order="left")
    miss = got["_row"].is_null()
    if miss.any():
        i = int(miss.arg_true()[0])
        k = int(got["_k"][i])
        start = cal.origin + (k * cal.period_us) * _timedelta_us()
        raise ModelInputError(
            f"covariates: customer {got[cols.customer][i]!r} has no row for the period starting "
            f"{start} ({cols.period!r}); {why} ({int(miss.sum())} customer-periods missing)"
        )
    return got


def _timedelta_us() -> Any:
    from datetime import timedelta

    return timedelta(microseconds=1)


def calibration(
    transactions: Any, table: pl.DataFrame, spec: CovariateSpec, cols: Columns, cal: Calendar
) -> Paths:
    """Calibration paths of every customer whose first purchase is on or before the
    calibration end."""
    tr = as_frame(transactions)
    if cols.customer not in tr.columns:
        raise ModelInputError(
            f"transactions: no column {cols.customer!r} (columns: {', '.join(tr.columns)})"
        )
    if tr[cols.customer].null_count():
        i = int(tr[cols.customer].is_null().arg_true()[0])
        raise ModelInputError(f"transactions: column {cols.customer!r} is null at row {i + 1}")
    if tr[cols.customer].dtype != table[cols.customer].dtype:
        raise ModelInputError(
            f"transactions: column {cols.customer!r} is {tr[cols.customer].dtype} but the "
            f"covariate table's is {table[cols.customer].dtype}; use one type for the ids"
        )
    when = _time_column(tr, cols.date, "transactions")
    end = cal.end_us()
    tr = (
        pl.DataFrame({cols.customer: tr[cols.customer], "_us": cal.us(when)})
        .filter(pl.col("_us") <= end)
        .unique()
        .with_columns(pl.col("_us").min().over(cols.customer).alias("_o"))
        .sort(cols.customer, "_us")
    )
    if tr.height == 0:
        raise ModelInputError(
            f"transactions: none on or before the calibration end {cal.calibration_end}"
        )
    p = cal.period_us
    cust = tr.group_by(cols.customer, maintain_order=True).agg(
        pl.col("_o").first(), (pl.len() - 1).alias("x"), pl.col("_us").max().alias("_last")
    )
    o = cust["_o"].to_numpy()
    k0 = o // p
    # the last period with time in [first purchase, end); a purchase exactly at an end on a
    # period boundary counts in it
    k1 = np.maximum(k0, (end - 1) // p)
    need = (
        cust.select(cols.customer)
        .with_columns(pl.int_ranges(pl.Series(k0), pl.Series(k1) + 1).alias("_k"))
        .explode("_k")
    )
    why = (
        "every period from a customer's first purchase to the calibration end "
        f"{cal.calibration_end} is needed"
    )
    rows = _lookup(need, table, cols, cal, why)
    counts = np.bincount(np.repeat(np.arange(cust.height), k1 - k0 + 1), minlength=cust.height)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    k = rows["_k"].to_numpy()
    o_rep = np.repeat(o, counts)
    # whole microseconds, so the lengths sum to T exactly before the one division
    dur = np.maximum(np.minimum((k + 1) * p, end) - np.maximum(k * p, o_rep), 0) / p
    zt, zl, _, _, _ = spec.design(rows)
    # repeat purchases per piece, for the Π a(t_j) term of the likelihood
    rep = tr.filter(pl.col("_us") > pl.col("_o")).with_columns(
        pl.min_horizontal(pl.col("_us") // p, max(0, (end - 1) // p)).alias("_k")
    )
    n_rep = (
        rows.select(cols.customer, "_k")
        .join(
            rep.group_by(cols.customer, "_k").agg(pl.len().alias("_n")),
            on=[cols.customer, "_k"],
            how="left",
            maintain_order="left",
        )["_n"]
        .fill_null(0)
        .to_numpy()
    )
    piece_cust = np.repeat(np.arange(cust.height), counts)
    trans_sum = [np.bincount(piece_cust, weights=n_rep * z, minlength=cust.height) for z in zt]
    x = cust["x"].to_numpy().astype(float)
    tx = np.where(x > 0, (cust["_last"].to_numpy() - o) / p, 0.0)
    T = (end - o) / p
    return Paths(
        cust[cols.customer], x, tx, T, np.full(cust.height, end), offsets, dur, zt, zl, trans_sum
    )


def future(
    paths: Paths,
    table: pl.DataFrame,
    spec: CovariateSpec,
    cols: Columns,
    cal: Calendar,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Pieces of every customer's path over (calibration end, + horizon periods]."""
    p = cal.period_us
    end = cal.end_us()
    stop = end + round(horizon * p)
    k0 = end // p
    k1 = -(-stop // p) - 1
    n = paths.customers.len()
    if stop == end:
        return (
            np.zeros(n + 1),
            np.zeros(0),
            [np.zeros(0)] * len(paths.zt),
            [np.zeros(0)] * len(paths.zl),
        )
    need = (
        pl.DataFrame({cols.customer: paths.customers})
        .with_columns(pl.lit(list(range(k0, k1 + 1)), dtype=pl.List(pl.Int64)).alias("_k"))
        .explode("_k")
    )
    why = (
        f"predicting {horizon:g} periods after {cal.calibration_end} needs every period it touches"
    )
    rows = _lookup(need, table, cols, cal, why)
    k = rows["_k"].to_numpy()
    dur = np.maximum((np.minimum((k + 1) * p, stop) - np.maximum(k * p, end)) / p, 0.0)
    offsets = np.arange(n + 1) * (k1 - k0 + 1)
    zt, zl, _, _, _ = spec.design(rows)
    return offsets, dur, zt, zl


def coefficient_map(spec: CovariateSpec) -> tuple[list[int], list[int], list[float]]:
    """Each design column's coefficient index (transaction columns, lifetime columns; a
    constrained covariate's two columns share one) and each coefficient's L2 penalty, in the
    order of ``spec.coefficient_names()``."""
    names = spec.coefficient_names()
    index = {n: i for i, n in enumerate(names)}
    ti: list[int] = []
    li: list[int] = []
    l2 = [0.0] * len(names)
    for proc, codings, idx in (
        ("transaction", spec.transaction, ti),
        ("lifetime", spec.lifetime, li),
    ):
        pre = "trans" if proc == "transaction" else "life"
        for c in codings:
            p = "constr" if c.column in spec.constrain else pre
            for n in c.names():
                j = index[f"{p}.{n}"]
                idx.append(j)
                if p != "constr":
                    l2[j] = spec.l2.get(proc, 0.0)
    return ti, li, l2


def column_params(spec: CovariateSpec, base: list[float], coef: list[float]) -> list[float]:
    """The native kernels' parameter vector: base parameters, then one coefficient per design
    column (a constrained coefficient written into both of its columns)."""
    ti, li, _ = coefficient_map(spec)
    return [*base, *(coef[j] for j in ti), *(coef[j] for j in li)]


NativeArgs = tuple[
    pl.Series,
    pl.Series,
    pl.Series,
    list[pl.Series],
    pl.Series,
    pl.Series,
    list[pl.Series],
    list[pl.Series],
]


def _f64(v: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(v, dtype=np.float64))


def native_args(paths: Paths) -> NativeArgs:
    """The calibration paths as the native fit and likelihood read them."""
    return (
        _f64(paths.x),
        _f64(paths.tx),
        _f64(paths.T),
        [_f64(z) for z in paths.trans_sum],
        _f64(paths.offsets),
        _f64(paths.dur),
        [_f64(z) for z in paths.zt],
        [_f64(z) for z in paths.zl],
    )


def subset(paths: Paths, idx: np.ndarray) -> Paths:
    """The paths of customers ``idx`` (repeats allowed: a bootstrap resample), whole paths."""
    counts = np.diff(paths.offsets).astype(np.int64)
    lens = counts[idx]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    piece = np.repeat(paths.offsets[:-1][idx].astype(np.int64) - offsets[:-1], lens)
    piece = piece + np.arange(offsets[-1])
    return Paths(
        paths.customers.gather(idx),
        paths.x[idx],
        paths.tx[idx],
        paths.T[idx],
        paths.end_us[idx],
        offsets,
        paths.dur[piece],
        [z[piece] for z in paths.zt],
        [z[piece] for z in paths.zl],
        [s[idx] for s in paths.trans_sum],
    )
