"""Likelihood-ratio tests of nested fitted models (``truenorth.clv.lrtest``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._input import ModelInputError
from ._model import _Model

__all__ = ["NESTED", "LRTest", "Nesting", "chi2_sf", "lrtest"]


@dataclass(frozen=True)
class Nesting:
    """How a restricted model sits inside a fuller one."""

    df: int
    #: the restriction puts a parameter on the boundary of its space (or at a limit), so the
    #: statistic follows ½χ²₀ + ½χ²_df rather than χ²_df (Self & Liang 1987)
    boundary: bool
    why: str


#: (restricted kind, full kind) pairs for which ``lrtest`` is valid. The purchase models of
#: truenorth are otherwise not nested in one another: BG/NBD and MBG/NBD have the same four
#: parameters and different likelihoods, and neither they nor BG/BB are special cases of
#: Pareto/NBD. Pareto/NBD is the limit b → 0 of GGom/NBD (Bemmaor & Glady 2012), at the edge
#: of b's space, hence the boundary mixture.
NESTED: dict[tuple[str, str], Nesting] = {
    ("pareto_nbd", "ggom_nbd"): Nesting(
        df=1, boundary=True, why="Pareto/NBD is GGom/NBD in the limit b -> 0"
    ),
}


@dataclass(frozen=True)
class LRTest:
    """A likelihood-ratio test: ``statistic`` = 2 (LL_full − LL_restricted), its degrees of
    freedom and p-value."""

    restricted: str
    full: str
    statistic: float
    df: int
    p_value: float
    boundary: bool


def lrtest(restricted: Any, full: Any) -> LRTest:
    """Likelihood-ratio test of a fitted ``restricted`` model against a fitted ``full`` model
    that nests it, on the same customers.

    Valid pairs are listed in ``NESTED`` (kinds; at present Pareto/NBD inside GGom/NBD when
    that model is registered), plus two fits of one kind whose covariates nest (the full fit
    has every coefficient of the restricted one, or frees a constrained one, and more: df is
    the difference in estimated parameters); any other pair is refused, because the χ² reference
    distribution holds only for nested models (compare non-nested ones such as BG/NBD and
    MBG/NBD by AIC/BIC or on a holdout instead). Both models must be fitted on the same data:
    the number of observations must agree.

    Example::

        test = clv.lrtest(ParetoNBD().fit(summary), GammaGompertzNBD().fit(summary))
        test.p_value  # small: GGom/NBD's extra parameter is needed
    """
    for name, m in (("restricted", restricted), ("full", full)):
        if not isinstance(m, _Model) or m.log_likelihood is None:
            raise ModelInputError(f"lrtest: {name} must be a fitted truenorth.clv model")
    if restricted.kind == full.kind and (restricted.covariates or full.covariates):
        nest = _covariate_nesting(restricted, full)
    else:
        nest = NESTED.get((restricted.kind, full.kind))
    if nest is None:
        valid = ", ".join(f"{a} in {b}" for a, b in NESTED) or "none"
        raise ModelInputError(
            f"lrtest: {restricted.label} is not nested in {full.label}, so the likelihood "
            f"ratio has no chi-square reference; valid pairs (restricted in full): {valid}. "
            "Compare non-nested models by AIC/BIC or on a holdout"
        )
    if restricted.n_observations != full.n_observations:
        raise ModelInputError(
            f"lrtest: the models were fitted on different data ({restricted.n_observations:g} "
            f"and {full.n_observations:g} customers)"
        )
    stat = max(0.0, 2.0 * (full.log_likelihood - restricted.log_likelihood))
    p = chi2_sf(stat, nest.df)
    if nest.boundary:
        p = 0.5 * p if stat > 0 else 1.0
    return LRTest(restricted.kind, full.kind, stat, nest.df, p, nest.boundary)


def _covariate_nesting(restricted: Any, full: Any) -> Nesting | None:
    """Covariate models of one kind nest when the full model has every coefficient of the
    restricted one (a constrained ``constr.X`` counts as nested in ``trans.X`` and ``life.X``:
    the constraint is one linear restriction) and more; penalised fits do not give a χ²."""
    for m in (restricted, full):
        if m.covariates is not None and any(v > 0 for v in m.covariates.l2.values()):
            raise ModelInputError(
                f"lrtest: {m.label} was fitted with an L2 penalty; the likelihood ratio of "
                "penalised fits has no chi-square reference"
            )
    have = set(full.covariates.coefficient_names()) if full.covariates else set()
    for name in restricted.covariates.coefficient_names() if restricted.covariates else []:
        col = name.split(".", 1)[1]
        if name not in have and not (
            name.startswith("constr.") and {f"trans.{col}", f"life.{col}"} <= have
        ):
            return None
    df = full.n_estimated - restricted.n_estimated
    if df <= 0:
        return None
    return Nesting(df=df, boundary=False, why="the restricted model's coefficients are zero")


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df > x) for a whole number of degrees of freedom (closed forms, no SciPy)."""
    if x <= 0:
        return 1.0
    h = x / 2
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= h / k
            total += term
        return math.exp(-h) * total
    total = math.erfc(math.sqrt(h))
    term = math.sqrt(h) * math.exp(-h) / math.gamma(1.5)
    for k in range(1, (df + 1) // 2):
        total += term
        term *= h / (k + 0.5)
    return min(1.0, total)
