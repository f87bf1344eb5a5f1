"""Time-invariant covariates of the purchase models (CLVTools' static-covariate models).

A covariate model keeps the population parameters of its base model and scales some of them
per customer by ``exp(±z'γ)``, where z are the customer's covariates of one process:

=============  =====================================  ==========================================
model          transaction process                    lifetime process
=============  =====================================  ==========================================
Pareto/NBD     alpha_i = alpha · exp(−z_trans'γ)      beta_i = beta · exp(−z_life'γ)
BG/NBD         alpha_i = alpha · exp(−z_trans'γ)      a_i = a · exp(z_life'γ), b_i = b · exp(z_life'γ)
GGom/NBD       alpha_i = alpha · exp(−z_trans'γ)      beta_i = beta · exp(−z_life'γ)
=============  =====================================  ==========================================

So a positive transaction coefficient means more purchases (the mean rate is r/alpha_i); a
positive Pareto/NBD or GGom/NBD lifetime coefficient means earlier dropout (mean rate
s/beta_i). These are CLVTools' link functions (``pnbd``/``bgnbd``/``ggomnbd`` with
``SetStaticCovariates``), so coefficients compare directly.

Coding: a numeric column enters as it is (scale it yourself: coefficients are per unit); a
text, categorical or enum column is dummy coded, one 0/1 column ``name[level]`` per level
except the *reference level*, which is the alphabetically first level unless
``reference={"column": "level"}`` names another. Booleans are numeric 0/1.

Coefficients are named ``trans.<col>``, ``life.<col>`` and, for a column constrained to the
same coefficient in both processes (``constrain=[...]``), ``constr.<col>``, as in CLVTools.
L2 regularisation (``l2={"transaction": λ, "lifetime": λ}``) adds λ·Σγ² of that process to
the mean negative log-likelihood (CLVTools' ``reg.lambdas``); constrained coefficients are
not penalised.

Example::

    m = ParetoNBD().fit(summary, covariates=attributes, transaction=["channel", "age"],
                        lifetime=["channel"])
    m.coefficients()          # estimate, std_error, z, p_value per coefficient
    m.p_alive(summary.join(attributes, on="customer"))   # predictions read the columns
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from ._input import ModelInputError, as_frame

__all__ = ["LINKS", "Coding", "CovariateSpec", "with_covariates"]

Process = Literal["trans", "life"]

#: per model kind and parameter: None (a population constant) or (process, sign)
LINKS: dict[str, tuple[tuple[Process, int] | None, ...]] = {
    "pareto_nbd": (None, ("trans", -1), None, ("life", -1)),
    "bg_nbd": (None, ("trans", -1), ("life", 1), ("life", 1)),
    "ggom_nbd": (None, ("trans", -1), None, None, ("life", -1)),
}

_CATEGORICAL = (pl.String, pl.Categorical, pl.Enum)


@dataclass(frozen=True)
class Coding:
    """How one source column becomes design columns: numeric as is, categorical as dummies
    for every level but ``reference``."""

    column: str
    kind: Literal["numeric", "categorical"]
    levels: tuple[str, ...] = ()
    reference: str | None = None

    def dummies(self) -> list[str]:
        return [lv for lv in self.levels if lv != self.reference]

    def names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.column]
        return [f"{self.column}[{lv}]" for lv in self.dummies()]

    def expand(self, frame: pl.DataFrame) -> list[np.ndarray]:
        s = _column(frame, self.column)
        if self.kind == "numeric":
            if s.dtype in _CATEGORICAL:
                raise ModelInputError(
                    f"covariates: column {self.column!r} was numeric when fitting, got {s.dtype}"
                )
            v = s.cast(pl.Float64).to_numpy()
            bad = ~np.isfinite(v)
            if bad.any():
                i = int(np.argmax(bad))
                raise ModelInputError(
                    f"covariates: column {self.column!r} is not finite at row {i + 1} ({v[i]})"
                )
            return [v]
        text = s.cast(pl.String)
        known = set(self.levels)
        unseen = ~text.is_in(list(known))
        if unseen.any():
            i = int(unseen.arg_true()[0])
            raise ModelInputError(
                f"covariates: column {self.column!r} has level {text[i]!r} at row {i + 1}, "
                f"not seen when fitting (levels: {', '.join(self.levels)})"
            )
        return [(text == lv).cast(pl.Float64).to_numpy() for lv in self.dummies()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "levels": list(self.levels),
            "reference": self.reference,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Coding:
        return Coding(d["column"], d["kind"], tuple(d.get("levels") or ()), d.get("reference"))


def _column(frame: pl.DataFrame, name: str) -> pl.Series:
    if name not in frame.columns:
        raise ModelInputError(
            f"covariates: no column {name!r} (columns: {', '.join(frame.columns)}); join the "
            "customer attributes to the summary (clv.with_covariates)"
        )
    s = frame[name]
    if s.null_count():
        i = int(s.is_null().arg_true()[0])
        raise ModelInputError(f"covariates: column {name!r} is null at row {i + 1}")
    return s


def _coding(frame: pl.DataFrame, name: str, reference: dict[str, str]) -> Coding:
    s = _column(frame, name)
    if s.dtype in _CATEGORICAL:
        levels = tuple(s.cast(pl.String).unique().sort().to_list())
        if len(levels) < 2:
            raise ModelInputError(
                f"covariates: column {name!r} is constant ({levels[0]!r} for every customer): "
                "its coefficient is not identified; drop it"
            )
        ref = reference.get(name, levels[0])
        if ref not in levels:
            raise ModelInputError(
                f"covariates: reference level {ref!r} of {name!r} does not occur "
                f"(levels: {', '.join(levels)})"
            )
        return Coding(name, "categorical", levels, ref)
    if not (s.dtype.is_numeric() or s.dtype == pl.Boolean):
        raise ModelInputError(
            f"covariates: column {name!r} has type {s.dtype}; expected numbers, booleans or "
            "text/categorical levels"
        )
    v = s.cast(pl.Float64)
    coding = Coding(name, "numeric")
    coding.expand(frame)  # non-finite values, named by row
    if float(v.max()) == float(v.min()):
        raise ModelInputError(
            f"covariates: column {name!r} is constant ({v[0]} for every customer): its "
            "coefficient is not identified next to the model's scale parameters; drop it"
        )
    return coding


@dataclass(frozen=True)
class CovariateSpec:
    """The covariates of a fitted model: their coding per process, constraints, penalties."""

    transaction: tuple[Coding, ...]
    lifetime: tuple[Coding, ...]
    constrain: tuple[str, ...] = ()
    l2: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def build(
        frame: pl.DataFrame,
        transaction: list[str],
        lifetime: list[str],
        constrain: list[str],
        l2: dict[str, float],
        reference: dict[str, str],
    ) -> CovariateSpec:
        for what, cols in (("transaction", transaction), ("lifetime", lifetime)):
            if len(set(cols)) != len(cols):
                raise ModelInputError(f"covariates: {what} names a column twice: {cols}")
        for c in constrain:
            if c not in transaction or c not in lifetime:
                raise ModelInputError(
                    f"covariates: constrain names {c!r}, which must be in both transaction and "
                    "lifetime"
                )
        unknown = set(l2) - {"transaction", "lifetime"}
        if unknown:
            raise ModelInputError(
                f"covariates: l2 keys are 'transaction' and 'lifetime', got {sorted(unknown)}"
            )
        for k, v in l2.items():
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ModelInputError(f"covariates: l2[{k!r}] must be >= 0, got {v!r}")
        codings = {c: _coding(frame, c, reference) for c in dict.fromkeys(transaction + lifetime)}
        spec = CovariateSpec(
            tuple(codings[c] for c in transaction),
            tuple(codings[c] for c in lifetime),
            tuple(constrain),
            {k: float(v) for k, v in l2.items()},
        )
        for proc in ("transaction", "lifetime"):
            spec._check_rank(frame, proc)
        return spec

    def _check_rank(self, frame: pl.DataFrame, proc: str) -> None:
        """Perfect collinearity (with the intercept the scale parameter acts as) leaves a
        coefficient unidentified: name the first design column that adds no rank."""
        codings = self.transaction if proc == "transaction" else self.lifetime
        if not codings or self.l2.get(proc, 0.0) > 0:
            return
        names = ["(intercept)"]
        cols = []
        for c in codings:
            for n, v in zip(c.names(), c.expand(frame), strict=True):
                cols.append(v)
                names.append(n)
        # One Cholesky of the centred design's Gram matrix, in column order: its pivots are
        # each column's squared distance from the span of the intercept and the columns
        # before it, so the first (near-)zero one names the column that adds no rank.
        # Centring keeps columns far from zero (dates, say) well conditioned; "near" is a
        # distance below 1e-5 of the column's own centred norm.
        x = np.column_stack(cols)
        x = x - x.mean(axis=0)
        g = x.T @ x
        low = np.zeros_like(g)
        for j in range(g.shape[0]):
            d = g[j, j] - low[j, :j] @ low[j, :j]
            if not d > 1e-10 * g[j, j]:
                raise ModelInputError(
                    f"covariates: {proc} column {names[j + 1]!r} is a linear combination of "
                    f"{', '.join(names[: j + 1])} (perfect collinearity): its coefficient is "
                    "not identified; drop it (or regularise with l2)"
                )
            low[j, j] = math.sqrt(d)
            low[j + 1 :, j] = (g[j + 1 :, j] - low[j + 1 :, :j] @ low[j, :j]) / low[j, j]

    def coefficient_names(self) -> list[str]:
        names: list[str] = []
        for c in self.transaction:
            pre = "constr" if c.column in self.constrain else "trans"
            names += [f"{pre}.{n}" for n in c.names()]
        for c in self.lifetime:
            if c.column not in self.constrain:
                names += [f"life.{n}" for n in c.names()]
        return names

    def design(
        self, frame: pl.DataFrame
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[int], list[int], list[float]]:
        """Design columns of both processes, each column's coefficient index and the penalty
        of each coefficient."""
        names = self.coefficient_names()
        index = {n: i for i, n in enumerate(names)}
        zt: list[np.ndarray] = []
        zl: list[np.ndarray] = []
        ti: list[int] = []
        li: list[int] = []
        l2 = [0.0] * len(names)
        for proc, codings, out, idx in (
            ("transaction", self.transaction, zt, ti),
            ("lifetime", self.lifetime, zl, li),
        ):
            pre = "trans" if proc == "transaction" else "life"
            for c in codings:
                p = "constr" if c.column in self.constrain else pre
                for n, v in zip(c.names(), c.expand(frame), strict=True):
                    out.append(v)
                    j = index[f"{p}.{n}"]
                    idx.append(j)
                    if p != "constr":
                        l2[j] = self.l2.get(proc, 0.0)
        return zt, zl, ti, li, l2

    def row_params(
        self, kind: str, base: list[float], coef: list[float], frame: pl.DataFrame
    ) -> list[pl.Series]:
        """Each customer's natural-scale parameters (one Series per base parameter)."""
        zt, zl, ti, li, _ = self.design(frame)
        eta = {"trans": np.zeros(frame.height), "life": np.zeros(frame.height)}
        for z, j in zip(zt, ti, strict=True):
            eta["trans"] += z * coef[j]
        for z, j in zip(zl, li, strict=True):
            eta["life"] += z * coef[j]
        out = []
        for k, link in enumerate(LINKS[kind]):
            if link is None:
                v = np.full(frame.height, base[k])
            else:
                with np.errstate(over="ignore"):
                    v = base[k] * np.exp(link[1] * eta[link[0]])
            bad = ~(np.isfinite(v) & (v > 0))
            if bad.any():
                i = int(np.argmax(bad))
                raise ModelInputError(
                    f"covariates: row {i + 1} gives a parameter outside (0, inf) "
                    f"(exp of {link[1] * eta[link[0]][i] if link else 0:.3g}); "
                    "its covariates are far outside the fitted range"
                )
            out.append(pl.Series(f"p{k}", v))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "transaction": [c.to_dict() for c in self.transaction],
            "lifetime": [c.to_dict() for c in self.lifetime],
            "constrain": list(self.constrain),
            "l2": dict(self.l2),
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> CovariateSpec:
        return CovariateSpec(
            tuple(Coding.from_dict(c) for c in d.get("transaction") or ()),
            tuple(Coding.from_dict(c) for c in d.get("lifetime") or ()),
            tuple(d.get("constrain") or ()),
            dict(d.get("l2") or {}),
        )


def with_covariates(summary: Any, covariates: Any, *, id: str | None = None) -> pl.DataFrame:
    """The summary with the customer-attribute columns joined on the customer id (``id``:
    the id column, by default the one column name the two tables share). Every customer of
    the summary must have exactly one attribute row.

    >>> s = pl.DataFrame({"customer": [1, 2], "frequency": [0, 2]})
    >>> a = pl.DataFrame({"customer": [2, 1], "channel": ["web", "shop"]})
    >>> with_covariates(s, a)["channel"].to_list()
    ['shop', 'web']
    """
    s = as_frame(summary)
    a = as_frame(covariates)
    if id is None:
        shared = [c for c in s.columns if c in a.columns]
        if len(shared) != 1:
            raise ModelInputError(
                "covariates: cannot tell the customer id column: the summary and the attribute "
                f"table share {shared or 'no columns'}; pass id='<column>'"
            )
        id = shared[0]
    for what, f in (("summary", s), ("covariates", a)):
        if id not in f.columns:
            raise ModelInputError(f"covariates: the {what} has no id column {id!r}")
    dup = a[id].is_duplicated()
    if dup.any():
        i = int(dup.arg_true()[0])
        raise ModelInputError(
            f"covariates: customer {a[id][i]!r} has more than one attribute row (row {i + 1})"
        )
    extra = [c for c in a.columns if c != id and c in s.columns]
    has = s.select(id).join(a.select(id, pl.lit(True).alias("_tn_has")), on=id, how="left")[
        "_tn_has"
    ]
    if has.null_count():
        i = int(has.is_null().arg_true()[0])
        raise ModelInputError(
            f"covariates: customer {s[id][i]!r} (summary row {i + 1}) has no row in the "
            f"attribute table ({has.null_count()} customers missing)"
        )
    return s.join(a.drop(extra), on=id, how="left", maintain_order="left")


def fit_covariates(
    native: Any,
    summary: Any,
    columns: tuple[pl.Series, pl.Series, pl.Series, pl.Series | None],
    start_base: list[float] | None,
    start: dict[str, float],
    max_iter: int,
    *,
    covariates: Any,
    transaction: list[str],
    lifetime: list[str],
    constrain: list[str],
    l2: dict[str, float],
    reference: dict[str, str],
    id: str | None,
) -> tuple[dict[str, Any], CovariateSpec]:
    """The native fit of a covariate model (``_Model.fit`` with covariates): its result
    (base parameters then coefficients) and the covariate spec."""
    from .. import _core

    if not transaction and not lifetime:
        raise ModelInputError(
            "covariates: name the covariate columns of each process with transaction=[...] "
            "and/or lifetime=[...]"
        )
    frame = as_frame(summary) if covariates is None else with_covariates(summary, covariates, id=id)
    spec = CovariateSpec.build(frame, transaction, lifetime, constrain, l2, reference)
    zt, zl, ti, li, pen = spec.design(frame)
    names = spec.coefficient_names()
    coef_start = {k: v for k, v in start.items() if k not in LINKS_PARAM_NAMES.get(native, ())}
    unknown = set(coef_start) - set(names)
    if unknown:
        raise ModelInputError(
            f"start: unknown coefficient(s) {sorted(unknown)}; the coefficients are "
            f"{', '.join(names)}"
        )
    full_start = None
    if start_base is not None:
        full_start = start_base + [float(coef_start.get(n, 0.0)) for n in names]
    elif coef_start:
        raise ModelInputError("start: coefficient start values need the base parameters too")
    x, second, t, w = columns
    res = _core.cov_fit(
        native,
        x,
        second,
        t,
        [pl.Series("z", z) for z in zt],
        [pl.Series("z", z) for z in zl],
        ti,
        li,
        pen,
        w,
        full_start,
        max_iter,
    )
    params = res["params"]
    if not (math.isfinite(res["log_likelihood"]) and all(math.isfinite(v) for v in params)):
        raise ModelInputError(
            f"covariates: the fit found no finite optimum ({res['message']}); the covariates "
            "may separate the customers perfectly or be on very different scales: rescale "
            "numeric columns or regularise with l2"
        )
    return dict(res), spec


#: base parameter names per kind (start values of a covariate fit name these or coefficients)
LINKS_PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "bg_nbd": ("r", "alpha", "a", "b"),
    "ggom_nbd": ("r", "alpha", "b", "s", "beta"),
}
