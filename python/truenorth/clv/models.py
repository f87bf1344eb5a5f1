"""Buy-till-you-die models fitted by maximum likelihood in Rust.

Each model reads the summary columns ``frequency``, ``recency`` and ``T`` (Gamma-Gamma:
``frequency`` and ``monetary_value``) from any frame that has them. Times are in the
summary's own unit; the model remembers it as ``time_unit`` so that ``lifetime_value``
converts calendar horizons correctly. The unit is given (``BetaGeo(time_unit="1w")`` or
``fit(..., time_unit="1w")``) or taken from a frame made by ``summarize``; a model fitted on
any other frame without one has ``time_unit=None``, and ``lifetime_value`` refuses it instead
of assuming days.

Fitting maximises the log-likelihood over log-parameters with L-BFGS and Newton polishing,
using exact gradients (hand-derived in f64 for BG/NBD and MBG/NBD, forward-mode dual numbers
in Rust for the others) on rows compressed to weighted (frequency, recency, T) patterns. Standard errors come from the Hessian (central differences
of the exact gradient) of the total log-likelihood in log-parameters, mapped back with the
delta method: se(θ) = θ · se(log θ).

Each class is registered (``truenorth.clv.models_registry()``) with its kind and capabilities;
the shared methods (in ``_model`` and ``_purchase``) branch on those capabilities, so a model is one class here
and one ``@register_model``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any, ClassVar

import polars as pl

from .. import _core
from ._checks import _agreed_unit, _finite
from ._input import ModelInputError, as_frame, numeric_column, weights_column
from ._model import ConvergenceWarning, NotFittedError, _SpendModel
from ._purchase import _PurchaseModel
from .registry import Capabilities, register_model

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceWarning",
    "GammaGamma",
    "GammaGompertzNBD",
    "ModelInputError",
    "ModifiedBetaGeo",
    "NotFittedError",
    "ParetoNBD",
    "SpendFrequencyCorrelationWarning",
]


class SpendFrequencyCorrelationWarning(UserWarning):
    """Gamma-Gamma's independence assumption looks violated: among repeat customers, mean
    spend is correlated with purchase frequency (|Pearson ρ| >= 0.3, see ``GammaGamma``)."""


def _pearson(df: pl.DataFrame, weighted: bool) -> float | None:
    """Pearson correlation of frequency and monetary_value (weighted by ``weights`` when
    rows stand for several customers); None when undefined (fewer than 3 rows, a constant
    column)."""
    if df.height < 3:
        return None
    w = pl.col("weights") if weighted else pl.lit(1.0)
    # (a literal's .sum() is the literal itself, not the row count)
    wsum = w.sum() if weighted else pl.len()
    x, m = pl.col("frequency"), pl.col("monetary_value")
    mx, mm = (w * x).sum() / wsum, (w * m).sum() / wsum
    row = df.select(
        sxy=(w * (x - mx) * (m - mm)).sum(),
        sxx=(w * (x - mx) ** 2).sum(),
        smm=(w * (m - mm) ** 2).sum(),
    ).row(0)
    sxy, sxx, smm = (float(v) for v in row)
    if not (sxx > 0 and smm > 0):
        return None
    c = sxy / math.sqrt(sxx * smm)
    return max(-1.0, min(1.0, c)) if math.isfinite(c) else None


_CONTINUOUS = Capabilities(
    process="purchase", conditional_pmf=True, new_customer=True, simulation=True
)
#: BG/NBD, Pareto/NBD and GGom/NBD take static covariates (``truenorth.clv.covariates``)
_WITH_COVARIATES = replace(_CONTINUOUS, covariates=True)


@register_model
class BetaGeo(_PurchaseModel):
    """BG/NBD (Fader, Hardie & Lee 2005): parameters r, alpha, a, b."""

    kind = "bg_nbd"
    label = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")
    capabilities = _WITH_COVARIATES


@register_model
class ModifiedBetaGeo(_PurchaseModel):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): r, alpha, a, b; customers may also
    drop out right after their first purchase."""

    kind = "mbg_nbd"
    label = "MBG/NBD"
    param_names = ("r", "alpha", "a", "b")
    capabilities = _CONTINUOUS


class _ResidualValue(_PurchaseModel):
    """A purchase model with DERT under continuous discounting."""

    def dert(self, data: Any, discount_rate: float) -> pl.Series:
        """Discounted expected residual transactions (Fader, Hardie & Lee 2005, "RFM and CLV:
        using iso-value curves"): the present value, at the continuously compounded
        ``discount_rate`` per time unit of the model, of all purchases after T,

            DERT = ∫_0^∞ e^{−δt} dE[Y(t) | frequency, recency, T],

        per row. Multiplied by expected spend it is the residual lifetime value. For Pareto/NBD
        it is FHL's closed form P(alive) · (r+x)/(α+T) · (β+T)^s δ^(s−1) U(s, s; δ(β+T)) with
        Tricomi's U; for GGom/NBD the same integral over its posterior survival.
        15% a year on weekly data is δ = ln(1.15)/52 ≈ 0.0027.

        >>> import polars as pl
        >>> from truenorth.clv import ParetoNBD
        >>> m = ParetoNBD.from_params([0.553, 10.578, 0.606, 11.669], time_unit="1w")
        >>> one = pl.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
        >>> round(m.dert(one, 0.0027)[0], 2)
        6.48
        """
        if not (
            isinstance(discount_rate, int | float)
            and not isinstance(discount_rate, bool)
            and math.isfinite(discount_rate)
            and discount_rate > 0
        ):
            raise ModelInputError(
                "discount_rate must be a positive continuously compounded rate per time unit "
                f"(e.g. ln(1.15)/52 for 15% a year on weekly data), got {discount_rate!r}"
            )
        return self._predict("dert", data, float(discount_rate))


@register_model
class ParetoNBD(_ResidualValue):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): r, alpha, s, beta."""

    kind = "pareto_nbd"
    label = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    capabilities = _WITH_COVARIATES


@register_model
class BetaGeoBetaBinom(_PurchaseModel):
    """BG/BB (Fader, Hardie & Shang 2010) for discrete opportunities: alpha, beta, gamma,
    delta. ``T`` is the number of opportunities, ``recency`` the opportunity of the last
    transaction; horizons are numbers of future opportunities.

    ``p_alive`` is P(alive at opportunity T + 1 | frequency, recency, T), FHS (2010) eq. 11.
    ``conditional_p_purchases(data, n, t)`` is P(X(T, T+t) = n | α, β, γ, δ, x, t_x, T)
    (FHS 2010, appendix): a customer alive through T survives each later opportunity with
    probability 1 − θ and then transacts with probability p; one who dropped out in the past
    makes none. Integrated over the Beta priors jointly with the history, in log space, once
    per distinct (frequency, recency, T); the cost per history grows with ``t``. Example::

        m = BetaGeoBetaBinom().fit(summary)  # T = opportunities observed (e.g. 6 years)
        p0 = m.conditional_p_purchases(summary, 0, 5)  # none in the next 5 opportunities
    """

    kind = "bg_bb"
    label = "BG/BB"
    param_names = ("alpha", "beta", "gamma", "delta")
    capabilities = replace(_CONTINUOUS, discrete=True)


@register_model
class GammaGompertzNBD(_ResidualValue):
    """GGom/NBD, the Gamma-Gompertz/NBD (Bemmaor & Glady 2012): r, alpha, b, s, beta.

    Poisson purchases at a Gamma(r, alpha) rate while alive; a Gompertz lifetime whose
    hazard η·b·e^{bt} grows (b > 0) with age, η ~ Gamma(s, beta), so S(t) = (beta / (beta +
    e^{bt} − 1))^s. As b → 0 with beta/b fixed it becomes Pareto/NBD (whose beta is beta/b):
    on data without ageing (CDNOW) the likelihood is highest at that limit. The fit then
    fits the limit itself, checks that the likelihood falls as b leaves 0, and reports a
    point of the limit (b and beta tiny, b·T = 1e-8, beta/b the Pareto/NBD beta) with
    Pareto/NBD's likelihood, saying so in ``message``. The likelihood's integral over the death time and the
    predictions' lifetime integrals are computed by adaptive Gauss–Kronrod quadrature to
    1e-12 relative. A customer alive at T restarts as a new GGom/NBD customer with
    (r+x, alpha+T, b, s, beta·e^{−bT} + 1 − e^{−bT}), which gives ``expected_purchases``
    and ``conditional_p_purchases``.

    >>> import polars as pl
    >>> from truenorth.clv import GammaGompertzNBD
    >>> m = GammaGompertzNBD.from_params(
    ...     {"r": 0.85, "alpha": 4.45, "b": 0.12, "s": 0.75, "beta": 9.55}, time_unit="1w"
    ... )
    >>> summary = pl.DataFrame(
    ...     {"frequency": [0, 2, 6], "recency": [0.0, 30.43, 12.0], "T": [38.86] * 3}
    ... )
    >>> tuple(round(v, 3) for v in m.p_alive(summary))
    (0.086, 0.429, 0.003)
    >>> tuple(round(v, 3) for v in m.expected_purchases(summary, 52))
    (0.019, 0.321, 0.005)
    """

    kind = "ggom_nbd"
    label = "GGom/NBD"
    param_names = ("r", "alpha", "b", "s", "beta")
    capabilities = _WITH_COVARIATES


@register_model
class GammaGamma(_SpendModel):
    """Gamma-Gamma spend model (Fader & Hardie 2013 note): p, q, v (the note's γ).

    Fitted on repeat customers only (frequency > 0); reads ``frequency`` and
    ``monetary_value`` (mean of repeat purchases). The model assumes spend is independent of
    purchase frequency: ``frequency_spend_correlation`` (Pearson, repeat customers, weighted
    by ``weights`` when given) is stored after fitting, and ``fit`` emits a
    ``SpendFrequencyCorrelationWarning`` naming it when |ρ| >= ``correlation_threshold``
    (0.3). Why 0.3: it is the conventional boundary of a "moderate" correlation (Cohen's
    0.1 / 0.3 / 0.5), and well above what the model's authors accept as "weak" on CDNOW
    (ρ ≈ 0.11, Fader, Hardie & Lee 2005, "RFM and CLV"); at 0.3 about a tenth of the spend
    variance moves with frequency, enough that expected spend (and CLV) of frequent and rare
    buyers is biased. The fit is still returned: the warning asks for a look, e.g. at a
    spend model per segment.
    """

    correlation_threshold: ClassVar[float] = 0.3

    kind = "gamma_gamma"
    label = "Gamma-Gamma"
    param_names = ("p", "q", "v")
    capabilities = Capabilities(process="spend")
    persisted = ("frequency_spend_correlation",)

    def __init__(self, *, time_unit: str | None = None) -> None:
        super().__init__(time_unit=time_unit)
        self.frequency_spend_correlation: float | None = None

    @staticmethod
    def _columns(data: Any) -> tuple[pl.Series, pl.Series]:
        df = as_frame(data)
        if df.height == 0:
            raise ModelInputError("summary is empty (no customers)")
        x = numeric_column(df, "frequency")
        m = numeric_column(df, "monetary_value")
        frac = x != x.floor()
        if frac.any():
            i = int(frac.arg_true()[0])
            raise ModelInputError(
                f"summary: column 'frequency', row {i + 1}: expected a whole number, got {x[i]}"
            )
        return x, m

    def _fit_columns(self, data: Any) -> tuple[pl.Series, pl.Series, pl.Series]:
        x, m = self._columns(data)
        return x, m, x

    def fit(
        self,
        summary: Any,
        weights: Any = None,
        *,
        time_unit: str | None = None,
        start: dict[str, float] | None = None,
        max_iter: int = 500,
    ):
        """Fit on the repeat customers of ``summary`` (rows with frequency > 0)."""
        x, m = self._columns(summary)
        repeat = x > 0
        if not repeat.any():
            raise ModelInputError(
                "summary: column 'frequency' has no repeat customers (frequency > 0): "
                "Gamma-Gamma is fitted on repeat customers' mean spend and cannot be fitted"
            )
        bad = repeat & (m <= 0)
        if bad.any():
            i = int(bad.arg_true()[0])
            raise ModelInputError(
                f"summary: column 'monetary_value', row {i + 1}: repeat customer with mean spend "
                f"{m[i]}; Gamma-Gamma needs positive spend (filter refunds/zero baskets first)"
            )
        df = pl.DataFrame({"frequency": x, "monetary_value": m})
        w = weights_column(summary, weights, x.len())
        if w is not None:
            df = df.with_columns(w)
        df = df.filter(repeat)
        super().fit(
            df,
            "weights" if w is not None else None,
            time_unit=_agreed_unit(summary, time_unit or self.time_unit, self.label),
            start=start,
            max_iter=max_iter,
        )
        self.frequency_spend_correlation = _pearson(df, w is not None)
        c = self.frequency_spend_correlation
        if c is not None and abs(c) >= self.correlation_threshold:
            warnings.warn(
                f"Gamma-Gamma assumes spend independent of purchase frequency, but among the "
                f"{df.height} repeat customers the Pearson correlation of frequency and "
                f"monetary_value is {c:.3f} (|ρ| >= {self.correlation_threshold}): expected "
                "spend and CLV may be biased for frequent vs rare buyers",
                SpendFrequencyCorrelationWarning,
                stacklevel=2,
            )
        return self

    def expected_spend(self, data: Any) -> pl.Series:
        """E[mean spend | frequency, monetary_value] per row; for one-time buyers (frequency 0)
        the population mean p·v/(q−1)."""
        x, m = self._columns(data)
        if self.params["q"] <= 1:
            raise ModelInputError("expected spend is infinite when q <= 1")
        col = _core.predict(self._native, "expected_spend", self._p(), x, m, x, 0.0)
        return _finite(pl.Series(col).alias("expected_spend"), self.label)
