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
- **Nulls** in the customer or time column, and null amounts, raise (naming column and first row,
  numbered from 1):
  a purchase without a customer, a time or an amount cannot be summarised honestly.
- **Decimal amounts** (DuckDB's ``DECIMAL``, e.g. SQL literals like ``12.34``) are cast to
  Float64: each becomes the double nearest to it (exactly the value a float literal would give,
  for up to 15 significant digits), and sums are Float64 sums, as for float input.
- **NaN / ±inf amounts** raise. **Negative amounts** (refunds) are allowed and summed into their
  period, so a refund lowers that period's total. **Zero amounts** count as purchases.
- **Unsorted input** is fine; output is sorted by customer key (categoricals in Polars' lexical
  order).
- **Time zones**: tz-aware datetimes are bucketed by their local wall-clock time in their own
  zone (as pandas' ``to_period``, used by lifetimes): a purchase at 23:30 in Europe/Berlin belongs
  to that Berlin day. ``observation_end``/``calibration_end`` given naive are read in the column's
  zone; given aware, they are converted to it.
- **Fixed-length periods/units** (``ns us ms s m h d w``) are bucketed as Polars'
  ``dt.truncate``: week periods (``"1w"``, ``"2w"``) start on Mondays (counted from Monday
  1970-01-05), other periods (``"7d"`` included) are aligned to the Unix epoch. Periods finer
  than a day need a Datetime column. The unit defaults to one day.
- **Calendar periods** (``"1mo"``, ``"3mo"`` = ``"1q"``, ``"1y"``; lifetimes' ``freq="M"``): a
  timestamp's period is its calendar month / quarter / year in local wall-clock time (as day
  periods above); ``"Nmo"`` periods count from January 1970, as ``dt.truncate``. The unit must
  be calendar too and defaults to the period: ``recency``, ``T`` and ``duration_holdout`` are the
  number of whole calendar months between the two periods' starts divided by the unit's length in
  months (``period="1mo", unit="1q"`` gives thirds). An observation or calibration end anywhere
  in a month includes that whole month, as a day period includes its whole day. Mixing a fixed unit with a calendar period,
  or the reverse, is a ValueError: months differ in length (28-31 days), so neither converts
  exactly into the other. lifetimes' ``freq="M"`` buckets the same way but divides the day span
  between month starts by the mean month (30.44 days): Jan 31 -> Mar 1 is 2 months here and
  1.94 there; rounding lifetimes' values gives ours (checked on CDNOW).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import polars as pl

from .. import _core
from . import _assemble, _budget, _spill, _stream
from ._clock import time_clock, whole
from ._time import Span, parse_span, resolve_unit
from ._units import tag_unit

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
        hint = ""
        if type(data).__name__ == "DuckDBPyConnection":
            hint = (
                "; a DuckDB connection is not a result: pass the relation from con.sql(...) "
                "instead (or an Arrow reader of it)"
            )
        raise TypeError(
            "data: expected a Polars DataFrame/LazyFrame or an object with __arrow_c_stream__ "
            f"(PyArrow table, pandas DataFrame, DuckDB relation), got {type(data).__name__}{hint}"
        )
    _check_columns(df.columns, columns)
    return df.select(columns)


def _check_columns(available: list[str], wanted: list[str]) -> None:
    for c in wanted:
        if c not in available:
            raise ValueError(f"column '{c}' not found; the input has columns {available}")


def _key_column(s: pl.Series) -> tuple[pl.Series, bool]:
    """(column for the kernel, whether the output must be re-sorted by Polars)."""
    # DuckDB's HUGEINT arrives as Decimal(38, 0); like 128-bit ints it is fine when ids fit i64
    wide = s.dtype in (pl.UInt64, pl.Int128, pl.UInt128) or (
        isinstance(s.dtype, pl.Decimal) and s.dtype.scale == 0
    )
    if s.dtype in _INT_DTYPES or wide:
        top, bottom = s.max(), s.min()  # whole numbers (ints or scale-0 decimals) or None
        if wide and (
            (top is not None and top > 2**63 - 1)  # type: ignore[operator]
            or (bottom is not None and bottom < -(2**63))  # type: ignore[operator]
        ):
            raise ValueError(
                f"column '{s.name}': {s.dtype} customer ids above 2**63-1 (or below -2**63) are "
                "not supported"
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
        row = whole(s.is_null().arg_max()) + 1  # rows are numbered from 1 in messages
        raise ValueError(f"column '{s.name}': null {what} at row {row}; nulls are not allowed")


@overload
def summarize(
    data: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    period: str = "1d",
    unit: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
    memory: int | str | None = None,
    spill_dir: str | Path | None = None,
    output: None = None,
) -> pl.DataFrame: ...
@overload
def summarize(
    data: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    period: str = "1d",
    unit: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
    memory: int | str | None = None,
    spill_dir: str | Path | None = None,
    output: str | Path,
) -> pl.LazyFrame: ...
def summarize(
    data: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    period: str = "1d",
    unit: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
    memory: int | str | None = None,
    spill_dir: str | Path | None = None,
    output: str | Path | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """One row per customer: ``frequency``, ``recency``, ``T``, ``monetary_value`` and more.

    Args:
        data: transactions — a Polars DataFrame or LazyFrame, or any object exposing
            ``__arrow_c_stream__`` (PyArrow table, pandas DataFrame, DuckDB relation).
        customer: customer id column (integers, strings or categoricals; 128-bit integers
            and DuckDB's HUGEINT when the ids fit in 64 bits).
        time: purchase time column (Date or Datetime, any unit, with or without time zone).
        amount: purchase amount column (integers, floats or decimals, the latter read as the
            nearest Float64 values); without it the monetary columns
            (``monetary_value``, ``revenue``, ``monetary_value_holdout``) are omitted.
        period: purchases of a customer within one period are merged (default one day): a
            fixed length (``"1d"``, ``"1w"``, ``"12h"``) or a calendar period (``"1mo"``,
            ``"1q"``, ``"1y"``).
        unit: unit in which ``recency``, ``T`` and ``duration_holdout`` are measured; default
            one day for fixed periods, the period itself for calendar ones (which only take
            calendar units).
        observation_end: end of observation (date, datetime or ISO string); default: the latest
            purchase time. Rows after its period are ignored.
        calibration_end: if given, the summary covers the calibration window up to this instant
            and holdout columns describe the rest (see module docs).
        memory: memory budget for a LazyFrame or a one-pass Arrow stream (a PyArrow
            ``RecordBatchReader``, a DuckDB relation) (bytes, or a size such as ``"2GB"``,
            ``"512MiB"``, ``"50%"``); default: :func:`truenorth.clv.memory_limit`'s scope, else
            ``TRUENORTH_MEMORY``, else half the memory available. An input that would not fit
            is partitioned by customer on disk and summarised partition by partition, with the
            same result (see the guide "Large data"; a stream is first copied to one file
            there, as it cannot be read twice). Eager inputs are already in memory and are
            summarised as they are.
        spill_dir: folder for the temporary partitions (default: ``TRUENORTH_SPILL_DIR``, else
            the system's temp folder); they are removed when the call ends, however it ends.
        output: a Parquet file to write the summary to; a LazyFrame scanning it is returned.
            A spilled summary is written range by range and never held whole, so memory stays
            within ``memory`` even when the result (~64 bytes a customer) is larger; fit it
            with :func:`truenorth.clv.patterns` and score it with
            :func:`truenorth.clv.score`. Without ``output``, a result larger than the budget
            is returned in memory with a :class:`MemoryBudgetWarning`.

    Returns:
        A DataFrame (a LazyFrame scanning ``output`` when given) sorted by customer: the customer column (original name and dtype),
        ``frequency``, ``recency``, ``T``, ``monetary_value``, ``n_transactions``, ``revenue``,
        ``first_purchase``, ``last_purchase`` [, ``frequency_holdout``,
        ``monetary_value_holdout``, ``duration_holdout``].

    Raises:
        ValueError: missing columns, unsupported dtypes, empty input, nulls, non-finite amounts,
            or inconsistent ends — the message names the column (and the first bad row).

    Example:
        Monthly periods, recency and T in months (lifetimes' ``freq="M"``)::

            >>> import polars as pl
            >>> from datetime import date
            >>> log = pl.DataFrame({"c": [1, 1, 1], "t": [date(2024, 1, 31), date(2024, 2, 1),
            ...                     date(2024, 3, 9)], "a": [5.0, 2.0, 3.0]})
            >>> s = summarize(log, customer="c", time="t", amount="a", period="1mo")
            >>> s.select("frequency", "recency", "T", "monetary_value").row(0)
            (2, 2.0, 2.0, 2.5)
            >>> summarize(log, customer="c", time="t", period="1mo", unit="1q")["T"][0]
            0.6666666666666666
    """
    period_span = parse_span(period, "period")
    unit_span = resolve_unit(unit, period_span)
    cols = [customer, time] + ([amount] if amount is not None else [])
    if len(set(cols)) != len(cols):
        raise ValueError(f"customer, time and amount must be distinct columns, got {cols}")
    spec = _Spec(customer, time, amount, period_span, unit_span, calibration_end)
    target = Path(output) if output is not None else None
    out: pl.DataFrame | pl.LazyFrame | None
    if isinstance(data, pl.LazyFrame):
        limits = _budget.current(memory, spill_dir)
        out = _summarize_scan(data, spec, limits, observation_end, target)
    elif _stream.is_stream(data):
        limits = _budget.current(memory, spill_dir)
        with _stream.stream_input(data, cols, limits) as got:
            out = (
                _summarize_frame(got, spec, observation_end)
                if isinstance(got, pl.DataFrame)
                else _summarize_scan(got, spec, limits, observation_end, target)
            )
    else:
        out = _summarize_frame(_collect(data, cols), spec, observation_end)
    if out is None:
        raise ValueError(
            "no purchases on or before the observation end"
            + (" / calibration end" if calibration_end is not None else "")
            + f" (column '{time}')"
        )
    if target is not None and isinstance(out, pl.DataFrame):
        _assemble.write(out, target)
        out = pl.scan_parquet(target)
    tag_unit(out, unit_span.text)
    return out


def _summarize_scan(
    data: pl.LazyFrame,
    spec: _Spec,
    limits: _budget.Limits,
    observation_end: Any,
    output: Path | None = None,
) -> pl.DataFrame | pl.LazyFrame | None:
    """The summary of a scan within the memory budget (spilling to disk if it must)."""
    customer, time, amount = spec.customer, spec.time, spec.amount
    cols = [customer, time] + ([amount] if amount is not None else [])
    schema = data.collect_schema()
    _check_columns(schema.names(), cols)
    _check_dtypes(schema, spec)  # before a spill: a wrong dtype fails in seconds
    lf = data.select(cols)
    try:
        return _spill.summarize_lazy(
            lf,
            customer=customer,
            time=time,
            limits=limits,
            run=lambda df, end: _summarize_frame(df, spec, end),
            observation_end=observation_end,
            output=output,
        )
    except ValueError as exc:
        # a partition numbers its rows from 1: say where the bad row is in the input
        where = _spill.locate_bad_row(lf, customer, time, amount)
        if where is None or where in str(exc):
            raise
        raise ValueError(where) from None


def _check_dtypes(schema: pl.Schema, spec: _Spec) -> None:
    """The dtype checks of :func:`_summarize_frame`, on a schema (same messages)."""
    key = schema[spec.customer]
    if not (
        key in _INT_DTYPES
        or key in (pl.String, pl.Int128, pl.UInt128)
        or isinstance(key, (pl.Categorical, pl.Enum, pl.Decimal))
    ):
        _key_column(pl.Series(spec.customer, [], dtype=key))  # raises its message
    t = schema[spec.time]
    if not (t == pl.Date or isinstance(t, pl.Datetime)):
        raise ValueError(
            f"column '{spec.time}': expected Date or Datetime purchase times, got {t}"
            + (" (parse strings first, e.g. pl.col(...).str.to_date())" if t == pl.String else "")
        )
    if spec.amount is not None and not schema[spec.amount].is_numeric():
        raise ValueError(
            f"column '{spec.amount}': expected numeric amounts, got {schema[spec.amount]}"
        )


@dataclass(frozen=True)
class _Spec:
    customer: str
    time: str
    amount: str | None
    period: Span
    unit: Span
    calibration_end: Any


def _summarize_frame(df: pl.DataFrame, spec: _Spec, observation_end: Any) -> pl.DataFrame | None:
    """The summary of an in-memory log; ``None`` when no purchase falls in the window."""
    customer, time, amount = spec.customer, spec.time, spec.amount
    period_span, unit_span, calibration_end = spec.period, spec.unit, spec.calibration_end
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
    clock = time_clock(t_raw, time, period_span, unit_span)
    ticks = clock.ticks

    amounts = None
    if amount is not None:
        a = df.get_column(amount)
        if not a.dtype.is_numeric():
            raise ValueError(f"column '{amount}': expected numeric amounts, got {a.dtype}")
        _check_nulls(a, "amount")
        # Decimal amounts (DuckDB's money type) become the nearest doubles, as if written as
        # floats: the kernel sums in Float64 either way
        amounts = a.cast(pl.Float64)

    end_tick = clock.tick_of(observation_end, "observation_end")
    cal_tick = clock.tick_of(calibration_end, "calibration_end")

    # the kernel reads chunked columns in place when their chunks line up (as in a frame read
    # from Parquet); only misaligned columns are copied into one chunk each
    cols_in = [keys, ticks] + ([] if amounts is None else [amounts])
    if len({tuple(s.chunk_lengths()) for s in cols_in}) > 1:
        cols_in = [s.rechunk() for s in cols_in]
    stream = _core.customer_summary(
        cols_in[0],
        cols_in[1],
        None if amounts is None else cols_in[2],
        period=clock.period,
        offset=clock.offset,
        unit=clock.unit,
        observation_end=end_tick,
        calibration_end=cal_tick,
        names=(customer, time, amount or "amount"),
    )
    raw = pl.DataFrame(stream)
    if raw.height == 0:
        return None
    # the key and the first/last times come from the kernel when it returns them as the
    # columns' own values (a gather by row is slow on a chunked frame); else gather by row
    first_row, last_row = raw.get_column("first_row"), raw.get_column("last_row")
    if "key" in raw.columns and key_raw.dtype in _INT_DTYPES:
        key_out = raw.get_column("key").cast(key_raw.dtype)
    elif "key" in raw.columns and key_raw.dtype == pl.String:
        key_out = raw.get_column("key")  # short ids: rebuilt by the kernel from its keys
    else:
        key_out = key_raw.gather(first_row)
    if clock.own:
        # Int32 days for dates, Int64 ticks in the column's time unit otherwise
        first = raw.get_column("first_time").cast(t_raw.dtype)
        last = raw.get_column("last_time").cast(t_raw.dtype)
    else:
        first, last = t_raw.gather(first_row), t_raw.gather(last_row)
    out = raw.select(
        key_out.alias(customer),
        pl.all().exclude("key", "first_row", "last_row", "first_time", "last_time"),
        first.alias("first_purchase"),
        last.alias("last_purchase"),
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
