"""Fitted sBG / BdW retention models and the fit functions (the numbers come from the Rust
core, ``truenorth._core.retention_*``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from .. import _core
from ._data import CohortCounts, RetentionInputError, from_records, from_survivors

ModelKind = Literal["sbg", "bdw"]
MODELS: dict[str, str] = {
    "sbg": "shifted-beta-geometric (Fader & Hardie 2007)",
    "bdw": "beta-discrete-Weibull (Fader, Hardie, Liu, Davin & Steenburgh 2018)",
}


class NotIdentifiedError(RetentionInputError):
    """The data do not pin the parameters down (too few periods, no churn, or no sign of
    heterogeneity): the likelihood keeps rising towards a boundary of the parameter space."""


@dataclass(frozen=True)
class RetentionModel:
    """A fitted sBG or BdW model of contract duration.

    Lifetimes T count the periods paid for; S(t) = P(T > t) is the share of a cohort still
    active after t renewals, r(t) = S(t)/S(t-1) the share of those active after t-1 renewals
    who renew the t-th time. sBG: S(t) = B(α, β+t)/B(α, β); BdW: S(t) = B(α, β+t^c)/B(α, β)
    (c < 1: individual churn falls with tenure, c > 1: rises; c = 1 is sBG).

    Example:
        >>> from truenorth import retention
        >>> m = retention.fit([1000, 631, 468, 382, 326, 289, 262, 241])
        >>> {k: round(v, 3) for k, v in m.params.items()}
        {'alpha': 0.704, 'beta': 1.182}
        >>> tuple(round(s, 3) for s in m.survival([1, 7, 12]))
        (0.627, 0.239, 0.17)
        >>> round(m.derl(0.1, renewals=7), 3)
        6.842
    """

    model: ModelKind
    params: dict[str, float]
    standard_errors: dict[str, float] | None
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str
    n_iterations: int = 0
    covariance: list[list[float]] | None = field(default=None, repr=False)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def aic(self) -> float:
        """2k - 2 LL."""
        return 2 * self.n_params - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        """k ln(n) - 2 LL, n = customers."""
        return self.n_params * math.log(self.n_customers) - 2 * self.log_likelihood

    def _p(self) -> list[float]:
        return list(self.params.values())

    def survival(self, t: int | Iterable[int]) -> list[float]:
        """S(t): the share of a new cohort still active after t renewals (S(0) = 1)."""
        return list(_core.retention_survival(self.model, self._p(), _periods(t, "t")))

    def retention_rate(self, t: int | Iterable[int]) -> list[float]:
        """r(t) = S(t)/S(t-1), t >= 1: it rises with t under sBG although no customer's own
        churn probability changes (the sorting effect of heterogeneity)."""
        return list(_core.retention_rate(self.model, self._p(), _periods(t, "t")))

    def projected_survivors(self, cohort_size: float, t: int | Iterable[int]) -> list[float]:
        """Expected customers of a cohort of ``cohort_size`` still active after t renewals."""
        return [cohort_size * s for s in self.survival(t)]

    def derl(self, discount_rate: float, renewals: int = 0) -> float:
        """Expected discounted residual lifetime of a customer who has renewed ``renewals``
        times and is about to decide on the next renewal: Σ_j S(k+1+j)/S(k)·(1+d)^-j, in
        periods (Fader & Hardie 2010). sBG: the closed form with ₂F₁; BdW: the sum, truncated
        when its remainder is provably below 1e-13 of the total."""
        return self.derls(discount_rate, [renewals])[0]

    def derls(self, discount_rate: float, renewals: Sequence[int]) -> list[float]:
        """:meth:`derl` for several renewal counts."""
        _rate(discount_rate)
        return list(
            _core.retention_derl(
                self.model, self._p(), _periods(renewals, "renewals"), discount_rate
            )
        )

    def residual_value(self, margin: float, discount_rate: float, renewals: int = 0) -> float:
        """Expected residual value of an active customer: margin per period × DERL."""
        return margin * self.derl(discount_rate, renewals)

    def customer_value(self, margin: float, discount_rate: float) -> float:
        """Expected value of a customer at acquisition, first period included:
        m · Σ_t S(t)/(1+d)^t = m · (1 + DERL(d | 0)/(1+d))."""
        return margin * (1.0 + self.derl(discount_rate, 0) / (1.0 + discount_rate))

    def elasticity(self, discount_rate: float, renewals: int = 0) -> float:
        """Retention elasticity of residual value: the % increase of DERL per 1% increase in
        every future renewal probability (Fader & Hardie 2010's retention elasticity, as the
        derivative at 0)."""
        _rate(discount_rate)
        return float(
            _core.retention_elasticity(
                self.model, self._p(), _periods([renewals], "renewals"), discount_rate
            )[0]
        )

    def summary(self) -> pl.DataFrame:
        """Parameters with standard errors, one row each."""
        se = self.standard_errors or {}
        return pl.DataFrame(
            {
                "parameter": list(self.params),
                "estimate": list(self.params.values()),
                "std_error": [se.get(k) for k in self.params],
            },
            schema={"parameter": pl.String, "estimate": pl.Float64, "std_error": pl.Float64},
        )


def _periods(t: int | Iterable[int], what: str) -> list[float]:
    values = [t] if isinstance(t, int) else list(t)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != int(v):
            raise RetentionInputError(f"{what}: expected whole numbers >= 0, got {v!r}")
        out.append(float(v))
    return out


def _rate(d: float) -> None:
    if not (isinstance(d, (int, float)) and 1e-6 <= d < 10):
        raise RetentionInputError(
            f"discount_rate {d!r}: expected a rate per period in [1e-6, 10) (at 0 the "
            "residual lifetime of a heterogeneous cohort can be infinite)"
        )


def _result(raw: _core.RetentionFitResult, label: str) -> RetentionModel:
    names = raw["param_names"]
    if not raw["identified"]:
        raise NotIdentifiedError(f"{label}: {raw['message']}")
    se = raw["standard_errors"]
    return RetentionModel(
        model=_kind(raw["model"]),
        params=dict(zip(names, raw["params"], strict=True)),
        standard_errors=dict(zip(names, se, strict=True)) if se is not None else None,
        log_likelihood=raw["log_likelihood"],
        n_customers=raw["n_customers"],
        converged=raw["converged"],
        message=raw["message"],
        n_iterations=raw["n_iterations"],
        covariance=raw["covariance"],
    )


def _kind(model: str) -> ModelKind:
    if model not in MODELS:
        raise RetentionInputError(f"model {model!r}: expected one of {', '.join(MODELS)}")
    return model  # type: ignore[return-value]


def _identifiable(kind: str, cohorts: Sequence[CohortCounts], label: str) -> None:
    """Checks that need no fit: enough periods and some churn and some survival."""
    need = 2 if kind == "sbg" else 3
    longest = max(c.periods for c in cohorts)
    if longest < need:
        raise NotIdentifiedError(
            f"{label}: {longest} renewal period(s) observed; {kind} needs at least {need} to "
            "identify its parameters"
        )
    if sum(sum(c.lost) for c in cohorts) == 0:
        raise NotIdentifiedError(f"{label}: no customer churned; churn rates cannot be estimated")
    if sum(sum(c.censored[1:]) + sum(c.lost[1:]) for c in cohorts) == 0:
        raise NotIdentifiedError(
            f"{label}: every customer churned at the first renewal; heterogeneity cannot be "
            "estimated"
        )


def fit_counts(
    cohorts: Sequence[CohortCounts], model: str = "sbg", *, label: str = "cohorts"
) -> RetentionModel:
    """Fit one parameter set to the pooled cohorts (Fader & Hardie's multi-cohort sBG)."""
    kind = _kind(model)
    if not cohorts:
        raise RetentionInputError(f"{label}: no cohorts")
    for c in cohorts:
        if c.size <= 0:
            raise RetentionInputError(f"cohort {c.label}: no customers (cohort of size zero)")
    _identifiable(kind, cohorts, label)
    raw = _core.retention_fit(kind, [c.lost for c in cohorts], [c.censored for c in cohorts])
    return _result(raw, label)


def fit(survivors: Sequence[Any], model: str = "sbg") -> RetentionModel:
    """Fit sBG (default) or BdW to survivor counts: one cohort ``[n0, n1, ..., nK]`` (customers
    active at the start and after each renewal) or several such lists (pooled, one parameter
    set; cohorts may be observed for different numbers of periods).

    Example:
        >>> from truenorth import retention
        >>> high_end = [1000, 869, 743, 653, 593, 551, 517, 491]
        >>> m = retention.fit(high_end)
        >>> round(m.params["alpha"], 3), round(m.params["beta"], 3), round(m.log_likelihood, 1)
        (0.668, 3.806, -1611.2)
        >>> w = retention.fit(high_end, model="bdw")
        >>> w.log_likelihood >= m.log_likelihood
        True
    """
    items = list(survivors)
    nested = bool(items) and all(isinstance(x, (list, tuple)) for x in items)
    groups = items if nested else [items]
    cohorts = [
        from_survivors(g, label=f"cohort {i}" if nested else "cohort") for i, g in enumerate(groups)
    ]
    return fit_counts(cohorts, model, label="cohort" if not nested else "cohorts")


def fit_records(
    records: pl.DataFrame,
    model: str = "sbg",
    *,
    start: str = "start",
    end: str = "end",
    observation_end: int | None = None,
) -> RetentionModel:
    """Fit one parameter set to per-customer records with integer periods (see
    :func:`cohort_counts` for the columns)."""
    cohorts = from_records(records, start=start, end=end, observation_end=observation_end)
    return fit_counts(cohorts, model, label="records")


@dataclass(frozen=True)
class CohortFit:
    """The fit of one cohort: the model, or why there is none."""

    counts: CohortCounts
    model: RetentionModel | None
    problem: str | None


def fit_each(cohorts: Sequence[CohortCounts], model: str = "sbg") -> list[CohortFit]:
    """Fit every cohort on its own (in parallel in the core). A cohort whose parameters are not
    identified gets ``model=None`` and the reason in ``problem`` instead of an exception."""
    kind = _kind(model)
    out: list[CohortFit | None] = [None] * len(cohorts)
    todo = []
    for i, c in enumerate(cohorts):
        if c.size <= 0:
            out[i] = CohortFit(c, None, f"cohort {c.label}: no customers (cohort of size zero)")
            continue
        try:
            _identifiable(kind, [c], f"cohort {c.label}")
        except NotIdentifiedError as exc:
            out[i] = CohortFit(c, None, str(exc))
            continue
        todo.append(i)
    raws = _core.retention_fit_each(
        kind, [cohorts[i].lost for i in todo], [cohorts[i].censored for i in todo]
    )
    for i, raw in zip(todo, raws, strict=True):
        try:
            out[i] = CohortFit(cohorts[i], _result(raw, f"cohort {cohorts[i].label}"), None)
        except NotIdentifiedError as exc:
            out[i] = CohortFit(cohorts[i], None, str(exc))
    return [o for o in out if o is not None]


def log_likelihood(model: str, params: Sequence[float], cohorts: Sequence[CohortCounts]) -> float:
    """Log-likelihood of cohorts at given parameters (α, β[, c])."""
    return float(
        _core.retention_log_likelihood(
            _kind(model), list(params), [c.lost for c in cohorts], [c.censored for c in cohorts]
        )
    )
