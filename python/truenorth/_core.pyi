"""Type stubs for the native module ``truenorth._core``."""

from typing import Any, Protocol

__version__: str

class CoreError(ValueError):
    """Invalid input to a native kernel (subclass of ValueError)."""

class _ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

# ---- BEGIN models section (rust/models/; owner: BTYD models) -------------------------------
# Model kinds: "bg_nbd", "mbg_nbd", "pareto_nbd", "bg_bb", "gamma_gamma". Columns are objects
# exposing __arrow_c_stream__ (Polars Series) of Float64 without nulls; `second` is recency
# (monetary_value for gamma_gamma). Validation with row-level messages is done in Python
# (truenorth.clv); these raise CoreError on anything that slips through.

class F64Column:
    """A Float64 result column; pass to ``polars.Series`` (zero-copy via __arrow_c_array__)."""

    def __arrow_c_array__(
        self, requested_schema: object | None = None
    ) -> tuple[object, object]: ...
    def __len__(self) -> int: ...

def fit(
    model: str,
    frequency: Any,
    second: Any,
    t: Any,
    weights: Any | None = None,
    start: list[float] | None = None,
    max_iter: int = 500,
) -> dict[str, Any]:
    """Maximum likelihood on compressed patterns. Keys: params, standard_errors, covariance,
    log_likelihood, converged, n_iterations, message, n_patterns, n_observations,
    gradient_max_abs."""

def log_likelihood(
    model: str, params: list[float], frequency: Any, second: Any, t: Any, weights: Any | None = None
) -> float: ...
def predict(
    model: str,
    what: str,
    params: list[float],
    frequency: Any,
    second: Any,
    t: Any,
    horizon: float = 0.0,
) -> F64Column:
    """what: p_alive | expected_purchases | log_likelihood | expected_spend (gamma_gamma)."""

def predict_new(
    model: str, what: str, params: list[float], t: list[float], n: int = 0
) -> list[float]:
    """what: expected_purchases | p_purchases (new customer, per horizon in t)."""

def conditional_p_purchases(
    model: str,
    params: list[float],
    frequency: Any,
    recency: Any,
    t: Any,
    n: int,
    horizon: float,
) -> F64Column:
    """P(X(T, T+horizon] = n | frequency, recency, T) per row: P(alive)·PMF(n; posterior
    params) + (1 − P(alive))·[n = 0]; model: bg_nbd | mbg_nbd | pareto_nbd | bg_bb (for
    bg_bb, horizon is a whole number of future opportunities; FHS 2010 appendix)."""

def clv(
    model: str,
    params: list[float],
    frequency: Any,
    recency: Any,
    t: Any,
    spend: Any,
    steps: int,
    step_length: float,
    discount_rate: float,
) -> F64Column: ...
def simulate_summary(
    model: str, params: list[float], t: Any, seed: int, resolution: float | None = None
) -> tuple[F64Column, F64Column]: ...
def simulate_transactions(
    model: str,
    params: list[float],
    birth: list[float],
    t: list[float],
    seed: int,
    resolution: float | None = None,
) -> tuple[F64Column, F64Column]: ...
def simulate_spend(params: list[float], frequency: Any, seed: int) -> F64Column: ...

# ---- END models section ---------------------------------------------------------------------

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

    keys: Int64 or utf8/large_utf8/string_view (no nulls); times: Int32/Date32 days or
    Int64/Timestamp ticks; amounts: Float64, finite. Columns may arrive in several chunks (read
    in place) when their chunk lengths agree. first_row/last_row count from 0 over all chunks;
    error messages name 1-based rows. Periods are
    ``[offset + k*period, offset + (k+1)*period)`` ticks; ``unit`` is in ticks.
    Columns: [key] (Int64, integer keys only: the customers' keys), first_row, last_row
    (UInt32), first_time, last_time (the earliest/latest calibration ticks as given, at the
    times' width: Int32 or Int64),
    frequency (Int64), recency, T (Float64),
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
