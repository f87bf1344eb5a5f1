"""The KPI math in one namespace: pure functions over Polars frames.

The functions live in the module of their concept — :mod:`.core` (input checks, grouping sets,
intervals, the final table), :mod:`.survey`, :mod:`.support`, :mod:`.acquisition`,
:mod:`.lifecycle` and :mod:`.health` — and are gathered here for callers that want the whole
toolbox (``from truenorth.builtins.kpi import compute as c``).
"""

from __future__ import annotations

from .acquisition import cac, cac_payback, clv_cac, monthly_revenue_per_account, referral_rate
from .core import (
    KPI_CORE,
    KPI_SCHEMA,
    OVERALL,
    PER,
    SEG,
    Grouping,
    check_rows,
    finish,
    grouping_sets,
    mean_ci,
    nps_ci,
    numeric,
    proportion_ci,
    require_columns,
    scale_answers,
    show,
    subject_expr,
    temporal,
    z_value,
)
from .health import HEALTH_SCHEMA, HealthComponent, health_kpis, health_scores
from .lifecycle import (
    COHORT_SCHEMA,
    churn_retention,
    cohort_kpis,
    cohort_table,
    engagement_rate,
    lifecycle_counts,
)
from .support import first_contact_resolution, first_response_time
from .survey import ces, csat, nps

__all__ = [
    "COHORT_SCHEMA",
    "HEALTH_SCHEMA",
    "KPI_CORE",
    "KPI_SCHEMA",
    "OVERALL",
    "PER",
    "SEG",
    "Grouping",
    "HealthComponent",
    "cac",
    "cac_payback",
    "ces",
    "check_rows",
    "churn_retention",
    "clv_cac",
    "cohort_kpis",
    "cohort_table",
    "csat",
    "engagement_rate",
    "finish",
    "first_contact_resolution",
    "first_response_time",
    "grouping_sets",
    "health_kpis",
    "health_scores",
    "lifecycle_counts",
    "mean_ci",
    "monthly_revenue_per_account",
    "nps",
    "nps_ci",
    "numeric",
    "proportion_ci",
    "referral_rate",
    "require_columns",
    "scale_answers",
    "show",
    "subject_expr",
    "temporal",
    "z_value",
]
