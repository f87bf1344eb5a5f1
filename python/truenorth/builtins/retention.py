"""The ``retention`` rule kind: subscriptions → cohorts → sBG/BdW fit → survival projections,
residual value per active customer, findings on projected survival and churn.

Example::

    - id: member-retention
      kind: retention
      with:
        source: subscriptions       # one row per membership
        customer: member_id
        start: joined_on            # first period paid for (date, datetime or period number)
        end: lapsed_on              # first period NOT paid for; empty = still active
        period: 1y                  # renewal period of date columns: 1w, 1mo, 1q, 1y
        model: sbg                  # or bdw (duration dependence through c)
        fit: cohort                 # one fit per cohort, or pooled: one fit for all
        horizon: 10                 # project survival to 10 renewals after the start
        margin: 60                  # per period: adds residual_value and customer_value
        discount_rate: 0.1          # per period
      warn: "survival_at_horizon < 0.4"
      fail: "survival_at_horizon < 0.25 OR churn_rate > 0.3"

Cohorts are the start periods (or the values of ``cohort: COLUMN``). A customer who starts in
period s and whose first unpaid period is e lived T = e − s periods; one still active at the
observation end E (``observation_end``, default the latest start or end in the data) has
T > E − s. Writes three tables (names are options):

- ``retention`` (``into``): per cohort and renewal t = 0..max(observed, horizon):
  ``at_risk`` and ``actual_survival`` (Kaplan–Meier; survivors / cohort size when all members
  are observed equally long) and ``actual_retention`` while observed, ``fitted_survival``,
  ``fitted_survivors`` (cohort size × S(t)), ``fitted_retention`` r(t), ``observed``.
- ``retention_cohorts`` (``cohorts_into``): one row per cohort — ``subject`` (the cohort),
  ``customers``, ``active``, ``periods_observed``, ``churn_rate`` (share of those at risk lost
  at the latest observed renewal), ``first_renewal_churn``, ``alpha``, ``beta``, ``c`` (BdW),
  their ``*_se``, ``log_likelihood``, ``aic``, ``bic``, ``mean_churn`` (α/(α+β)),
  ``survival_at_horizon``, ``survivors_at_horizon``, ``derl_new`` (discounted expected
  lifetime after the first period), with a margin ``customer_value``, ``status`` (fitted /
  not identified) and ``problem``. The rule's ``warn:``/``fail:`` are checked on this table
  (columns checked at load time); a finding's value is ``survival_at_horizon``.
- ``retention_values`` (``values_into``): one row per active customer — the customer,
  ``cohort``, ``renewals`` made, ``p_renew`` (next renewal), ``expected_residual_lifetime``
  (DERL, discounted periods), ``residual_value`` (with a margin) and ``elasticity`` (% change
  of residual value per 1% higher renewal probability).

A cohort whose parameters the data cannot identify (too few periods, no churn, or no sign of
heterogeneity) gets a ``warn`` finding and null fitted columns instead of an error; bad data
(an end before its start, a null start, a start after the observation end) is a data error
naming the column and row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import polars as pl
from pydantic import Field

import truenorth

PERIODS = ("1w", "1mo", "1q", "1y")
_MONDAY = dt.date(1970, 1, 5)


class RetentionOptions(truenorth.Options):
    """Options of ``retention``."""

    source: str = Field("subscriptions", description="table of subscriptions, one row each")
    customer: str = Field("customer", description="customer key column")
    start: str = Field("start", description="first period paid for: date, datetime or integer")
    end: str = Field(
        "end", description="first period not paid for (null: still active); same type as start"
    )
    period: Literal["1w", "1mo", "1q", "1y"] = Field(
        "1mo", description="renewal period of date columns (integer columns are periods already)"
    )
    observation_end: dt.date | dt.datetime | int | None = Field(
        None, description="last period observed (default: the latest start or end in the data)"
    )
    cohort: str | None = Field(
        None, description="column grouping customers (default: start period)"
    )
    model: Literal["sbg", "bdw"] = Field("sbg", description="sbg or bdw (beta-discrete-Weibull)")
    fit: Literal["cohort", "pooled"] = Field(
        "cohort", description="one fit per cohort, or one parameter set for all cohorts"
    )
    horizon: int = Field(12, ge=1, le=1000, description="renewals after the start to project to")
    margin: float | None = Field(None, ge=0, description="margin per period (adds values)")
    discount_rate: float = Field(0.01, ge=1e-6, lt=10, description="discount rate per period")
    into: str = Field("retention", description="table of actual vs fitted survival per period")
    cohorts_into: str = Field("retention_cohorts", description="table of per-cohort fits")
    values_into: str = Field("retention_values", description="table of active customers' value")


SURVIVAL_SCHEMA: dict[str, Any] = {
    "cohort": pl.String(),
    "period": pl.Int64(),
    "observed": pl.Boolean(),
    "at_risk": pl.Float64(),
    "actual_survival": pl.Float64(),
    "actual_retention": pl.Float64(),
    "fitted_survival": pl.Float64(),
    "fitted_survivors": pl.Float64(),
    "fitted_retention": pl.Float64(),
}
COHORT_SCHEMA: dict[str, Any] = {
    "subject": pl.String(),
    "cohort": pl.String(),
    "customers": pl.Int64(),
    "active": pl.Int64(),
    "periods_observed": pl.Int64(),
    "churn_rate": pl.Float64(),
    "first_renewal_churn": pl.Float64(),
    "model": pl.String(),
    "alpha": pl.Float64(),
    "beta": pl.Float64(),
    "c": pl.Float64(),
    "alpha_se": pl.Float64(),
    "beta_se": pl.Float64(),
    "c_se": pl.Float64(),
    "log_likelihood": pl.Float64(),
    "aic": pl.Float64(),
    "bic": pl.Float64(),
    "mean_churn": pl.Float64(),
    "horizon": pl.Int64(),
    "survival_at_horizon": pl.Float64(),
    "survivors_at_horizon": pl.Float64(),
    "derl_new": pl.Float64(),
    "customer_value": pl.Float64(),
    "status": pl.String(),
    "problem": pl.String(),
}
VALUE_SCHEMA: dict[str, Any] = {
    "cohort": pl.String(),
    "renewals": pl.Int64(),
    "p_renew": pl.Float64(),
    "expected_residual_lifetime": pl.Float64(),
    "residual_value": pl.Float64(),
    "elasticity": pl.Float64(),
}


def source_of(o: RetentionOptions, rule: truenorth.Rule) -> str:
    return rule.on or o.source


def _reads(o: RetentionOptions, rule: truenorth.Rule) -> list[str]:
    return [source_of(o, rule)]


def _writes(o: RetentionOptions, rule: truenorth.Rule) -> dict[str, Any]:
    return {
        o.into: SURVIVAL_SCHEMA,
        o.cohorts_into: COHORT_SCHEMA,
        o.values_into: {o.customer: None, **VALUE_SCHEMA},
    }


def _validate(o: RetentionOptions, rule: truenorth.Rule, ctx: Any) -> None:
    names = [o.into, o.cohorts_into, o.values_into]
    if len(set(names)) < 3:
        ctx.error(
            "into, cohorts_into and values_into must name three different tables",
            at=("with",),
            expected="distinct table names",
        )
    for field in ("warn", "fail"):
        text = getattr(rule, field)
        if text is not None:
            ctx.condition(text, at=(field,), table=o.cohorts_into)
    schema = ctx.schema(source_of(o, rule))
    if schema is None:
        return
    for key in ("customer", "start", "end", "cohort"):
        column = getattr(o, key)
        if column is not None and column not in schema:
            ctx.error(
                f"{key}: no column {column!r} in table {source_of(o, rule)!r}",
                at=("with", key),
                expected=f"one of: {', '.join(schema)}",
            )


def _period_index(s: pl.Series, period: str) -> pl.Series:
    """Whole periods since an epoch: months/quarters/years by the calendar, weeks from Monday."""
    d = s.cast(pl.Date) if s.dtype == pl.Datetime or isinstance(s.dtype, pl.Datetime) else s
    if period == "1mo":
        return (d.dt.year().cast(pl.Int64) * 12 + d.dt.month().cast(pl.Int64) - 1).alias(s.name)
    if period == "1q":
        return (d.dt.year().cast(pl.Int64) * 4 + (d.dt.month().cast(pl.Int64) - 1) // 3).alias(
            s.name
        )
    if period == "1y":
        return d.dt.year().cast(pl.Int64).alias(s.name)
    # days since 1970-01-01 (a Thursday); weeks count from Monday 1970-01-05
    return ((d.cast(pl.Int64) - 4) // 7).alias(s.name)


def _period_label(index: int, period: str) -> str:
    if period == "1mo":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    if period == "1q":
        return f"{index // 4:04d}-Q{index % 4 + 1}"
    if period == "1y":
        return f"{index:04d}"
    return (_MONDAY + dt.timedelta(weeks=index)).isoformat()


def _as_periods(frame: pl.DataFrame, o: RetentionOptions) -> tuple[pl.DataFrame, int | None, bool]:
    """start/end as integer periods; the observation end as a period; whether dates."""
    for key in ("start", "end"):
        col = getattr(o, key)
        if col not in frame.columns:
            raise truenorth.DataError(
                f"table {o.source!r}: no column {col!r} ({key}); columns: {', '.join(frame.columns)}"
            )
    st = frame[o.start].dtype
    is_date = st == pl.Date or isinstance(st, pl.Datetime)
    end_dt = frame[o.end].dtype
    if is_date and not (end_dt == pl.Date or isinstance(end_dt, pl.Datetime) or end_dt == pl.Null):
        raise truenorth.DataError(
            f"table {o.source!r}: column {o.end!r} is {end_dt} but {o.start!r} is {st}; "
            "expected dates in both"
        )
    obs = o.observation_end
    if is_date:
        frame = frame.with_columns(
            _period_index(frame[o.start], o.period),
            _period_index(frame[o.end].cast(pl.Date), o.period),
        )
        if obs is not None:
            if isinstance(obs, int):
                raise truenorth.DataError(
                    f"observation_end {obs}: the subscriptions have dates; give a date"
                )
            day = obs.date() if isinstance(obs, dt.datetime) else obs
            obs = int(_period_index(pl.Series([day]), o.period)[0])
    elif isinstance(obs, (dt.date, dt.datetime)):
        raise truenorth.DataError(
            f"observation_end {obs}: column {o.start!r} holds period numbers; give a number"
        )
    return frame, obs, is_date


def evaluate(ctx: truenorth.RuleContext[RetentionOptions]) -> truenorth.RuleOutput:
    from truenorth import retention

    o = ctx.rule.options
    src = source_of(o, ctx.rule)
    lf = ctx.table(src)
    if ctx.rule.when:
        lf = lf.filter(ctx.condition(ctx.rule.when, lf.collect_schema()).fill_null(False))
    frame = lf.collect()
    frame, obs, is_date = _as_periods(frame, o)
    if o.customer not in frame.columns:
        raise truenorth.DataError(f"table {src!r}: no column {o.customer!r} (customer)")
    try:
        cohorts = retention.cohort_counts(
            frame, start=o.start, end=o.end, observation_end=obs, cohort=o.cohort
        )
    except retention.RetentionInputError as exc:
        raise truenorth.DataError(f"table {src!r}: {exc}") from exc
    if obs is None:
        ends = frame[o.end].drop_nulls()
        obs = int(max(frame[o.start].max(), ends.max() if ends.len() else frame[o.start].max()))  # type: ignore[type-var, arg-type]
    label = (lambda c: _period_label(int(c), o.period)) if is_date and o.cohort is None else str
    findings: list[truenorth.Finding] = []
    fits: dict[str, Any] = {}
    problems: dict[str, str] = {}
    if o.fit == "pooled":
        try:
            pooled = retention.fit_counts(cohorts, o.model, label="all cohorts")
            fits = {c.label: pooled for c in cohorts}
        except retention.NotIdentifiedError as exc:
            problems = {c.label: str(exc) for c in cohorts}
    else:
        for cf in retention.fit_each(cohorts, o.model):
            if cf.model is not None:
                fits[cf.counts.label] = cf.model
            else:
                problems[cf.counts.label] = cf.problem or "not fitted"
    need = 2 if o.model == "sbg" else 3
    for c in cohorts:
        if c.label in problems:
            # a cohort too young to fit is expected (info); other failures are a warning
            findings.append(
                ctx.finding(
                    label(c.label),
                    f"cohort {label(c.label)}: {problems[c.label].split(': ', 1)[-1]}; its "
                    "survival is not projected",
                    severity="info" if c.periods < need and o.fit == "cohort" else "warn",
                    evidence={"customers": int(c.size), "periods_observed": c.periods},
                )
            )
    survival_rows, cohort_rows = [], []
    for c in cohorts:
        m = fits.get(c.label)
        survival_rows.extend(_survival_rows(c, m, o.horizon, label(c.label)))
        cohort_rows.append(_cohort_row(c, m, o, label(c.label), problems.get(c.label)))
    survival = pl.DataFrame(survival_rows, schema=SURVIVAL_SCHEMA, orient="row")
    cohort_table = pl.DataFrame(cohort_rows, schema=COHORT_SCHEMA, orient="row")
    values = _values(frame, o, obs, fits, label)
    findings.extend(
        ctx.check_thresholds(
            cohort_table.filter(pl.col("survival_at_horizon").is_not_null()),
            value="survival_at_horizon",
        )
    )
    if hasattr(ctx, "note"):
        ctx.note("cohorts", len(cohorts), fitted=len(set(fits)), model=o.model, fit=o.fit)
    return truenorth.RuleOutput(
        tables={o.into: survival, o.cohorts_into: cohort_table, o.values_into: values},
        findings=findings,
    )


def _survival_rows(c: Any, m: Any, horizon: int, name: str) -> list[tuple[Any, ...]]:
    k = c.periods
    last = max(k, horizon)
    risk = c.at_risk()
    km = c.observed_survival()
    fitted = m.survival(range(last + 1)) if m is not None else [None] * (last + 1)
    rate = m.retention_rate(range(1, last + 1)) if m is not None else [None] * last
    rows = []
    for t in range(last + 1):
        obs = t <= k
        act_ret = km[t] / km[t - 1] if obs and t > 0 and km[t - 1] > 0 else None
        rows.append(
            (
                name,
                t,
                obs,
                risk[t] if obs else None,
                km[t] if obs else None,
                act_ret,
                fitted[t],
                c.size * fitted[t] if fitted[t] is not None else None,
                rate[t - 1] if t > 0 else None,
            )
        )
    return rows


def _cohort_row(
    c: Any, m: Any, o: RetentionOptions, name: str, problem: str | None
) -> tuple[Any, ...]:
    risk = c.at_risk()
    lost = [*c.lost, *[0.0] * (c.periods - len(c.lost))]
    last_t = max((t for t in range(1, c.periods + 1) if risk[t - 1] > 0), default=None)
    churn = lost[last_t - 1] / risk[last_t - 1] if last_t else None
    first = lost[0] / risk[0] if c.periods and risk[0] > 0 else None
    active = round(sum(c.censored))
    base = [name, name, round(c.size), active, c.periods, churn, first, o.model]
    if m is None:
        return (*base, *[None] * 10, o.horizon, None, None, None, None, "not identified", problem)
    p, se = m.params, m.standard_errors or {}
    s_h = m.survival(o.horizon)[0]
    derl = m.derl(o.discount_rate, 0)
    value = m.customer_value(o.margin, o.discount_rate) if o.margin is not None else None
    return (
        *base,
        p["alpha"],
        p["beta"],
        p.get("c"),
        se.get("alpha"),
        se.get("beta"),
        se.get("c"),
        m.log_likelihood,
        m.aic,
        m.bic,
        p["alpha"] / (p["alpha"] + p["beta"]),
        o.horizon,
        s_h,
        c.size * s_h,
        derl,
        value,
        "fitted",
        None,
    )


def _values(
    frame: pl.DataFrame, o: RetentionOptions, obs: int, fits: dict[str, Any], label: Any
) -> pl.DataFrame:
    """One row per customer active at the observation end."""
    key = (frame[o.cohort] if o.cohort else frame[o.start]).cast(pl.String)
    active = frame[o.end].is_null() | (frame[o.end] > obs)
    cust = frame[o.customer].filter(active)
    k = (obs - frame[o.start]).filter(active)
    groups = key.filter(active)
    cache: dict[tuple[str, int], tuple[float, float, float]] = {}
    rows: list[tuple[Any, ...]] = []
    for cid, grp, renewals in zip(cust.to_list(), groups.to_list(), k.to_list(), strict=True):
        m = fits.get(grp)
        if m is None:
            rows.append((cid, label(grp), renewals, None, None, None, None))
            continue
        if (grp, renewals) not in cache:
            s = m.survival([renewals, renewals + 1])
            p = s[1] / s[0] if s[0] > 0 else 0.0
            cache[(grp, renewals)] = (
                p,
                m.derl(o.discount_rate, renewals),
                m.elasticity(o.discount_rate, renewals),
            )
        p, derl, el = cache[(grp, renewals)]
        value = o.margin * derl if o.margin is not None else None
        rows.append((cid, label(grp), renewals, p, derl, value, el))
    schema = {o.customer: frame[o.customer].dtype, **VALUE_SCHEMA}
    out = pl.DataFrame(rows, schema=schema, orient="row")
    return out.sort(o.customer)


KIND = truenorth.RuleKind(
    name="retention",
    options_model=RetentionOptions,
    evaluate=evaluate,
    reads=_reads,
    writes=_writes,
    summary="Subscription retention: sBG/BdW per cohort, projected survival, residual value.",
    doc=__doc__ or "",
    validate=_validate,
    examples=(
        "- id: member-retention\n  kind: retention\n  with: {source: subscriptions, customer: "
        "member_id, start: joined_on, end: lapsed_on, period: 1y, horizon: 10, margin: 60, "
        'discount_rate: 0.1}\n  warn: "survival_at_horizon < 0.4"\n  fail: '
        '"survival_at_horizon < 0.25 OR churn_rate > 0.3"',
    ),
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)


__all__ = ["KIND", "RetentionOptions", "register_rule_kinds"]
