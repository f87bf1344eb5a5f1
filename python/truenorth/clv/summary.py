"""Customer summaries ("RFM / BTYD summary") from a transaction log, computed by the Rust kernel.

Semantics follow lifetimes' ``summary_data_from_transaction_data`` (and Fader & Hardie's CDNOW
summaries):

- Every timestamp is floored to its *period* (``period``, a day by default). Purchases of one
  customer in the same period are merged into one, their amounts summed.
- ``frequency`` = distinct purchase periods − 1 (repeat purchases only).
- ``recency`` = first period → last period; ``T`` = first period → the observation end's period;
  both measured in ``unit`` (``period="1d", unit="1w"`` gives Hardie's CDNOW numbers, lifetimes'
  ``freq="D", freq_multiplier=7``).
- ``monetary_value`` = mean of the repeat periods' totals (the first period excluded); 0 for
  one-time buyers.
- ``n_transactions`` = input rows counted, ``revenue`` = their amounts summed (first purchase
  included), ``first_purchase`` / ``last_purchase`` = earliest / latest timestamp (original dtype).

Policies (documented, tested):

- **Observation end**: defaults to the latest timestamp in the data; rows whose period is after the
  observation end's period are excluded (a row later on the observation end's own day, with day
  periods, is included — exactly as lifetimes).
- **Calibration / holdout**: rows in periods up to ``calibration_end``'s period form the
  calibration summary (``T`` runs to the calibration end); rows after it, up to the observation
  end, give ``frequency_holdout`` (distinct holdout periods), ``monetary_value_holdout`` (mean of
  holdout *period totals*, consistent with ``monetary_value``; lifetimes averages raw holdout rows
  instead — the two agree when no customer buys twice in one holdout period) and
  ``duration_holdout`` (calibration end → observation end, in ``unit``; lifetimes also divides by
  ``freq_multiplier``). Customers first seen in the holdout are excluded.
- **Nulls** in the customer or time column, and null amounts, raise (naming column and first row):
  a purchase without a customer, a time or an amount cannot be summarised honestly.
- **NaN / ±inf amounts** raise. **Negative amounts** (refunds) are allowed and summed into their
  period, so a refund lowers that period's total. **Zero amounts** count as purchases.
- **Unsorted input** is fine; output is sorted by customer key (categoricals in Polars' lexical
  order).
- **Time zones**: tz-aware datetimes are bucketed by their local wall-clock time in their own
  zone (as pandas' ``to_period``, used by lifetimes): a purchase at 23:30 in Europe/Berlin belongs
  to that Berlin day. ``observation_end``/``calibration_end`` given naive are read in the column's
  zone; given aware, they are converted to it.
- Periods/units are fixed-length durations (``ns us ms s m h d w``), bucketed as Polars'
  ``dt.truncate``: week periods (``"1w"``, ``"2w"``) start on Mondays (counted from Monday
  1970-01-05), other periods (``"7d"`` included) are aligned to the Unix epoch. Periods finer than a day need a Datetime column.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .. import _core
from ._time import instant_to_wall, parse_duration, tick_ns, wall_clock

__all__ = ["summarize"]

_INT_DTYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def _collect(data: Any, columns: list[str]) -> pl.DataFrame:
    """Any supported input as a Polars DataFrame holding only ``columns``."""
    if isinstance(data, pl.LazyFrame):
        schema = data.collect_schema()
        _check_columns(schema.names(), columns)
        return data.select(columns).collect()
    if isinstance(data, pl.DataFrame):
        df = data
    elif hasattr(data, "__arrow_c_stream__"):
        try:
            df = pl.DataFrame(data)
        except Exception as e:  # a producer that Polars cannot read
            raise ValueError(f"could not read the input as an Arrow table: {e}") from e
    else:
        raise TypeError(
            "data: expected a Polars DataFrame/LazyFrame or an object with __arrow_c_stream__ "
            f"(PyArrow table, pandas DataFrame, DuckDB result), got {type(data).__name__}"
        )
    _check_columns(df.columns, columns)
    return df.select(columns)


def _check_columns(available: list[str], wanted: list[str]) -> None:
    for c in wanted:
        if c not in available:
            raise ValueError(f"column '{c}' not found; the input has columns {available}")


def _key_column(s: pl.Series) -> tuple[pl.Series, bool]:
    """(column for the kernel, whether the output must be re-sorted by Polars)."""
    if s.dtype in _INT_DTYPES:
        if s.dtype == pl.UInt64 and s.max() is not None and s.max() > 2**63 - 1:
            raise ValueError(
                f"column '{s.name}': UInt64 customer ids above 2**63-1 are not supported"
            )
        return s.cast(pl.Int64), False
    if s.dtype == pl.String:
        return s, False
    if isinstance(s.dtype, (pl.Categorical, pl.Enum)):
        # Group on the category codes; the output is re-sorted in Polars' categorical order.
        return s.to_physical().cast(pl.Int64), True
    raise ValueError(
        f"column '{s.name}': customer ids must be integers, strings or categoricals, got {s.dtype}"
    )


def _check_nulls(s: pl.Series, what: str) -> None:
    if s.null_count():
        row = int(s.is_null().arg_max())
        raise ValueError(f"column '{s.name}': null {what} at row {row}; nulls are not allowed")


def summarize(
    data: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    period: str = "1d",
    unit: str = "1d",
    observation_end: Any = None,
    calibration_end: Any = None,
) -> pl.DataFrame:
    """One row per customer: ``frequency``, ``recency``, ``T``, ``monetary_value`` and more.

    Args:
        data: transactions — a Polars DataFrame or LazyFrame, or any object exposing
            ``__arrow_c_stream__`` (PyArrow table, pandas DataFrame, DuckDB relation).
        customer: customer id column (integers, strings or categoricals).
        time: purchase time column (Date or Datetime, any unit, with or without time zone).
        amount: purchase amount column (integers or floats); without it the monetary columns
            (``monetary_value``, ``revenue``, ``monetary_value_holdout``) are omitted.
        period: purchases of a customer within one period are merged (default one day).
        unit: unit in which ``recency``, ``T`` and ``duration_holdout`` are measured.
        observation_end: end of observation (date, datetime or ISO string); default: the latest
            purchase time. Rows after its period are ignored.
        calibration_end: if given, the summary covers the calibration window up to this instant
            and holdout columns describe the rest (see module docs).

    Returns:
        A DataFrame sorted by customer: the customer column (original name and dtype),
        ``frequency``, ``recency``, ``T``, ``monetary_value``, ``n_transactions``, ``revenue``,
        ``first_purchase``, ``last_purchase`` [, ``frequency_holdout``,
        ``monetary_value_holdout``, ``duration_holdout``].

    Raises:
        ValueError: missing columns, unsupported dtypes, empty input, nulls, non-finite amounts,
            or inconsistent ends — the message names the column (and the first bad row).
    """
    period_ns, period_unit = parse_duration(period, "period")
    unit_ns, _ = parse_duration(unit, "unit")
    cols = [customer, time] + ([amount] if amount is not None else [])
    if len(set(cols)) != len(cols):
        raise ValueError(f"customer, time and amount must be distinct columns, got {cols}")
    df = _collect(data, cols)
    if df.height == 0:
        raise ValueError("the transaction log is empty: no rows to summarise")

    key_raw = df.get_column(customer)
    _check_nulls(key_raw, "customer id")
    keys, resort = _key_column(key_raw)

    t_raw = df.get_column(time)
    if not (t_raw.dtype == pl.Date or isinstance(t_raw.dtype, pl.Datetime)):
        raise ValueError(
            f"column '{time}': expected Date or Datetime purchase times, got {t_raw.dtype}"
            + (
                " (parse strings first, e.g. pl.col(...).str.to_date())"
                if t_raw.dtype == pl.String
                else ""
            )
        )
    _check_nulls(t_raw, "time")
    tick = tick_ns(t_raw.dtype)
    if period_ns % tick:
        raise ValueError(
            f"period {period!r} is finer than the resolution of column '{time}' ({t_raw.dtype})"
        )
    # week periods ("Nw") start on Mondays, counted from Monday 1970-01-05 (as Polars'
    # dt.truncate); other periods, "7d" included, are aligned to the epoch
    offset_ns = 4 * 86_400 * 10**9 if period_unit == "w" else 0
    ticks = wall_clock(t_raw).to_physical()

    amounts = None
    if amount is not None:
        a = df.get_column(amount)
        if not a.dtype.is_numeric():
            raise ValueError(f"column '{amount}': expected numeric amounts, got {a.dtype}")
        _check_nulls(a, "amount")
        amounts = a.cast(pl.Float64)

    def to_tick(value: Any, name: str) -> int | None:
        if value is None:
            return None
        s = instant_to_wall(value, name, t_raw.dtype)
        return int(s.to_physical()[0])

    end_tick = to_tick(observation_end, "observation_end")
    cal_tick = to_tick(calibration_end, "calibration_end")

    # the kernel reads chunked columns in place when their chunks line up (as in a frame read
    # from Parquet); only misaligned columns are copied into one chunk each
    cols_in = [keys, ticks] + ([] if amounts is None else [amounts])
    if len({tuple(s.chunk_lengths()) for s in cols_in}) > 1:
        cols_in = [s.rechunk() for s in cols_in]
    stream = _core.customer_summary(
        cols_in[0],
        cols_in[1],
        None if amounts is None else cols_in[2],
        period=period_ns // tick,
        offset=offset_ns // tick,
        unit=unit_ns / tick,
        observation_end=end_tick,
        calibration_end=cal_tick,
        names=(customer, time, amount or "amount"),
    )
    raw = pl.DataFrame(stream)
    if raw.height == 0:
        raise ValueError(
            "no purchases on or before the observation end"
            + (" / calibration end" if calibration_end is not None else "")
            + f" (column '{time}')"
        )
    first_row, last_row = raw.get_column("first_row"), raw.get_column("last_row")
    out = raw.select(
        key_raw.gather(first_row).alias(customer),
        pl.all().exclude("first_row", "last_row"),
        t_raw.gather(first_row).alias("first_purchase"),
        t_raw.gather(last_row).alias("last_purchase"),
    )
    order = [customer, "frequency", "recency", "T"]
    if amount is not None:
        order.append("monetary_value")
    order.append("n_transactions")
    if amount is not None:
        order.append("revenue")
    order += ["first_purchase", "last_purchase"]
    if calibration_end is not None:
        order.append("frequency_holdout")
        if amount is not None:
            order.append("monetary_value_holdout")
        order.append("duration_holdout")
    out = out.select(order)
    if resort:
        out = out.sort(customer, maintain_order=True)
    return out
