"""Type stubs for the native module ``truenorth._core``."""

from typing import Any, Protocol

__version__: str

class CoreError(ValueError):
    """Invalid input to a native kernel (subclass of ValueError)."""

class _ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

# ---- summary and segment (core-summary) ---------------------------------------------------

class ArrowStream:
    """Result columns, consumed once through the Arrow PyCapsule stream interface
    (``polars.DataFrame(stream)``)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> Any: ...

def customer_summary(
    keys: _ArrowStreamExportable,
    times: _ArrowStreamExportable,
    amounts: _ArrowStreamExportable | None = None,
    *,
    period: int,
    offset: int,
    unit: float,
    observation_end: int | None = None,
    calibration_end: int | None = None,
    names: tuple[str, str, str] = ("customer", "time", "amount"),
    sort: bool = True,
) -> ArrowStream:
    """Fused customer summary over whole columns (see ``truenorth.clv.summarize``).

    keys: Int64 or utf8/large_utf8/string_view (one chunk, no nulls); times: Int32/Date32 days or
    Int64/Timestamp ticks; amounts: Float64, finite. Periods are
    ``[offset + k*period, offset + (k+1)*period)`` ticks; ``unit`` is in ticks.
    Columns: first_row, last_row (UInt32), frequency (Int64), recency, T (Float64),
    [monetary_value], n_transactions (Int64), [revenue], and with ``calibration_end``
    frequency_holdout, [monetary_value_holdout], duration_holdout. Sorted by key.
    """

def group_sums(
    by: _ArrowStreamExportable,
    values: list[_ArrowStreamExportable],
    *,
    by_name: str = "segment",
    value_names: list[str] | None = None,
) -> ArrowStream:
    """One pass per-group totals: first_row (UInt32), count (Int64), and per value column i
    sum_i (Float64) and valid_i (Int64, non-null count). Sorted by key."""

# ---- end of core-summary section -----------------------------------------------------------
