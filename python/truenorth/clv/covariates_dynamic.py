"""Pareto/NBD with time-varying covariates: the extended Pareto/NBD of Bachmann, Meierer & Näf
(2021), CLVTools' ``pnbd()`` after ``SetDynamicCovariates``.

Covariates are given per customer per period (a week by default). In period k a customer's
purchase rate is λ·exp(γ_trans'z_trans,k) and the dropout hazard μ·exp(γ_life'z_life,k), with
λ ~ Gamma(r, alpha) and μ ~ Gamma(s, beta) across customers, as in the plain Pareto/NBD. A
covariate that does not change over time gives exactly the static-covariate model
(alpha_i = alpha·exp(−z'γ_trans), beta_i = beta·exp(−z'γ_life); ``truenorth.clv.covariates``),
and zero coefficients the plain Pareto/NBD; so, as there, a positive transaction coefficient
means more purchases and a positive lifetime coefficient an earlier dropout.

Period boundaries: period k covers ``[origin + k·period_days, origin + (k+1)·period_days)``,
where ``origin`` is the earliest period start in the covariate table; every start in the
``period`` column must be on that grid. A purchase on a period's first day is in that period.
Time is measured in periods (the parameters ``alpha`` and ``beta`` are in periods). Each
customer's clock starts at the first purchase; T runs to the calibration end. Rows of the
same customer and timestamp are one purchase (pass dates to count same-day purchases once,
as CLVTools does). Customers whose first purchase is after the calibration end are in neither
the fit nor the predictions.

What the covariate table needs: one row per customer and period, for every period from the
customer's first purchase up to and including the period containing the calibration end;
for predictions over ``horizon`` periods, also every period that the window after the
calibration end touches (the covariates' future values: planned marketing, seasonality, a
last-value-carried-forward assumption — your choice, stated in the table). Numeric columns
enter as they are; text/categorical columns are dummy coded with the alphabetically first
level as reference, as for static covariates.

Example::

    fit = fit_dynamic_covariates(transactions, weekly, transaction=["promo"],
                                 lifetime=["promo"], calibration_end=date(2024, 6, 30))
    fit.coefficients()      # estimate, std_error, z, p_value
    fit.predict(transactions, weekly, horizon=13)   # p_alive, expected_purchases
    fit.predict(transactions, weekly, horizon=13, interval=0.9, method="normal", draws=200)
    fit.expected_purchases_new([4, 13], covariates={"promo": 1.0})  # a new customer
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .. import _core
from . import _dyn_intervals, _dyn_new
from ._dyn_draws import Refit
from ._dynpath import (
    Calendar,
    Columns,
    calibration,
    check_table,
    coefficient_map,
    column_params,
    native_args,
)
from ._input import ModelInputError, as_frame
from ._uncertainty import Method
from .covariates import CovariateSpec

__all__ = ["DynamicCovariateFit", "fit_dynamic_covariates"]

FORMAT = "truenorth.clv.dyncov_model"
BASE = ("r", "alpha", "s", "beta")


@dataclass
class DynamicCovariateFit:
    """A fitted (or loaded) time-varying-covariate Pareto/NBD."""

    params: dict[str, float]
    coefficient_values: dict[str, float]
    spec: CovariateSpec
    calendar: Calendar
    columns: Columns = field(default_factory=Columns)
    log_likelihood: float = math.nan
    standard_errors: dict[str, float] | None = None
    covariance: list[list[float]] | None = None
    converged: bool = False
    n_iterations: int = 0
    n_observations: float = 0.0
    message: str = ""

    def _vector(self) -> list[float]:
        """Parameters per design column, as the native predictions read them."""
        base = [self.params[n] for n in BASE]
        return column_params(self.spec, base, list(self.coefficient_values.values()))

    def coefficients(self) -> pl.DataFrame:
        """Estimate, standard error, Wald z and two-sided p-value of each coefficient."""
        se = self.standard_errors or {}
        rows = []
        for name, v in self.coefficient_values.items():
            s = se.get(name, math.nan)
            z = v / s if s and s == s else math.nan
            p = math.erfc(abs(z) / math.sqrt(2)) if z == z else math.nan
            rows.append((name, v, s, z, p))
        return pl.DataFrame(
            rows, schema=["coefficient", "estimate", "std_error", "z", "p_value"], orient="row"
        )

    @property
    def n_estimated(self) -> int:
        return len(BASE) + len(self.coefficient_values)

    @property
    def aic(self) -> float:
        """2k − 2 LL."""
        return 2 * self.n_estimated - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        """k ln n − 2 LL (n: customers)."""
        return self.n_estimated * math.log(self.n_observations) - 2 * self.log_likelihood

    def _table(self, covariates: Any) -> pl.DataFrame:
        names = list(dict.fromkeys(c.column for c in self.spec.transaction + self.spec.lifetime))
        table, origin = check_table(covariates, self.columns, names, self.calendar.period_days)
        shift = (origin - self.calendar.origin).total_seconds() / 86400 / self.calendar.period_days
        if shift != int(shift):
            raise ModelInputError(
                f"covariates: periods start on {origin}, which is not on the fitted grid "
                f"({self.calendar.period_days:g} days from {self.calendar.origin})"
            )
        return table.with_columns(pl.col("_k") + int(shift))

    def log_likelihood_at(self, transactions: Any, covariates: Any) -> float:
        """Log-likelihood of (other) data at this model's parameters."""
        table = self._table(covariates)
        paths = calibration(transactions, table, self.spec, self.columns, self.calendar)
        ll, _ = _core.dyncov_log_likelihood(self._vector(), *native_args(paths))
        return ll

    def predict(
        self,
        transactions: Any,
        covariates: Any,
        *,
        horizon: float,
        interval: float | None = None,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.DataFrame:
        """Per customer: frequency, recency, T (periods), P(alive) at the calibration end and
        the expected number of purchases over the next ``horizon`` periods, under the
        covariate values the table gives for those periods.

        With ``interval`` (e.g. 0.9): also ``p_alive_lower/_upper`` and
        ``expected_purchases_lower/_upper``, the central interval of the parameters'
        estimation error, as the static models' (same options): by the delta method
        (``method="delta"``, the default: 2(4 + C) + 1 passes for C coefficients) or over
        ``draws`` parameter draws, ``"normal"`` (the fit's asymptotic normal) or
        ``"bootstrap"`` (refits on resampled customers; a model fitted in this session),
        seeded by ``seed``; see ``truenorth.clv._dyn_intervals``. They are intervals of each
        customer's *expected* purchases, not of the count the customer will make.

        Example::

            band = fit.predict(tr, cov, horizon=13, interval=0.9, method="normal", draws=200)
        """
        if not (isinstance(horizon, int | float) and math.isfinite(horizon) and horizon >= 0):
            raise ModelInputError(f"horizon must be a number of periods >= 0, got {horizon!r}")
        b = None if interval is None else _dyn_intervals.band(interval, draws, seed, method)
        # one window serves the point values and, with `interval`, every bound's evaluation
        win = _dyn_intervals.window(self, transactions, covariates, float(horizon))
        paths = win.paths
        pa, ex = win.predict(self._vector())
        bad = ~np.isfinite(np.asarray(ex, dtype=float))
        if bad.any():
            i = int(np.argmax(bad))
            raise ModelInputError(
                f"covariates: customer {paths.customers[i]!r} has covariate values so large "
                "that exp(coefficients · covariates) overflows; check their scale"
            )
        out = pl.DataFrame(
            {
                self.columns.customer: paths.customers,
                "frequency": paths.x,
                "recency": paths.tx,
                "T": paths.T,
                "p_alive": pa,
                "expected_purchases": ex,
            }
        )
        if b is None:
            return out
        return _dyn_intervals.with_bounds(self, out, win, b)

    def conditional_p_purchases(
        self,
        transactions: Any,
        covariates: Any,
        n: int,
        *,
        horizon: float,
        interval: float | None = None,
        draws: int = 200,
        seed: int = 0,
        method: Method = "delta",
    ) -> pl.DataFrame:
        """Per customer: P(X = n), the probability of exactly ``n`` purchases over the next
        ``horizon`` periods given the history, under the covariate values the table gives
        for those periods (with ``interval``: ``_lower``/``_upper`` bounds, options as
        ``predict``'s).

        Example::

            fit.conditional_p_purchases(tr, cov, 0, horizon=13, interval=0.9, method="normal")
        """
        b = None if interval is None else _dyn_intervals.band(interval, draws, seed, method)
        return _dyn_intervals.conditional_p_purchases(self, transactions, covariates, n, horizon, b)

    def expected_purchases_new(
        self, t: float | Sequence[float], *, covariates: Any, born: Any = None
    ) -> float | pl.Series:
        """E[X(t)]: expected repeat purchases of a new customer in the first ``t`` periods
        after their first purchase at ``born``, under the covariate path ``covariates`` (a
        dict ``{column: value}`` held over the whole window, or a table of the customer's
        periods: ``period`` and the covariate columns, every period from ``born`` to
        ``born + t``). See ``truenorth.clv._dyn_new``.

        Example::

            fit.expected_purchases_new([4, 13, 26], covariates=plan, born=date(2024, 3, 6))
        """
        return _dyn_new.expected_purchases_new(self, t, covariates, born)

    def p_purchases(
        self, n: int, t: float | Sequence[float], *, covariates: Any, born: Any = None
    ) -> float | pl.Series:
        """P(X(t) = n): probability that a new customer, first purchase at ``born``, makes
        ``n`` repeat purchases in the first ``t`` periods under the covariate path
        ``covariates`` (as ``expected_purchases_new``).

        Example::

            fit.p_purchases(0, 13, covariates={"promo": 0.0})  # P(no repeat in a quarter)
        """
        return _dyn_new.p_purchases(self, n, t, covariates, born)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The model as JSON (parameters, coefficients and their coding, calendar, fit
        statistics); written to ``path`` if given. ``DynamicCovariateFit.from_json`` reads it."""
        doc = {
            "format": FORMAT,
            "version": 1,
            "params": self.params,
            "coefficients": self.coefficient_values,
            "spec": self.spec.to_dict(),
            "calendar": {
                "origin": self.calendar.origin.isoformat(),
                "period_days": self.calendar.period_days,
                "calibration_end": self.calendar.calibration_end.isoformat(),
            },
            "columns": vars(self.columns),
            "fit": {
                "log_likelihood": self.log_likelihood,
                "standard_errors": self.standard_errors,
                "covariance": self.covariance,
                "converged": self.converged,
                "n_iterations": self.n_iterations,
                "n_observations": self.n_observations,
                "message": self.message,
            },
        }
        text = json.dumps(doc, indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @staticmethod
    def from_json(source: str | os.PathLike[str]) -> DynamicCovariateFit:
        """A model from ``to_json``'s text or a path to it."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text()
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ModelInputError(f"model document: format is not {FORMAT!r}")
            cal = doc["calendar"]
            fit = doc["fit"]
            return DynamicCovariateFit(
                params={n: float(doc["params"][n]) for n in BASE},
                coefficient_values={k: float(v) for k, v in doc["coefficients"].items()},
                spec=CovariateSpec.from_dict(doc["spec"]),
                calendar=Calendar(
                    datetime.fromisoformat(cal["origin"]),
                    float(cal["period_days"]),
                    datetime.fromisoformat(cal["calibration_end"]),
                ),
                columns=Columns(**doc["columns"]),
                log_likelihood=float(fit["log_likelihood"]),
                standard_errors=fit.get("standard_errors"),
                covariance=fit.get("covariance"),
                converged=bool(fit.get("converged")),
                n_iterations=int(fit.get("n_iterations") or 0),
                n_observations=float(fit.get("n_observations") or 0),
                message=str(fit.get("message") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelInputError):
                raise
            raise ModelInputError(f"model document: {exc}") from exc


def fit_dynamic_covariates(
    transactions: Any,
    covariates: Any,
    *,
    transaction: Sequence[str] = (),
    lifetime: Sequence[str] = (),
    calibration_end: datetime | Any = None,
    period_days: float = 7.0,
    customer: str = "customer",
    date: str = "date",
    period: str = "period",
    reference: dict[str, str] | None = None,
    constrain: Sequence[str] = (),
    l2: dict[str, float] | None = None,
    start: dict[str, float] | None = None,
    max_iter: int = 500,
) -> DynamicCovariateFit:
    """Fit the Pareto/NBD with time-varying covariates by maximum likelihood.

    ``transactions``: one row per purchase (``customer``, ``date``: date or datetime);
    ``covariates``: one row per customer and period (``customer``, ``period``: the period's
    start, and the covariate columns). ``calibration_end`` defaults to the last purchase.
    ``start``: natural-scale start values by name (r, alpha, s, beta, coefficient names); the
    default starts at the plain Pareto/NBD fit with zero coefficients. ``constrain`` (columns
    in both processes: one ``constr.<col>`` coefficient for both) and ``l2`` (``{"transaction":
    λ, "lifetime": λ}``: λ·Σγ² of that process added to the mean negative log-likelihood;
    constrained coefficients unpenalised) work as for the static covariates.

    >>> from truenorth.clv.covariates_dynamic_simulate import simulate_dynamic
    >>> tr, cov = simulate_dynamic(300, weeks=30, seed=1)
    >>> fit = fit_dynamic_covariates(tr, cov, transaction=["promo"], lifetime=["promo"])
    >>> fit.coefficients()["coefficient"].to_list()
    ['trans.promo', 'life.promo']
    """
    cols = Columns(customer, date, period)
    names = list(dict.fromkeys([*transaction, *lifetime]))
    if not names:
        raise ModelInputError("covariates: name at least one transaction or lifetime column")
    table, origin = check_table(covariates, cols, names, period_days)
    spec = CovariateSpec.build(
        table, list(transaction), list(lifetime), list(constrain), dict(l2 or {}), reference or {}
    )
    tr = as_frame(transactions)
    if calibration_end is None:
        if date not in tr.columns or tr.height == 0:
            raise ModelInputError(f"transactions: no column {date!r} or no rows")
        calibration_end = tr[date].max()
    end = pl.Series([calibration_end]).cast(pl.Datetime("us"))[0]
    cal = Calendar(origin, float(period_days), end)
    paths = calibration(tr, table, spec, cols, cal)
    coef_names = spec.coefficient_names()
    x0 = None
    if start is not None:
        unknown = set(start) - set(BASE) - set(coef_names)
        if unknown or not set(BASE) <= set(start):
            raise ModelInputError(
                f"start: needs r, alpha, s, beta (and optionally {coef_names}); "
                f"unknown {sorted(unknown)}"
            )
        x0 = [float(start[n]) for n in BASE] + [float(start.get(n, 0.0)) for n in coef_names]
    ti, li, pen = coefficient_map(spec)
    out = _core.dyncov_fit(
        *native_args(paths), start=x0, max_iter=max_iter, trans_index=ti, life_index=li, l2=pen
    )
    p = list(out["params"])
    names_all = [*BASE, *coef_names]
    se = out["standard_errors"]
    fitted = DynamicCovariateFit(
        params=dict(zip(BASE, p[:4], strict=True)),
        coefficient_values=dict(zip(coef_names, p[4:], strict=True)),
        spec=spec,
        calendar=cal,
        columns=cols,
        log_likelihood=float(out["log_likelihood"]),
        standard_errors=dict(zip(names_all, se, strict=True)) if se is not None else None,
        covariance=out["covariance"],
        converged=bool(out["converged"]),
        n_iterations=int(out["n_iterations"]),
        n_observations=float(out["n_observations"]),
        message=str(out["message"]),
    )
    # a bootstrap interval refits on these paths; not persisted
    fitted.__dict__["_refit"] = Refit(paths, max_iter)
    return fitted
