"""Holdout backtest of the purchase models: split the log at a calibration end, fit each
candidate on the calibration window, and compare what each predicts for the holdout window
with what the customers did (the validation of Fader, Hardie & Lee 2005, for several models
side by side).

The candidates come from the model registry (``truenorth.clv.models_registry``): every
continuous-time purchase model can be named, and a newly registered one needs nothing here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .._core import CoreError
from ._holdout import holdout_predictions
from ._input import ModelInputError, numeric_column, rfm_columns
from ._model import _SpendModel
from ._purchase import _PurchaseModel
from ._time import parse_span
from .diagnostics import (
    _accuracy,
    _bins,
    _check_max_count,
    _conditional,
    _tracking,
    frequency_table,
)
from .registry import model_class, models_registry
from .summary import summarize

__all__ = ["Backtest", "backtest", "default_models"]

#: the models compared by default, in this order, when registered (``ggom_nbd`` joins once
#: its class is registered)
DEFAULT_MODELS = ("bg_nbd", "mbg_nbd", "pareto_nbd", "ggom_nbd")


def default_models() -> tuple[str, ...]:
    """The registered ones among ``DEFAULT_MODELS``: BG/NBD, MBG/NBD, Pareto/NBD and, when
    registered, GGom/NBD.

    >>> default_models()[:3]
    ('bg_nbd', 'mbg_nbd', 'pareto_nbd')
    """
    known = models_registry(process="purchase", discrete=False)
    return tuple(k for k in DEFAULT_MODELS if k in known)


@dataclass(frozen=True)
class Backtest:
    """What ``backtest`` found. Every table is a Polars frame in long form (a ``model``
    column), so its columns do not depend on the models compared.

    - ``comparison``: one row per candidate: fit (``log_likelihood``, ``aic``, ``bic``,
      ``converged``, ``message``, ``parameters`` as text with standard errors), holdout
      accuracy (see ``holdout_accuracy``) and the calibration chi-square of ``frequency``.
      A candidate whose fit failed has a row with ``error`` set and nulls elsewhere.
    - ``parameters``: model, parameter, estimate, std_error (the spend model too).
    - ``tracking``: ``expected_cumulative_transactions`` over calibration + holdout.
    - ``conditional``: ``conditional_expectations`` by calibration repeat count.
    - ``frequency``: ``frequency_table`` of the calibration summary.
    - ``spend``: with an amount column and a spend model, by calibration repeat count among
      customers who bought in the holdout: mean actual holdout spend per purchase
      (``monetary_value_holdout``) and mean predicted spend; else None, with the reason in
      ``spend_error`` when the spend model could not be fitted or used.
    - ``summary``: the calibration/holdout summary; ``models``: the fitted models by kind.
    """

    comparison: pl.DataFrame
    parameters: pl.DataFrame
    tracking: pl.DataFrame
    conditional: pl.DataFrame
    frequency: pl.DataFrame
    spend: pl.DataFrame | None
    spend_error: str | None
    summary: pl.DataFrame
    models: dict[str, Any] = field(repr=False)


def backtest(
    transactions: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    calibration_end: Any,
    observation_end: Any = None,
    models: Sequence[str] | None = None,
    period: str = "1d",
    unit: str = "1w",
    spend: str | None = "gamma_gamma",
    max_count: int = 7,
    every: str | None = None,
) -> Backtest:
    """Fit each of ``models`` on the log up to ``calibration_end`` and check it on the rest.

    Args:
        transactions: the purchase log (as for ``summarize``).
        customer, time, amount: its columns (``amount`` optional: without it, no spend).
        calibration_end: last instant of the calibration window (its whole ``period``).
        observation_end: end of the holdout window (default: the latest purchase).
        models: registered continuous-time purchase models by kind; default
            :func:`default_models` (BG/NBD, MBG/NBD, Pareto/NBD and GGom/NBD when registered).
        period: purchases of a customer within one period count once (as ``summarize``).
        unit: the time unit of recency and T, and of the fitted models. ``period``, ``unit``
            and ``every`` are fixed lengths ("1d", "1w"): the tracking counts in them.
        spend: a registered spend model kind fitted when ``amount`` is given (None: none).
        max_count: the top repeat-count bin of ``conditional`` and ``frequency`` ("7+").
        every: the tracking period (default: ``unit``).

    A candidate that cannot be fitted is reported in ``comparison`` (``error``) and left out
    of the other tables; if none can be fitted, the first error is raised. A fit that did not
    converge stays in, with ``converged`` false.

    Example (a simulated BG/NBD log of 2024, calibrated on the first half)::

        >>> from truenorth.clv import backtest, simulate_bg_nbd_transactions
        >>> log = simulate_bg_nbd_transactions(2000, 0.25, 28.0, 0.8, 2.5, seed=1)
        >>> bt = backtest(log, customer="customer", time="time", calibration_end="2024-06-30",
        ...               models=["bg_nbd", "pareto_nbd"])
        >>> bt.comparison.select("model", "converged").rows()
        [('bg_nbd', True), ('pareto_nbd', True)]
        >>> bt.tracking.group_by("phase").agg(periods=pl.len() / 2).sort("phase").rows()
        [('calibration', 26.0), ('holdout', 27.0)]
    """
    k = _check_max_count(max_count)
    for what, text in (("period", period), ("unit", unit), ("every", every or unit)):
        if parse_span(text, what).calendar:
            raise ModelInputError(
                f"{what}: {text!r} is a calendar duration; the backtest tracks the cohort in "
                "fixed-length periods (e.g. '1d', '1w'), since months differ in length"
            )
    kinds = default_models() if models is None else tuple(models)
    if not kinds:
        raise ModelInputError("models: name at least one purchase model")
    classes = {}
    for kind in kinds:
        cls = model_class(kind)
        caps = cls.capabilities
        if caps.process != "purchase" or caps.discrete:
            able = ", ".join(models_registry(process="purchase", discrete=False))
            raise ModelInputError(
                f"models: {kind!r} is not a continuous-time purchase model (these are: {able})"
            )
        classes[kind] = cls
    try:
        summary = summarize(
            transactions,
            customer=customer,
            time=time,
            amount=amount,
            period=period,
            unit=unit,
            observation_end=observation_end,
            calibration_end=calibration_end,
        )
    except CoreError as exc:  # the kernel's check of the two ends, without the values
        end = "the latest purchase" if observation_end is None else repr(observation_end)
        raise ModelInputError(
            f"calibration_end {calibration_end!r} must fall before observation_end ({end}): {exc}"
        ) from None
    holdout_length = float(summary["duration_holdout"].max() or 0.0)  # type: ignore[arg-type]
    if holdout_length < 1.0:
        raise ModelInputError(
            f"calibration_end: the holdout window is {holdout_length:.3g} {unit} long; it must "
            f"be at least one unit ({unit}) — move calibration_end earlier or observation_end "
            "later"
        )
    if not bool((summary["frequency"] > 0).any()):
        raise ModelInputError(
            f"calibration_end: no customer made a repeat purchase by {calibration_end!r}; the "
            "purchase models need repeat purchases in the calibration window"
        )
    fitted: dict[str, _PurchaseModel] = {}
    rows = []
    for kind, cls in classes.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # non-convergence is reported in the table
                model = cls(time_unit=unit).fit(summary)
        except (ArithmeticError, ValueError) as exc:
            rows.append({"model": kind, "label": cls.label, "error": str(exc)})
            continue
        fitted[kind] = model
        rows.append(_fit_row(kind, model))
    if not fitted:
        raise ModelInputError(
            "no candidate model could be fitted: "
            + "; ".join(f"{r['model']}: {r['error']}" for r in rows)
        )
    x, tx, t = rfm_columns(summary)
    actual = numeric_column(summary, "frequency_holdout")
    holdout = holdout_predictions(fitted, summary, x, tx, t, "duration_holdout")
    accuracy = _accuracy(actual, holdout)
    frequency = frequency_table(fitted, summary, max_count=k)
    chi = frequency.group_by("model", maintain_order=True).agg(
        pl.col("chi_square", "chi_square_dof", "chi_square_p").first()
    )
    comparison = (
        pl.DataFrame(rows, schema=_FIT_SCHEMA)
        .join(accuracy, on="model", how="left")
        .join(chi, on="model", how="left")
    )
    spend_model, spend_table, spend_error = None, None, None
    if amount is not None and spend is not None:
        try:
            spend_model, spend_table = _spend(summary, spend, unit, k)
        except (ArithmeticError, ValueError) as exc:  # reported; the purchase models stand
            spend_error = str(exc)
    params = [_param_rows(kind, m) for kind, m in fitted.items()]
    if spend_model is not None:
        params.append(_param_rows(str(spend), spend_model))
    return Backtest(
        comparison=comparison,
        parameters=pl.concat(params),
        tracking=_tracking(
            fitted,
            transactions,
            customer=customer,
            time=time,
            period=period,
            every=every or unit,
            observation_end=observation_end,
            calibration_end=calibration_end,
            cohort=_cohort(summary, customer),
        ),
        conditional=_conditional(x, actual, holdout.predicted, k),
        frequency=frequency,
        spend=spend_table,
        spend_error=spend_error,
        summary=summary,
        models={**fitted, **({str(spend): spend_model} if spend_model is not None else {})},
    )


def _cohort(summary: pl.DataFrame, customer: str) -> tuple[pl.Series, pl.Series] | None:
    """The calibration cohort's keys and first purchases, for the tracking table."""
    if customer in summary.columns and "first_purchase" in summary.columns:
        return summary.get_column(customer), summary.get_column("first_purchase")
    return None


_FIT_SCHEMA = {
    "model": pl.String,
    "label": pl.String,
    "error": pl.String,
    "converged": pl.Boolean,
    "message": pl.String,
    "n_params": pl.Int64,
    "log_likelihood": pl.Float64,
    "aic": pl.Float64,
    "bic": pl.Float64,
    "parameters": pl.String,
}


def _fit_row(kind: str, m: _PurchaseModel) -> dict[str, Any]:
    ll = float(m.log_likelihood) if m.log_likelihood is not None else math.nan
    k = len(m.param_names)
    n = float(m.n_observations or 0.0)
    se = m.standard_errors or {}
    text = ", ".join(
        f"{p}={v:.4g}" + (f" ± {se[p]:.2g}" if p in se and math.isfinite(se[p]) else "")
        for p, v in m.params.items()
    )
    return {
        "model": kind,
        "label": m.label,
        "error": None,
        "converged": m.converged,
        "message": m.message,
        "n_params": k,
        "log_likelihood": ll,
        "aic": 2 * k - 2 * ll,
        "bic": k * math.log(n) - 2 * ll if n > 0 else None,
        "parameters": text,
    }


def _param_rows(kind: str, m: Any) -> pl.DataFrame:
    se = m.standard_errors or {}
    return pl.DataFrame(
        {
            "model": [kind] * len(m.params),
            "parameter": list(m.params),
            "estimate": list(m.params.values()),
            "std_error": [se.get(p) for p in m.params],
        },
        schema={
            "model": pl.String,
            "parameter": pl.String,
            "estimate": pl.Float64,
            "std_error": pl.Float64,
        },
    )


def _spend(summary: pl.DataFrame, kind: str, unit: str, k: int) -> tuple[_SpendModel, pl.DataFrame]:
    cls = model_class(kind)
    if cls.capabilities.process != "spend":
        raise ModelInputError(f"spend: {kind!r} is not a spend model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the correlation check warns; the table shows fit
        model: Any = cls(time_unit=unit).fit(summary)
    predicted = model.expected_spend(summary)
    table = (
        summary.select("frequency", "frequency_holdout", "monetary_value_holdout")
        .with_columns(predicted=predicted)
        .filter(pl.col("frequency_holdout") > 0)
        .group_by(
            _bins(pl.col("frequency"), k).alias("bin"), pl.col("frequency").clip(0, k).alias("_o")
        )
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("monetary_value_holdout").mean().alias("actual"),
            pl.col("predicted").mean().alias("expected"),
        )
        .sort("_o")
        .select(pl.lit(kind).alias("model"), "bin", "customers", "actual", "expected")
    )
    return model, table
