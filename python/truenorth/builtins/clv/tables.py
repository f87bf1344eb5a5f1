"""Schemas of the tables a ``clv`` rule with ``model: auto`` writes (its backtest of the
candidate models). Kept apart from the selection logic so the options module can declare them
without importing it (the selection reads the options)."""

from __future__ import annotations

from typing import Any

import polars as pl

_F = pl.Float64()
_S = pl.String()

TABLES: dict[str, dict[str, Any]] = {
    "clv_models": {
        "model": _S, "label": _S, "fit": _S, "selected": pl.Boolean(), "rank": pl.Int64(),
        "error": _S, "converged": pl.Boolean(), "message": _S, "n_params": pl.Int64(),
        "customers": pl.Int64(), "log_likelihood": _F, "aic": _F, "bic": _F, "parameters": _S,
        "actual_holdout": _F, "expected_holdout": _F, "relative_bias": _F, "mae": _F,
        "rmse": _F, "bias": _F, "top_decile_share": _F, "top_decile_lift": _F, "gini": _F,
        "gini_ratio": _F, "chi_square": _F, "chi_square_dof": pl.Int64(), "chi_square_p": _F,
    },
    "clv_parameters": {"model": _S, "fit": _S, "parameter": _S, "estimate": _F, "std_error": _F},
    "clv_tracking": {
        "model": _S, "period": pl.Int64(), "start": None, "end": None, "phase": _S,
        "actual": _F, "expected": _F, "actual_cumulative": _F, "expected_cumulative": _F,
    },
    "clv_conditional": {
        "model": _S, "bin": _S, "customers": pl.Int64(), "actual": _F, "expected": _F,
    },
    "clv_frequency": {
        "model": _S, "bin": _S, "customers": pl.Int64(), "expected": _F, "pooled_bin": _S,
        "chi_square": _F, "chi_square_dof": pl.Int64(), "chi_square_p": _F,
    },
}  # fmt: skip
