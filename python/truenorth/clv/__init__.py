"""Customer lifetime value: summaries, BTYD models, spend model, CLV, persistence, simulation."""

from ._input import ModelInputError, time_unit_days
from .models import (
    BetaGeo,
    BetaGeoBetaBinom,
    ConvergenceWarning,
    GammaGamma,
    ModifiedBetaGeo,
    NotFittedError,
    ParetoNBD,
    SpendFrequencyCorrelationWarning,
)
from .persist import load
from .simulate import (
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_bg_nbd_transactions,
    simulate_gamma_gamma,
    simulate_mbg_nbd,
    simulate_pareto_nbd,
)
from .summary import summarize
from .value import lifetime_value

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceWarning",
    "GammaGamma",
    "ModelInputError",
    "ModifiedBetaGeo",
    "NotFittedError",
    "ParetoNBD",
    "SpendFrequencyCorrelationWarning",
    "lifetime_value",
    "load",
    "simulate_bg_bb",
    "simulate_bg_nbd",
    "simulate_bg_nbd_transactions",
    "simulate_gamma_gamma",
    "simulate_mbg_nbd",
    "simulate_pareto_nbd",
    "summarize",
    "time_unit_days",
]
