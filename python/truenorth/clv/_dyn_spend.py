"""The spend per purchase of ``dynamic_lifetime_value``: a number, a per-customer table, or a
fitted spend model, and (a fitted Gamma-Gamma) its parameter uncertainty.

The purchase and spend likelihoods share no parameter, so their estimates are asymptotically
independent (block-diagonal information), as in ``truenorth.clv.lifetime_value``: the delta
method adds the spend's log-scale variance to ln CLV = ln(discounted purchases) + ln spend,
with Gamma-Gamma's expected spend s = p(v + x m)/(p x + q − 1) and

    ∂ln s/∂(ln p, ln q, ln v) = (1 − p x/(p x + q − 1), −q/(p x + q − 1), v/(v + x m)),

and the draws pair draw k of the purchase parameters with an independent draw k of (p, q, v)
from Gamma-Gamma's asymptotic normal on the log scale (the static path's own seed offset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .. import _core
from ._dynpath import Paths
from ._input import ModelInputError
from ._model import _SpendModel


@dataclass
class Spend:
    """Each customer's expected spend per purchase (paths' order) and, for a fitted
    Gamma-Gamma, what its uncertainty needs: the model and each customer's (x, m)."""

    point: np.ndarray
    gamma_gamma: Any = None
    x: np.ndarray | None = None
    m: np.ndarray | None = None

    def log_variance(self) -> np.ndarray | None:
        """Per customer, Var[ln s] of the spend model's estimation error (delta method)."""
        if self.gamma_gamma is None:
            return None
        assert self.x is not None and self.m is not None
        theta = np.asarray(self.gamma_gamma._p(), dtype=float)
        cov = np.asarray(self.gamma_gamma._interval_covariance(), dtype=float)
        sigma = cov / np.outer(theta, theta)
        p, q, v = theta
        den = p * self.x + q - 1.0
        g = np.stack([1.0 - p * self.x / den, -q / den, v / (v + self.x * self.m)])
        return np.asarray(np.einsum("ir,ij,jr->r", g, sigma, g))

    def draws(self, n: int, seed: int) -> np.ndarray:
        """(n × customers) spend per purchase over ``n`` draws of the spend parameters (the
        point spend on every row without a Gamma-Gamma model)."""
        if self.gamma_gamma is None:
            return np.broadcast_to(self.point, (n, self.point.size))
        assert self.x is not None and self.m is not None
        gg = self.gamma_gamma
        pqv = np.asarray(_core.param_draws(gg._p(), gg._interval_covariance(), n, seed))
        p, q, v = pqv[:, :1], pqv[:, 1:2], pqv[:, 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = p * (v + self.x * self.m) / (p * self.x + q - 1.0)
        # q <= 1 has no finite mean spend: such a draw is left out of the quantiles
        return np.where(q > 1.0, s, np.nan)


def _keyed(frame: pl.DataFrame, paths: Paths, customer: str, cols: list[str], what: str) -> Any:
    keyed = pl.DataFrame({customer: paths.customers}).join(
        frame.select(customer, *(pl.col(c).cast(pl.Float64) for c in cols)),
        on=customer,
        how="left",
        maintain_order="left",
    )
    for col in cols:
        miss = keyed[col].is_null() | keyed[col].is_nan()
        if miss.any():
            i = int(miss.arg_true()[0])
            raise ModelInputError(
                f"{what}: no {col!r} value for customer {keyed[customer][i]!r} "
                f"({int(miss.sum())} customer(s) without one)"
            )
    return keyed


def resolve(spend: Any, spend_data: Any, paths: Paths, customer: str) -> Spend:
    """The ``spend`` argument as a ``Spend`` in the paths' customer order."""
    n = paths.customers.len()
    if isinstance(spend, _SpendModel) and spend.capabilities.process == "spend":
        if not isinstance(spend_data, pl.DataFrame):
            raise ModelInputError(
                "spend: a spend model needs spend_data, a DataFrame of the customer column, "
                "frequency and monetary_value (e.g. summarize's output)"
            )
        need = ["frequency", "monetary_value"]
        absent = [c for c in [customer, *need] if c not in spend_data.columns]
        if absent:
            raise ModelInputError(
                f"spend_data: no column(s) {', '.join(map(repr, absent))} (columns: "
                f"{', '.join(spend_data.columns) or 'none'})"
            )
        keyed = _keyed(spend_data, paths, customer, need, "spend_data")
        point = spend.expected_spend(keyed).to_numpy().astype(float)
        if spend.kind != "gamma_gamma":  # no covariance model of other spend kinds: held fixed
            return Spend(point)
        return Spend(
            point, spend, keyed["frequency"].to_numpy(), keyed["monetary_value"].to_numpy()
        )
    if spend_data is not None:
        raise ModelInputError("spend_data is read only with a spend model as spend")
    if isinstance(spend, int | float) and not isinstance(spend, bool):
        if not (math.isfinite(spend) and spend >= 0):
            raise ModelInputError(f"spend must be a non-negative number, got {spend!r}")
        return Spend(np.full(n, float(spend)))
    if not isinstance(spend, pl.DataFrame):
        raise ModelInputError(
            "spend must be a non-negative number, a DataFrame of the customer column and "
            f"one spend column, or a fitted spend model, got {type(spend).__name__}"
        )
    values = [c for c in spend.columns if c != customer]
    if customer not in spend.columns or len(values) != 1:
        raise ModelInputError(
            f"spend: expected the columns {customer!r} and one spend column, got "
            f"{', '.join(spend.columns) or 'none'}"
        )
    col = values[0]
    keyed = _keyed(spend, paths, customer, [col], "spend")
    out = keyed[col].to_numpy()
    if (out < 0).any():
        i = int(np.argmax(out < 0))
        raise ModelInputError(
            f"spend: column {col!r} is negative ({out[i]:g}) for customer {keyed[customer][i]!r}"
        )
    return Spend(out)
