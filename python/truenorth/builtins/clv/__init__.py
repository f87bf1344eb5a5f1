"""The ``clv`` rule kind: transactions → customer summary → purchase + spend models → CLV.

Example::

    - id: value
      kind: clv
      with:
        source: transactions          # dataset role with customer, time, amount columns
        model: bg_nbd                 # a continuous-time purchase model (see `model` above)
        spend: gamma_gamma            # or null: no spend model, no clv column
        horizon: "12 months"          # or an integer in horizon_unit
        discount_rate: 0.01           # per horizon_unit period
        period: 1d                    # purchases in the same period are merged (or 1mo, 1q, 1y)
        unit: 1w                      # unit of recency and T (1mo with a 1mo period)
        # model_path: models/bgnbd.json   # score with a fitted model instead of fitting
        # (services can also pass fitted models: engine.run(..., resources={"value": model}))

``on:`` may name the transactions table instead of ``source``; ``when:`` filters transactions
(e.g. ``when: "country = 'NL'"``). Writes ``customers`` (option ``into``): the summary columns (customer key, frequency, recency,
T, monetary_value, n_transactions, revenue, first_purchase, last_purchase) plus ``p_alive``,
``expected_purchases`` (over the horizon), and with a spend model ``expected_spend`` and
``clv``. With ``interval: 0.9`` also ``p_alive_lower``/``p_alive_upper`` and (with a spend
model) ``clv_lower``/``clv_upper``: the central 90% interval from the purchase model's
parameter uncertainty — by the delta method on the log-parameters (``interval_method: delta``,
the default), over ``draws`` (200) draws from their asymptotic normal (``normal``, seeded by
``seed``), or refits on resampled customers (``bootstrap``); the spend per purchase is held at
its estimate, except with time-varying covariates (``covariates: {dynamic: ...}``), whose
``clv_lower``/``clv_upper`` also carry a fitted Gamma-Gamma's estimation error (and which add
``expected_purchases_lower``/``_upper``). A model that does not converge, and a Gamma-Gamma fit whose repeat customers' spend
correlates with their frequency (|Pearson ρ| ≥ 0.3, against its independence assumption), are
reported as ``warn`` findings (not printed warnings); repeat customers
with non-positive mean spend (refunds, free orders) are left out of the Gamma-Gamma fit and
counted in an ``info`` finding; their ``expected_spend`` is the fitted model's for a mean
spend of 0 (the population mean, pulled down by each of their repeat purchases).

``model: auto`` chooses the purchase model: it splits the observation window (``holdout: 13w``
counts back from its end, ``calibration_end:`` names the day; neither: the last quarter is
the holdout), backtests the ``models`` (default: BG/NBD, MBG/NBD, Pareto/NBD, GGom/NBD) with
``truenorth.clv.backtest``, picks the lowest per-customer RMSE of holdout purchases
(``select: holdout``: the models predict means, and the mean minimises squared error) or the
lowest calibration BIC (``select: bic``), converged fits first, and refits the pick on the
whole window to score. It also writes ``clv_models`` (per candidate: rank, fit and holdout
figures, ``selected``; plus a ``fit: full`` row for the refit), ``clv_parameters``,
``clv_tracking``, ``clv_conditional`` and ``clv_frequency``, an ``info`` finding naming the
choice and its figures, and ``warn`` findings when the pick's holdout total is off by more
than ``bias_threshold`` (a share), when it did not converge, or for each candidate that could
not be fitted (all failing is an error)::

    - id: value
      kind: clv
      with: {model: auto, holdout: 13w, select: holdout, bias_threshold: 0.1}
"""

from __future__ import annotations

import truenorth

from .options import (
    AUTO,
    MODEL_NEEDS,
    UNIT_DAYS,
    ClvOptions,
    _reads,
    _validate,
    _writes,
    duration_days,
    is_calendar,
    parse_horizon,
    source_of,
    usable_models,
)
from .rule import evaluate

__all__ = [
    "AUTO",
    "KIND",
    "MODEL_NEEDS",
    "UNIT_DAYS",
    "ClvOptions",
    "duration_days",
    "evaluate",
    "is_calendar",
    "parse_horizon",
    "source_of",
    "usable_models",
]

KIND = truenorth.RuleKind(
    name="clv",
    options_model=ClvOptions,
    evaluate=evaluate,
    reads=_reads,
    writes=_writes,
    summary="Customer summary, BG/NBD-family purchase model (or the best of several on a "
    "holdout), Gamma-Gamma spend, discounted CLV.",
    doc=__doc__ or "",
    validate=_validate,
    filters_input=True,
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
