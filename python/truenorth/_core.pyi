"""Type stubs for the native module ``truenorth._core``.

Checked against the built module by ``python -m mypy.stubtest truenorth._core`` (in
``.ci/run``): names, parameters and defaults must match the extension.
"""

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeAlias, TypedDict, final, type_check_only

__all__ = [
    "ArrowStream",
    "CoreError",
    "F64Column",
    "__version__",
    "absorption_values",
    "bootstrap_counts",
    "bootstrap_params",
    "clv",
    "clv_rows",
    "conditional_p_purchases",
    "cov_fit",
    "cov_log_likelihood",
    "customer_summary",
    "delta_interval",
    "dyncov_fit",
    "dyncov_log_likelihood",
    "dyncov_pmf",
    "dyncov_predict",
    "dyncov_predict_steps",
    "expected_purchases_rows",
    "fit",
    "fit_external",
    "group_sums",
    "interval",
    "ll_grad",
    "log_likelihood",
    "param_draws",
    "pmf_new",
    "predict",
    "predict_new",
    "predict_rows",
    "retention_derl",
    "retention_elasticity",
    "retention_fit",
    "retention_fit_each",
    "retention_log_likelihood",
    "retention_rate",
    "retention_survival",
    "row_patterns",
    "simulate_spend",
    "simulate_summary",
    "simulate_transactions",
]

__version__: str

class CoreError(ValueError):
    """Invalid input to a native kernel (subclass of ValueError)."""

@type_check_only
class _ArrowStreamExportable(Protocol):
    """A column or table exporting the Arrow PyCapsule stream interface (a Polars Series or
    DataFrame, a PyArrow array, a DuckDB relation, ...)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

# ---- BEGIN models section (rust/models/; owner: BTYD models) -------------------------------
# Columns are Float64 without nulls (Python casts and checks first, with row-level messages in
# truenorth.clv; these raise CoreError on anything that slips through). `second` is recency
# (monetary_value for gamma_gamma). The kinds are the names in `MODELS` (rust/models/mod.rs).
# The aliases are private because they exist only in this stub (stubtest checks that every
# public name is in the extension); import them under `if TYPE_CHECKING:`.

_ModelKind: TypeAlias = Literal[
    "bg_nbd", "mbg_nbd", "pareto_nbd", "bg_bb", "ggom_nbd", "gamma_gamma"
]
"""Every fitted model."""
_PurchaseModelKind: TypeAlias = Literal["bg_nbd", "mbg_nbd", "pareto_nbd", "bg_bb", "ggom_nbd"]
"""Models of purchase counts and drop-out (all but the spend model)."""
_ContinuousTimeKind: TypeAlias = Literal["bg_nbd", "mbg_nbd", "pareto_nbd", "ggom_nbd"]
"""Purchase models in continuous time (transaction logs can be simulated)."""
_Prediction: TypeAlias = Literal[
    "p_alive", "expected_purchases", "log_likelihood", "expected_spend", "dert"
]
"""Per-row predictions; expected_spend for gamma_gamma only, dert (``horizon`` is then the
continuous discount rate) for pareto_nbd and ggom_nbd, the others for purchase models."""
_NewCustomerPrediction: TypeAlias = Literal["expected_purchases", "p_purchases"]
_IntervalOf: TypeAlias = Literal["p_alive", "expected_purchases", "conditional_p_purchases", "clv"]
"""Per-row predictions that ``interval`` bounds (purchase models)."""

@type_check_only
class _FitBoundary(TypedDict, total=False):
    #: why the fit stopped where parameters run away to a boundary (None: it did not; a
    #: covariate fit always says None)
    boundary: str | None

@type_check_only
class FitResult(_FitBoundary):
    """What ``fit`` returns: estimates on the natural scale, standard errors and covariance
    by the delta method from the Hessian of the log-parameters (None when it is not positive
    definite)."""

    params: list[float]
    standard_errors: list[float] | None
    covariance: list[list[float]] | None
    log_likelihood: float
    converged: bool
    n_iterations: int
    message: str
    n_patterns: int
    n_observations: float
    gradient_max_abs: float

@final
class F64Column:
    """A Float64 result column; pass to ``polars.Series`` (zero-copy via __arrow_c_array__)."""

    def __arrow_c_array__(
        self, requested_schema: object | None = None
    ) -> tuple[object, object]: ...
    def __len__(self) -> int: ...

def fit(
    model: _ModelKind,
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    weights: _ArrowStreamExportable | None = None,
    start: list[float] | None = None,
    max_iter: int = 500,
) -> FitResult:
    """Maximum likelihood on compressed patterns (rows with equal (frequency, second, t)
    merged, weights summed)."""

def log_likelihood(
    model: _ModelKind,
    params: list[float],
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    weights: _ArrowStreamExportable | None = None,
) -> float: ...
def ll_grad(
    model: _ModelKind,
    thetas: list[list[float]],
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    weights: _ArrowStreamExportable | None = None,
) -> list[tuple[float, list[float]]]: ...
def fit_external(
    model: _ModelKind,
    objective: Callable[[list[list[float]]], list[tuple[float, list[float]]]],
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    weights: _ArrowStreamExportable,
    n_observations: float,
    n_patterns: int,
    start: list[float] | None = None,
    max_iter: int = 500,
) -> FitResult: ...
def predict(
    model: _ModelKind,
    what: _Prediction,
    params: list[float],
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    horizon: float = 0.0,
) -> F64Column:
    """One value per row; ``horizon`` is the future window of expected_purchases."""

_CovariateKind: TypeAlias = Literal["pareto_nbd", "bg_nbd", "ggom_nbd"]
"""Models with static covariates (``truenorth.clv.covariates``)."""
_RowPrediction: TypeAlias = Literal[
    "p_alive",
    "expected_purchases",
    "log_likelihood",
    "expected_spend",
    "dert",
    "conditional_p_purchases",
]
"""Per-row predictions with parameters per row."""

def cov_fit(
    model: _CovariateKind,
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    trans_index: list[int],
    life_index: list[int],
    l2: list[float],
    weights: _ArrowStreamExportable | None = None,
    start: list[float] | None = None,
    max_iter: int = 500,
) -> FitResult:
    """Maximum likelihood of a static-covariate model on patterns of equal (frequency,
    second, t, covariates): ``params`` are the base parameters (natural scale) then one
    coefficient per index of ``trans_index``/``life_index``; ``l2`` one penalty per
    coefficient; ``start`` the same layout (default: the no-covariate fit, zero coefficients)."""

def cov_log_likelihood(
    model: _CovariateKind,
    params: list[float],
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    trans_index: list[int],
    life_index: list[int],
    weights: _ArrowStreamExportable | None = None,
) -> tuple[float, list[float]]:
    """Log-likelihood and its gradient in (log base parameters, coefficients)."""

def dyncov_fit(
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    trans_sum: Sequence[_ArrowStreamExportable],
    offsets: _ArrowStreamExportable,
    dur: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    start: list[float] | None = None,
    max_iter: int = 500,
    trans_index: list[int] | None = None,
    life_index: list[int] | None = None,
    l2: list[float] | None = None,
) -> FitResult:
    """Pareto/NBD with time-varying covariates (``truenorth.clv.covariates_dynamic``): per
    customer frequency, recency, T (periods since the first purchase) and the sums of the
    transaction covariates over the repeat purchases; customer i's covariate path is pieces
    ``offsets[i]..offsets[i+1]`` of ``dur`` (lengths summing to T), ``trans``, ``life``.
    ``trans_index``/``life_index`` (each column's coefficient; a constrained covariate's two
    columns share one) and ``l2`` (one penalty per coefficient) go together, as for
    ``cov_fit``; without them every column has its own unpenalised coefficient."""

def dyncov_log_likelihood(
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    trans_sum: Sequence[_ArrowStreamExportable],
    offsets: _ArrowStreamExportable,
    dur: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    trans_index: list[int] | None = None,
    life_index: list[int] | None = None,
) -> tuple[float, list[float]]:
    """Log-likelihood and its gradient in (log r, log alpha, log s, log beta, coefficients);
    coefficient indices as for ``dyncov_fit``."""

def dyncov_predict(
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    offsets: _ArrowStreamExportable,
    dur: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    f_offsets: _ArrowStreamExportable,
    f_dur: _ArrowStreamExportable,
    f_trans: Sequence[_ArrowStreamExportable],
    f_life: Sequence[_ArrowStreamExportable],
) -> tuple[list[float], list[float]]:
    """P(alive at T) and expected purchases over each customer's future path (pieces from T
    on, laid out as the calibration path)."""

def dyncov_predict_steps(
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    offsets: _ArrowStreamExportable,
    dur: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    f_offsets: _ArrowStreamExportable,
    f_dur: _ArrowStreamExportable,
    f_trans: Sequence[_ArrowStreamExportable],
    f_life: Sequence[_ArrowStreamExportable],
    ends: list[float],
) -> tuple[list[float], list[float]]:
    """P(alive at T) and the expected purchases up to each step end (periods after T,
    non-decreasing), flattened customer-major (n × len(ends)); arguments as for
    ``dyncov_predict``, the future path covering the last end."""

def dyncov_pmf(
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    offsets: _ArrowStreamExportable,
    dur: _ArrowStreamExportable,
    trans: Sequence[_ArrowStreamExportable],
    life: Sequence[_ArrowStreamExportable],
    f_offsets: _ArrowStreamExportable,
    f_dur: _ArrowStreamExportable,
    f_trans: Sequence[_ArrowStreamExportable],
    f_life: Sequence[_ArrowStreamExportable],
    n: int,
) -> list[float]:
    """P(X = n) of purchases over each customer's future path (arguments as for
    ``dyncov_predict``)."""

def predict_rows(
    model: _PurchaseModelKind,
    what: _RowPrediction,
    params: Sequence[_ArrowStreamExportable],
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    horizon: float = 0.0,
    n: int = 0,
) -> F64Column:
    """``predict`` (and conditional_p_purchases of ``n``) with one parameter column per model
    parameter, computed once per distinct parameter vector."""

def clv_rows(
    model: _PurchaseModelKind,
    params: Sequence[_ArrowStreamExportable],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    spend: _ArrowStreamExportable,
    steps: int,
    step_length: float,
    discount_rate: float,
) -> F64Column:
    """``clv`` with one parameter column per model parameter."""

def predict_new(
    model: _PurchaseModelKind,
    what: _NewCustomerPrediction,
    params: list[float],
    t: list[float],
    n: int = 0,
) -> list[float]:
    """A new customer's E[X(t)] or P(X(t) = n), one per horizon in t."""

def pmf_new(
    model: _PurchaseModelKind,
    params: list[float],
    t: list[float],
    max_count: int,
    weights: list[float] | None = None,
) -> list[list[float]]:
    """A new customer's P(X(t) = n) for n = 0..max_count, one row per horizon in t; with
    ``weights``, the one row of their weighted sums over the horizons."""

def expected_purchases_rows(
    model: _PurchaseModelKind,
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    horizon: _ArrowStreamExportable,
) -> F64Column:
    """Expected purchases per row over the row's own horizon (``horizon[i]``), the bracket
    once per distinct (frequency, T, horizon)."""

def row_patterns(
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
) -> tuple[F64Column, F64Column, F64Column, F64Column]:
    """The distinct (frequency, recency, T) rows, sorted, and each row's 0-based index into
    them (as Float64)."""

def conditional_p_purchases(
    model: _PurchaseModelKind,
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    n: int,
    horizon: float,
) -> F64Column:
    """P(X(T, T+horizon] = n | frequency, recency, T) per row: P(alive)·PMF(n; posterior
    params) + (1 − P(alive))·[n = 0] (for bg_bb, horizon is a whole number of future
    opportunities; FHS 2010 appendix)."""

def clv(
    model: _PurchaseModelKind,
    params: list[float],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    spend: _ArrowStreamExportable,
    steps: int,
    step_length: float,
    discount_rate: float,
) -> F64Column:
    """Σ_{i=1..steps} spend · (E[Y(i·Δ)] − E[Y((i−1)·Δ)]) / (1+d)^i per row."""

def simulate_summary(
    model: _PurchaseModelKind,
    params: list[float],
    t: _ArrowStreamExportable,
    seed: int,
    resolution: float | None = None,
) -> tuple[F64Column, F64Column]:
    """Simulated (frequency, recency) of customers observed for t[i]."""

def simulate_transactions(
    model: _ContinuousTimeKind,
    params: list[float],
    birth: list[float],
    t: list[float],
    seed: int,
    resolution: float | None = None,
) -> tuple[F64Column, F64Column]:
    """Simulated transaction logs: (customer index, time) with the first purchase at
    birth[i]."""

def simulate_spend(params: list[float], frequency: _ArrowStreamExportable, seed: int) -> F64Column:
    """Gamma-Gamma: mean spend of frequency[i] transactions per customer (0 if none)."""

def param_draws(
    params: list[float], covariance: list[list[float]], draws: int, seed: int
) -> list[list[float]]:
    """``draws`` parameter vectors exp(N(ln θ, Σ_log)), Σ_log[i][j] = cov[i][j] / (θ_i θ_j)
    recovered from the natural-scale covariance ``fit`` returns."""

def bootstrap_params(
    model: _ModelKind,
    frequency: _ArrowStreamExportable,
    second: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    weights: _ArrowStreamExportable | None,
    start: list[float],
    draws: int,
    seed: int,
    max_iter: int = 500,
) -> list[list[float] | None]:
    """Refits on ``draws`` resamples of the customers with replacement, each started from
    ``start`` (None: the refit did not converge). Purchase models only."""

def interval(
    model: _PurchaseModelKind,
    what: _IntervalOf,
    draws: list[list[float]],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    level: float,
    horizon: float = 0.0,
    n: int = 0,
    steps: int = 0,
    step_length: float = 0.0,
    discount_rate: float = 0.0,
    spend: _ArrowStreamExportable | None = None,
    monetary: _ArrowStreamExportable | None = None,
    spend_draws: list[list[float]] | None = None,
) -> tuple[F64Column, F64Column]:
    """Per-row (lower, upper) quantiles (type 7) of the central ``level`` interval of a
    prediction over parameter draws, evaluated once per distinct (frequency, recency, T).
    For ``clv`` with ``monetary`` and ``spend_draws`` (Gamma-Gamma parameter draws, one per
    purchase draw) each draw's value is multiplied by that draw's expected spend per row."""

def delta_interval(
    model: _PurchaseModelKind,
    what: _IntervalOf,
    params: list[float],
    covariance: list[list[float]],
    frequency: _ArrowStreamExportable,
    recency: _ArrowStreamExportable,
    t: _ArrowStreamExportable,
    level: float,
    horizon: float = 0.0,
    n: int = 0,
    steps: int = 0,
    step_length: float = 0.0,
    discount_rate: float = 0.0,
    spend: _ArrowStreamExportable | None = None,
    monetary: _ArrowStreamExportable | None = None,
    spend_params: list[float] | None = None,
    spend_covariance: list[list[float]] | None = None,
) -> tuple[F64Column, F64Column]:
    """Per-row (lower, upper) bounds of the central ``level`` interval of a prediction by
    the delta method on the log-parameters (normal on the log scale for expected purchases
    and CLV, on the logit scale for probabilities), from the estimates and their
    natural-scale covariance; with ``monetary``, ``spend_params`` and ``spend_covariance``
    the CLV interval adds Gamma-Gamma's parameter uncertainty."""

# ---- END models section ---------------------------------------------------------------------

# ---- summary and segment (core-summary) ---------------------------------------------------

@final
class ArrowStream:
    """Result columns, consumed once through the Arrow PyCapsule stream interface
    (``polars.DataFrame(stream)``)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

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
    # ("customer", "time", "amount"); the extension's signature shows it as `...`.
    names: tuple[str, str, str] = ...,
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
    by_name: str = ...,  # "segment"
    value_names: list[str] | None = None,
) -> ArrowStream:
    """One pass per-group totals: first_row (UInt32), count (Int64), and per value column i
    sum_i (Float64) and valid_i (Int64, non-null count). Sorted by key."""

# ---- end of core-summary section -----------------------------------------------------------

# ---- core-resample section -----------------------------------------------------------------

def bootstrap_counts(
    cluster: _ArrowStreamExportable,
    group: _ArrowStreamExportable,
    *,
    clusters: int,
    groups: int,
    resamples: int,
    seed: int,
) -> ArrowStream:
    """Cluster-bootstrap counts: one UInt32 column ``count`` of ``resamples * groups`` values,
    resample-major. ``cluster`` (< clusters) and ``group`` (< groups) are UInt32 columns of
    equal length, one row per answer; each resample draws ``clusters`` clusters with
    replacement and counts their answers per group."""

# ---- retention (rust/retention/; sBG and BdW) -----------------------------------------------
# Cohorts cross as lists: lost[i][t-1] customers of cohort i with lifetime t, censored[i][t]
# customers still active after t renewals when observation ended. Models: "sbg", "bdw".

@type_check_only
class RetentionFitResult(TypedDict):
    model: str
    param_names: list[str]
    params: list[float]
    standard_errors: list[float] | None
    covariance: list[list[float]] | None
    log_likelihood: float
    converged: bool
    identified: bool
    n_iterations: int
    message: str
    n_customers: float
    gradient_max_abs: float

def retention_fit(
    model: str,
    lost: list[list[float]],
    censored: list[list[float]],
    start: list[float] | None = None,
    max_iter: int = 200,
) -> RetentionFitResult:
    """One parameter set for the pooled cohorts (GIL released)."""

def retention_fit_each(
    model: str, lost: list[list[float]], censored: list[list[float]], max_iter: int = 200
) -> list[RetentionFitResult]:
    """Each cohort fitted on its own, in parallel."""

def retention_log_likelihood(
    model: str, params: list[float], lost: list[list[float]], censored: list[list[float]]
) -> float: ...
def retention_survival(model: str, params: list[float], t: list[float]) -> list[float]: ...
def retention_rate(model: str, params: list[float], t: list[float]) -> list[float]: ...
def retention_derl(
    model: str,
    params: list[float],
    renewals: list[float],
    discount_rate: float,
    closed_form: bool = True,
) -> list[float]:
    """DERL(d | k renewals) per k; sBG's closed form unless closed_form=False (the sum)."""

def retention_elasticity(
    model: str, params: list[float], renewals: list[float], discount_rate: float
) -> list[float]: ...

# ---- core-markov section -------------------------------------------------------------------

def absorption_values(
    src: _ArrowStreamExportable,
    dst: _ArrowStreamExportable,
    prob: _ArrowStreamExportable,
    reward: _ArrowStreamExportable,
    *,
    start: int,
    dead_scenario: _ArrowStreamExportable,
    dead_state: _ArrowStreamExportable,
    scenarios: int,
    tol: float = 1e-12,
    max_sweeps: int = 20_000,
) -> list[float]:
    """Absorption values from ``start``: ``[full chain, scenario 0, scenario 1, ...]``.

    States are ``0 .. len(reward) - 1``; ``src -> dst`` with probability ``prob`` (UInt32,
    UInt32, Float64) are the transient-to-transient edges (absorption into null is each row's
    missing mass), ``reward[s]`` (Float64) the value earned on absorption from ``s``. Scenario
    ``k`` makes the states ``dead_state[i]`` with ``dead_scenario[i] == k`` absorbing-null.
    Raises CoreError on invalid input or when a loop does not converge in ``max_sweeps``."""

# ---- end of core-markov section ------------------------------------------------------------
