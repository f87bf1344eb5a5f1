"""Contractual retention: sBG and BdW models of how long subscribers keep renewing.

For subscription businesses (memberships, SaaS, telecoms) churn is observed at renewal
points. The shifted-beta-geometric (sBG, Fader & Hardie 2007) gives each customer a constant
churn probability θ ~ Beta(α, β); the beta-discrete-Weibull (BdW, Fader, Hardie, Liu, Davin &
Steenburgh 2018) lets individual churn change with tenure through c (c = 1 is sBG). Fits are
maximum likelihood in the Rust core, from survivor counts (:func:`fit`), per-customer records
(:func:`fit_records`, :func:`cohort_counts`) or cohorts one by one (:func:`fit_each`).

Example:
    >>> from truenorth import retention
    >>> regular = [1000, 631, 468, 382, 326, 289, 262, 241]     # Fader & Hardie (2007)
    >>> m = retention.fit(regular)
    >>> round(m.params["alpha"], 3), round(m.params["beta"], 3)
    (0.704, 1.182)
    >>> [round(n) for n in m.projected_survivors(1000, [8, 12])]     # actual: 223, 173
    [220, 170]
    >>> round(m.residual_value(margin=100, discount_rate=0.1, renewals=7), 1)
    684.2
"""

from ._data import CohortCounts, RetentionInputError
from ._data import from_records as cohort_counts
from ._data import from_survivors as survivor_counts
from ._model import (
    MODELS,
    CohortFit,
    ModelKind,
    NotIdentifiedError,
    RetentionModel,
    fit,
    fit_counts,
    fit_each,
    fit_records,
    log_likelihood,
)

__all__ = [
    "MODELS",
    "CohortCounts",
    "CohortFit",
    "ModelKind",
    "NotIdentifiedError",
    "RetentionInputError",
    "RetentionModel",
    "cohort_counts",
    "fit",
    "fit_counts",
    "fit_each",
    "fit_records",
    "log_likelihood",
    "survivor_counts",
]
