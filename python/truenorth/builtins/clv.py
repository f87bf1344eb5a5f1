"""The ``clv`` rule kind: transactions → customer summary → purchase + spend models → CLV.

Example::

    - id: value
      kind: clv
      with:
        source: transactions          # dataset role with customer, time, amount columns
        model: bg_nbd                 # a continuous-time purchase model (see `model` above)
        spend: gamma_gamma            # or null: no spend model, no clv column
        horizon: "12 months"          # or an integer in horizon_unit
        discount_rate: 0.01           # per horizon_unit period
        period: 1d                    # purchases in the same period are merged (or 1mo, 1q, 1y)
        unit: 1w                      # unit of recency and T (1mo with a 1mo period)
        # model_path: models/bgnbd.json   # score with a fitted model instead of fitting
        # (services can also pass fitted models: engine.run(..., resources={"value": model}))

``on:`` may name the transactions table instead of ``source``; ``when:`` filters transactions
(e.g. ``when: "country = 'NL'"``). Writes ``customers`` (option ``into``): the summary columns (customer key, frequency, recency,
T, monetary_value, n_transactions, revenue, first_purchase, last_purchase) plus ``p_alive``,
``expected_purchases`` (over the horizon), and with a spend model ``expected_spend`` and
``clv``. With ``interval: 0.9`` also ``p_alive_lower``/``p_alive_upper`` and (with a spend
model) ``clv_lower``/``clv_upper``: the central 90% interval over ``draws`` (200) draws of the
purchase model's parameters from their asymptotic normal on the log scale
(``interval_method: bootstrap`` refits on resampled customers instead), seeded by ``seed``;
the spend per purchase is held at its estimate. A model that does not converge, and a Gamma-Gamma fit whose repeat customers' spend
correlates with their frequency (|Pearson ρ| ≥ 0.3, against its independence assumption), are
reported as ``warn`` findings (not printed warnings); repeat customers
with non-positive mean spend (refunds, free orders) are left out of the Gamma-Gamma fit and
counted in an ``info`` finding; their ``expected_spend`` is the fitted model's for a mean
spend of 0 (the population mean, pulled down by each of their repeat purchases).
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime
from typing import Any, Literal

import polars as pl
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

import truenorth

from . import clv_covariates

UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*(h|d|w|mo|q|y)\s*$")
_CALENDAR = ("mo", "q", "y")
# What the rule can use, as model capabilities: it measures horizons in time units, so a
# purchase model must count continuous time (truenorth.clv.models_registry lists them all).
MODEL_NEEDS: dict[str, dict[str, Any]] = {
    "model": {"process": "purchase", "discrete": False},
    "spend": {"process": "spend"},
}


def usable_models(option: str) -> dict[str, Any]:
    """The registered models the ``model`` or ``spend`` option accepts, by kind."""
    from truenorth import clv

    return clv.models_registry(**MODEL_NEEDS[option])


def _quoted(kinds: Any) -> str:
    """'a', 'b' or 'c' (pydantic's wording for a choice)."""
    q = [repr(k) for k in kinds]
    return " or ".join(filter(None, [", ".join(q[:-1]), q[-1]])) if q else "(none registered)"


def _check_model(option: str, value: Any) -> Any:
    usable = usable_models(option)
    if value is None or (isinstance(value, str) and value in usable):
        return value
    from truenorth import clv

    expected = _quoted(usable)
    other = clv.models_registry().get(value) if isinstance(value, str) else None
    if other is None:
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    caps = other.capabilities
    wrong = [k for k, want in MODEL_NEEDS[option].items() if getattr(caps, k) != want]
    raise PydanticCustomError(
        "literal_error",
        "{label} cannot be used here: it has {have}, the clv rule needs {need}",
        {
            "label": other.label,
            "have": ", ".join(f"{k}={getattr(caps, k)!r}" for k in wrong),
            "need": ", ".join(f"{k}={MODEL_NEEDS[option][k]!r}" for k in wrong),
            "expected": expected,
        },
    )


def _model_schema(option: str) -> Any:
    """JSON schema of a model option: the usable kinds, read from the registry when the schema
    is made (so `truenorth kinds clv` lists models registered after this module loaded)."""

    def extra(schema: dict[str, Any]) -> None:
        usable = usable_models(option)
        choice = {"enum": list(usable), "type": "string"}
        if "anyOf" in schema:  # nullable: keep the null branch
            schema["anyOf"] = [choice, *(s for s in schema["anyOf"] if s.get("type") == "null")]
        else:
            schema.update(choice)
        names = ", ".join(f"{k} ({c.label})" for k, c in usable.items())
        schema["description"] = f"{schema['description']}: {names}"

    return extra


def parse_horizon(value: Any, default_unit: str) -> tuple[float, str]:
    """``12`` → (12, default_unit); ``"12 months"`` → (12, "month")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), default_unit
    m = _HORIZON.match(str(value))
    if not m:
        raise ValueError(f"horizon {value!r}: expected a number or '<n> days|weeks|months|years'")
    return float(m.group(1)), m.group(2).lower()


def duration_days(text: str) -> float:
    """``"1w"`` → 7.0; calendar units (``1mo``, ``1q``, ``1y``) count their mean length, as the
    models' ``time_unit`` does (a 12-month horizon is then exactly 12 monthly units)."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(
            f"{text!r}: expected a duration like 12h, 1d, 7d, 1w, or a calendar 1mo, 1q, 1y"
        )
    from truenorth.clv import time_unit_days  # the models' own reading of a unit

    return time_unit_days(text)


def is_calendar(text: str) -> bool:
    m = _DURATION.match(text)
    return m is not None and m.group(2) in _CALENDAR


class ClvOptions(truenorth.Options):
    """Options of ``clv``."""

    source: str = Field("transactions", description="table of transactions")
    customer: str = Field("customer", description="customer key column")
    time: str = Field("time", description="transaction time column (date or datetime)")
    amount: str | None = Field("amount", description="amount column (null: no monetary value)")
    model: str = Field(
        "bg_nbd", description="purchase model", json_schema_extra=_model_schema("model")
    )
    spend: str | None = Field(
        "gamma_gamma",
        description="spend model (null: none, no clv column)",
        json_schema_extra=_model_schema("spend"),
    )
    horizon: int | float | str = Field(12, description="CLV horizon: a number or '12 months'")
    horizon_unit: Literal["day", "week", "month", "year"] = "month"
    discount_rate: float = Field(0.01, ge=0, lt=1, description="discount rate per horizon unit")
    period: str = Field("1d", description="purchases within one period count once")
    unit: str = Field("1w", description="time unit of recency and T")
    observation_end: date | datetime | None = None
    model_path: str | None = Field(None, description="fitted purchase model JSON (skip fitting)")
    spend_model_path: str | None = Field(None, description="fitted spend model JSON")
    interval: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="level of prediction intervals (e.g. 0.9): adds p_alive_lower/_upper "
        "and, with a spend model, clv_lower/_upper (null: none)",
    )
    interval_method: Literal["normal", "bootstrap"] = Field(
        "normal",
        description="parameter draws: normal (asymptotic normal of the log-parameters) or "
        "bootstrap (refits on resampled customers; needs a fitted, not loaded, model)",
    )
    draws: int = Field(200, ge=2, le=100_000, description="parameter draws of the intervals")
    seed: int = Field(0, ge=0, description="seed of the parameter draws")
    into: str = Field("customers", description="table to write")
    covariates: clv_covariates.CovariateOptions | None = Field(
        None,
        description="customer attributes scaling the purchase model per customer "
        "(pareto_nbd, bg_nbd, ggom_nbd; see truenorth.clv.covariates)",
    )

    @field_validator("model", "spend", mode="before")
    @classmethod
    def _registered(cls, v: Any, info: ValidationInfo) -> Any:
        return _check_model(str(info.field_name), v)

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, v: Any) -> Any:
        n, _ = parse_horizon(v, "month")
        if n <= 0 or n != int(n):
            raise ValueError(f"horizon {v!r}: expected a positive whole number of steps")
        return v

    @field_validator("period", "unit")
    @classmethod
    def _duration(cls, v: str) -> str:
        duration_days(v)
        return v

    @model_validator(mode="before")
    @classmethod
    def _calendar_unit_default(cls, data: Any) -> Any:
        # the default unit (1w) cannot measure calendar periods: they default to themselves
        if isinstance(data, dict) and "unit" not in data:
            period = data.get("period")
            if isinstance(period, str) and is_calendar(period):
                return {**data, "unit": period}
        return data

    @model_validator(mode="after")
    def _calendar_pairs(self) -> ClvOptions:
        # months differ in length: a calendar period is measured in calendar units and a
        # fixed one in fixed units (summarize refuses the mix; say so at load time)
        if is_calendar(self.period) != is_calendar(self.unit):
            raise ValueError(
                f"period {self.period!r} and unit {self.unit!r}: a calendar period (mo, q, y) "
                "needs a calendar unit and a fixed period (h, d, w) a fixed unit; e.g. "
                "period: 1mo with unit: 1mo"
            )
        return self


OUTPUT_SCHEMA_BASE: dict[str, Any] = {
    "frequency": None,
    "recency": pl.Float64(),
    "T": pl.Float64(),
    "monetary_value": pl.Float64(),
    "n_transactions": None,
    "revenue": pl.Float64(),
    "first_purchase": None,
    "last_purchase": None,
    "p_alive": pl.Float64(),
    "expected_purchases": pl.Float64(),
}


def source_of(options: ClvOptions, rule: truenorth.Rule) -> str:
    """``on:`` names the transactions table when given; else the ``source`` option."""
    return rule.on or options.source


def _reads(options: ClvOptions, rule: truenorth.Rule) -> list[str]:
    return [source_of(options, rule), *clv_covariates.reads(options.covariates)]


def _writes(options: ClvOptions, rule: truenorth.Rule) -> dict[str, Any]:
    schema: dict[str, Any] = {options.customer: None, **OUTPUT_SCHEMA_BASE}
    if options.interval is not None:
        schema["p_alive_lower"] = pl.Float64()
        schema["p_alive_upper"] = pl.Float64()
    if options.spend:
        schema["expected_spend"] = pl.Float64()
        schema["clv"] = pl.Float64()
        if options.interval is not None:
            schema["clv_lower"] = pl.Float64()
            schema["clv_upper"] = pl.Float64()
    return {options.into: schema}


def _validate(options: ClvOptions, rule: truenorth.Rule, ctx: Any) -> None:
    source = source_of(options, rule)
    if rule.on and "source" in options.model_fields_set and options.source != rule.on:
        ctx.error(
            f"`on: {rule.on}` and `with.source: {options.source}` disagree",
            at=("with", "source"),
            expected="one of them",
        )
    schema = ctx.schema(source)
    if schema is not None:
        for key in ("customer", "time", "amount"):
            col = getattr(options, key)
            if col is not None and col not in schema:
                ctx.error(
                    f"{key}: no column {col!r} in table {source!r}",
                    at=("with", key),
                    expected=f"one of: {', '.join(schema)}",
                )
    clv_covariates.validate(
        options.covariates, options.customer, ctx, interval=options.interval is not None
    )
    if options.spend and options.amount is None:
        ctx.error(
            "a spend model needs an amount column",
            at=("with", "spend"),
            expected="amount: <column>, or spend: null",
        )


def _load_model(ctx: truenorth.RuleContext, path: str) -> Any:
    from truenorth import clv

    file = ctx.resolve_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read model {file}: {exc.strerror}") from None
    return clv.load(text)


def _given_models(ctx: truenorth.RuleContext) -> dict[str, Any]:
    """Fitted models handed in by a service: ``resources={rule_id: model or {purchase, spend}}``."""
    res = ctx.resource() if hasattr(ctx, "resource") else None
    if res is None:
        return {}
    if isinstance(res, dict):
        unknown = set(res) - {"purchase", "spend"}
        if unknown:
            raise ValueError(
                f"resources for {ctx.rule.id!r}: unknown key(s) {sorted(unknown)}; use purchase, spend"
            )
        return res
    return {"purchase": res}


def _fit(fit: Any, ctx: truenorth.RuleContext, name: Any, findings: list) -> Any:
    """Run a model fit; too little or unusable data (ModelInputError) is a data error (exit 2).

    The fit's warnings become findings of this rule instead of lines on stderr: a run's report
    is where its user looks, and a service embedding the engine has no console.
    """
    from truenorth.clv import ConvergenceWarning, ModelInputError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = fit()
        except ModelInputError as exc:
            raise truenorth.DataError(
                f"table {source_of(ctx.rule.options, ctx.rule)!r}: {exc}"
            ) from exc
    seen = set()
    for w in caught:
        message = str(w.message)
        # non-convergence is reported from the model's own flag (see _convergence)
        if issubclass(w.category, ConvergenceWarning) or message in seen:
            continue
        seen.add(message)
        findings.append(
            ctx.finding(
                str(name),
                f"{name}: {message}",
                severity="warn",
                evidence={"warning": w.category.__name__},
            )
        )
    return model


def evaluate(ctx: truenorth.RuleContext[ClvOptions]) -> truenorth.RuleOutput:
    from truenorth import clv

    opts = ctx.rule.options
    lf = ctx.table(source_of(opts, ctx.rule))
    if ctx.rule.when:  # `when:` keeps only matching transactions (e.g. one country)
        lf = lf.filter(ctx.condition(ctx.rule.when, lf.collect_schema()).fill_null(False))
    try:
        summary = clv.summarize(
            lf,
            customer=opts.customer,
            time=opts.time,
            amount=opts.amount,
            period=opts.period,
            unit=opts.unit,
            observation_end=opts.observation_end,
        )
    except ValueError as exc:
        # summarize raises ValueError (or the core's CoreError, a ValueError) only for bad input:
        # missing columns, unsupported dtypes, empty input, null ids/times, non-finite amounts
        raise truenorth.DataError(f"table {source_of(opts, ctx.rule)!r}: {exc}") from exc
    findings: list[truenorth.Finding] = []
    # the model reads covariates from `data`; the output table keeps the summary's columns
    data = (
        clv_covariates.attach(ctx, opts.covariates, summary, opts.customer)
        if opts.covariates is not None
        else summary
    )
    cov_fit = clv_covariates.fit_options(opts.covariates) if opts.covariates else {}
    given = _given_models(ctx)
    if given.get("purchase") is not None:
        model = given["purchase"]
    elif opts.model_path:
        model = _load_model(ctx, opts.model_path)
    else:
        model = _fit(
            lambda: clv.models_registry()[opts.model](time_unit=opts.unit).fit(data, **cov_fit),
            ctx,
            opts.model,
            findings,
        )
    _convergence(ctx, model, opts.model, findings)
    horizon, horizon_unit = parse_horizon(opts.horizon, opts.horizon_unit)
    _same_unit(model, opts.unit, "purchase model")
    t_units = horizon * UNIT_DAYS[horizon_unit] / duration_days(opts.unit)
    band: dict[str, Any] | None = (
        {
            "interval": opts.interval,
            "draws": opts.draws,
            "seed": opts.seed,
            "method": opts.interval_method,
        }
        if opts.interval is not None
        else None
    )
    columns: list[pl.Series] = (
        [model.p_alive(data).alias("p_alive")]
        if band is None
        else model.p_alive(data, **band).get_columns()
    )
    columns.append(model.expected_purchases(data, t_units).alias("expected_purchases"))
    if opts.spend:
        # Gamma-Gamma needs positive mean spend: repeat customers whose repeat purchases
        # sum to zero or less (refunds, free orders) are left out of the fit, and said so
        bad = (pl.col("frequency") > 0) & (pl.col("monetary_value") <= 0)
        n_bad = summary.select(bad.sum()).item()
        if n_bad:
            findings.append(
                ctx.finding(
                    str(opts.spend),
                    f"{n_bad} repeat customer(s) with non-positive mean spend (refunds, free "
                    "orders) left out of the Gamma-Gamma fit; their expected_spend is the "
                    "fitted model's for a mean spend of 0",
                    severity="info",
                    value=float(n_bad),
                    evidence={"excluded": int(n_bad), "customers": summary.height},
                )
            )
        if given.get("spend") is not None:
            spend = given["spend"]
        elif opts.spend_model_path:
            spend = _load_model(ctx, opts.spend_model_path)
        else:
            spend = _fit(
                lambda: clv.models_registry()[opts.spend](time_unit=opts.unit).fit(
                    summary.filter(~bad)
                ),
                ctx,
                opts.spend,
                findings,
            )
        _same_unit(spend, opts.unit, "spend model")
        _convergence(ctx, spend, opts.spend, findings)
        # a negative mean (refunds) is predicted as a mean of 0: the model's population
        # prior, pulled down the more repeat purchases brought nothing
        spend_input = summary.select("frequency", pl.col("monetary_value").clip(lower_bound=0.0))
        expected_spend = spend.expected_spend(spend_input).alias("expected_spend")
        columns.append(expected_spend)
        common: dict[str, Any] = {
            "horizon": int(horizon),
            "horizon_unit": horizon_unit,
            "discount_rate": opts.discount_rate,
        }
        # the spend per row is computed once (lifetime_value accepts it as a Series)
        value: pl.Series | pl.DataFrame = (
            clv.lifetime_value(model, expected_spend, data, **common)
            if band is None
            else clv.lifetime_value(model, expected_spend, data, **common, **band)
        )
        columns.extend(value.get_columns() if isinstance(value, pl.DataFrame) else [value])
    out = summary.with_columns(columns).sort(opts.customer)
    if hasattr(ctx, "note"):
        ctx.note("customers", out.height)
        params = getattr(model, "params", None)
        if params:
            ctx.note("purchase model", None, model=opts.model, params=dict(params))
        if getattr(model, "covariates", None) is not None:
            coef = model.coefficients()
            ctx.note(
                "covariate coefficients",
                None,
                **{
                    name: {"estimate": est, "std_error": se, "p_value": p}
                    for name, est, se, p in coef.select(
                        "coefficient", "estimate", "std_error", "p_value"
                    ).iter_rows()
                },
            )
    return truenorth.RuleOutput(tables={opts.into: out}, findings=findings)


def _same_unit(model: Any, unit: str, what: str) -> None:
    """A fitted/loaded model only fits summaries measured in its own time unit."""
    own = getattr(model, "time_unit", None)
    if own is not None and duration_days(own) != duration_days(unit):
        raise ValueError(
            f"the {what} was fitted with time unit {own!r} but this rule summarises in "
            f"{unit!r}; set `unit: {own}`"
        )


def _convergence(ctx: truenorth.RuleContext, model: Any, name: Any, findings: list) -> None:
    if getattr(model, "converged", True) is False:
        findings.append(
            ctx.finding(
                str(name),
                f"{name} fit did not converge; predictions may be unreliable",
                severity="warn",
                evidence={"n_iterations": getattr(model, "n_iterations", None)},
            )
        )


KIND = truenorth.RuleKind(
    name="clv",
    options_model=ClvOptions,
    evaluate=evaluate,
    reads=_reads,
    writes=_writes,
    summary="Customer summary, BG/NBD-family purchase model, Gamma-Gamma spend, discounted CLV.",
    doc=__doc__ or "",
    validate=_validate,
)


@truenorth.hookimpl
def register_rule_kinds(register):
    register(KIND)
