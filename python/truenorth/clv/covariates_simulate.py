"""Customer summaries simulated from a covariate model with known coefficients (parameter
recovery checks, demos): each customer draws from the base model's simulator at the
parameters its covariates imply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import polars as pl

from .. import _core
from ._input import ModelInputError, as_frame
from .covariates import LINKS, LINKS_PARAM_NAMES, CovariateSpec

__all__ = ["simulate_with_covariates"]


def simulate_with_covariates(
    kind: str,
    attributes: Any,
    params: dict[str, float],
    coefficients: dict[str, float],
    *,
    transaction: Sequence[str] = (),
    lifetime: Sequence[str] = (),
    constrain: Sequence[str] = (),
    T: float | Sequence[float] = 52.0,
    seed: int = 0,
) -> pl.DataFrame:
    """One summary row per row of ``attributes`` (``frequency``, ``recency``, ``T`` added to
    its columns), simulated by model ``kind`` (``"pareto_nbd"``, ``"bg_nbd"``,
    ``"ggom_nbd"``) with base ``params`` and ``coefficients`` named as in
    ``truenorth.clv.covariates`` (``trans.age``, ``life.channel[web]``; missing ones are 0).
    Customers sharing a parameter vector are drawn in one call, seeded by ``seed`` and the
    vector's order of first appearance, so the result is reproducible.

    >>> a = pl.DataFrame({"customer": range(4), "vip": [0, 1, 0, 1]})
    >>> s = simulate_with_covariates("pareto_nbd", a, {"r": 1, "alpha": 5, "s": 1, "beta": 9},
    ...                              {"trans.vip": 1.0}, transaction=["vip"], T=30, seed=2)
    >>> s.columns
    ['customer', 'vip', 'frequency', 'recency', 'T']
    """
    if kind not in LINKS:
        raise ModelInputError(f"covariates: model {kind!r} has no covariates ({', '.join(LINKS)})")
    frame = as_frame(attributes)
    names = LINKS_PARAM_NAMES[kind]
    missing = [n for n in names if n not in params]
    if missing:
        raise ModelInputError(f"params: missing {', '.join(missing)}")
    spec = CovariateSpec.build(frame, list(transaction), list(lifetime), list(constrain), {}, {})
    coef_names = spec.coefficient_names()
    unknown = set(coefficients) - set(coef_names)
    if unknown:
        raise ModelInputError(f"coefficients: unknown {sorted(unknown)} (known: {coef_names})")
    coef = [float(coefficients.get(n, 0.0)) for n in coef_names]
    cols = spec.row_params(kind, [float(params[n]) for n in names], coef, frame)
    n = frame.height
    t = pl.Series("T", [float(T)] * n) if isinstance(T, int | float) else pl.Series("T", T)
    if t.len() != n:
        raise ModelInputError(f"T: expected {n} values, got {t.len()}")
    rows = pl.DataFrame({f"p{k}": c for k, c in enumerate(cols)}).with_columns(
        t.cast(pl.Float64), pl.int_range(n).alias("_row")
    )
    parts = []
    for g, part in enumerate(rows.partition_by([f"p{k}" for k in range(len(cols))])):
        p = [float(part[f"p{k}"][0]) for k in range(len(cols))]
        x, r = _core.simulate_summary(
            cast(Any, kind), p, part["T"], (int(seed) * 7919 + g) & (2**64 - 1)
        )
        parts.append(
            part.select("_row", "T").with_columns(
                pl.Series(x).alias("frequency"), pl.Series(r).alias("recency")
            )
        )
    sim = pl.concat(parts).sort("_row")
    return frame.with_columns(sim["frequency"], sim["recency"], sim["T"])
