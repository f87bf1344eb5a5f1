"""Customer lifetime value: summaries, BTYD models, spend model, CLV, persistence, simulation.

The models are listed, with what each can do, by ``models_registry()``; a new model is one
class with a ``kind`` and ``Capabilities`` plus ``@register_model``, and persistence
(``load``), ``simulate_model``, ``lifetime_value`` and the ``clv`` rule's ``model`` and
``spend`` options take it from there.

``backtest`` fits candidate models on a calibration window and checks them on a holdout
(comparison, tracking, conditional expectations, frequencies, spend); the same checks run on
any fitted model through ``expected_cumulative_transactions``, ``frequency_table``,
``conditional_expectations`` and ``holdout_accuracy``.
"""

from ._budget import MemoryBudgetWarning, memory_limit
from ._input import ModelInputError, time_unit_days
from ._lrtest import LRTest, lrtest
from .backtest import Backtest, backtest, default_models
from .covariates import with_covariates
from .covariates_simulate import simulate_with_covariates
from .diagnostics import (
    conditional_expectations,
    expected_cumulative_transactions,
    frequency_table,
    holdout_accuracy,
)
from .models import (
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceWarning,
    GammaGamma,
    GammaGompertzNBD,
    ModifiedBetaGeo,
    NotFittedError,
    ParetoNBD,
    SpendFrequencyCorrelationWarning,
)
from .patterns import patterns
from .persist import load
from .registry import Capabilities, models_registry, register_model
from .scoring import score
from .simulate import (
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_bg_nbd_transactions,
    simulate_gamma_gamma,
    simulate_mbg_nbd,
    simulate_model,
    simulate_pareto_nbd,
)
from .summary import summarize
from .value import lifetime_value

__all__ = [
    "Backtest",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "Capabilities",
    "ConvergenceWarning",
    "GammaGamma",
    "GammaGompertzNBD",
    "LRTest",
    "MemoryBudgetWarning",
    "ModelInputError",
    "ModifiedBetaGeo",
    "NotFittedError",
    "ParetoNBD",
    "SpendFrequencyCorrelationWarning",
    "backtest",
    "conditional_expectations",
    "default_models",
    "expected_cumulative_transactions",
    "frequency_table",
    "holdout_accuracy",
    "lifetime_value",
    "load",
    "lrtest",
    "memory_limit",
    "models_registry",
    "patterns",
    "register_model",
    "score",
    "simulate_bg_bb",
    "simulate_bg_nbd",
    "simulate_bg_nbd_transactions",
    "simulate_gamma_gamma",
    "simulate_mbg_nbd",
    "simulate_model",
    "simulate_pareto_nbd",
    "simulate_with_covariates",
    "summarize",
    "time_unit_days",
    "with_covariates",
]
