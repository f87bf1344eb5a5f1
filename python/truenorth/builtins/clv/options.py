"""Options of the ``clv`` rule kind: their model, load-time checks, and the tables they
make the rule read and write."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

import polars as pl
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

import truenorth

from . import covariates as clv_covariates

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


#: the ``model`` value that backtests the candidates and picks one (see selection.py)
AUTO = "auto"


def _check_model(option: str, value: Any, *, auto: bool = False) -> Any:
    usable = usable_models(option)
    if value is None or (isinstance(value, str) and value in usable):
        return value
    if auto and value == AUTO:
        return value
    from truenorth import clv

    expected = _quoted([*usable, *([AUTO] if auto else [])])
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


def _model_schema(option: str, *, auto: bool = False, items: bool = False) -> Any:
    """JSON schema of a model option: the usable kinds, read from the registry when the schema
    is made (so `truenorth kinds clv` lists models registered after this module loaded).
    ``auto`` adds the ``auto`` choice; ``items`` puts the choice on a list's items."""

    def extra(schema: dict[str, Any]) -> None:
        usable = usable_models(option)
        choice = {"enum": [*usable, *([AUTO] if auto else [])], "type": "string"}
        target = schema
        if "anyOf" in schema:  # nullable: keep the null branch
            branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
            nulls = [s for s in schema["anyOf"] if s.get("type") == "null"]
            if items and branches:
                branches[0]["items"] = choice
                schema["anyOf"] = [*branches, *nulls]
            else:
                schema["anyOf"] = [choice, *nulls]
        elif items:
            target["items"] = choice
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
        "bg_nbd",
        description="purchase model, or auto (backtest the `models` and pick one)",
        json_schema_extra=_model_schema("model", auto=True),
    )
    models: list[str] | None = Field(
        None,
        min_length=1,
        description="model: auto: the candidates (null: bg_nbd, mbg_nbd, pareto_nbd, ggom_nbd "
        "as registered)",
        json_schema_extra=_model_schema("model", items=True),
    )
    holdout: str | None = Field(
        None,
        description="model: auto: length of the holdout window at the end of the observation "
        "window, e.g. 13w, 90d, 3mo (null, and no calibration_end: its last quarter)",
    )
    calibration_end: date | datetime | None = Field(
        None,
        description="model: auto: last day (instant) of the calibration window, instead of holdout",
    )
    select: Literal["holdout", "bic"] = Field(
        "holdout",
        description="model: auto: pick the lowest per-customer RMSE of holdout purchases "
        "(holdout) or the lowest BIC of the calibration fit (bic)",
    )
    bias_threshold: float = Field(
        0.1,
        gt=0,
        description="model: auto: warn when the chosen model's holdout purchases total is off "
        "the actual by more than this share (0.1: 10%)",
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
        "(with time-varying covariates also expected_purchases_lower/_upper) and, with a "
        "spend model, clv_lower/_upper (null: none)",
    )
    interval_method: Literal["delta", "normal", "bootstrap"] = Field(
        "delta",
        description="delta (the delta method on the log-parameters: a few times the cost of a "
        "point prediction), normal (draws from the asymptotic normal of the log-parameters; "
        "follows skew, ~20x the cost) or bootstrap (refits on resampled customers; needs a "
        "fitted, not loaded, model); static covariates: delta only",
    )
    draws: int = Field(200, ge=2, le=100_000, description="parameter draws of the intervals")
    seed: int = Field(0, ge=0, description="seed of the parameter draws")
    into: str = Field("customers", description="table to write")
    covariates: clv_covariates.CovariateOptions | None = Field(
        None,
        description="customer attributes scaling the purchase model per customer "
        "(pareto_nbd, bg_nbd, ggom_nbd; see truenorth.clv.covariates), or time-varying "
        "covariates per customer and period (pareto_nbd; truenorth.clv.covariates_dynamic)",
    )

    @field_validator("model", "spend", mode="before")
    @classmethod
    def _registered(cls, v: Any, info: ValidationInfo) -> Any:
        return _check_model(str(info.field_name), v, auto=info.field_name == "model")

    @field_validator("models", mode="before")
    @classmethod
    def _candidates(cls, v: Any) -> Any:
        if isinstance(v, list):
            for item in v:
                _check_model("model", item)
            twice = sorted({m for m in v if isinstance(m, str) and v.count(m) > 1})
            if twice:
                raise ValueError(f"candidate(s) named twice: {', '.join(twice)}")
        return v

    @field_validator("holdout")
    @classmethod
    def _holdout(cls, v: str | None) -> str | None:
        if v is not None:
            duration_days(v)
        return v

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
        if options.covariates is not None and options.covariates.dynamic is not None:
            schema["expected_purchases_lower"] = pl.Float64()
            schema["expected_purchases_upper"] = pl.Float64()
    if options.spend:
        schema["expected_spend"] = pl.Float64()
        schema["clv"] = pl.Float64()
        if options.interval is not None:
            schema["clv_lower"] = pl.Float64()
            schema["clv_upper"] = pl.Float64()
    if options.model == AUTO:
        from .tables import TABLES

        return {options.into: schema, **TABLES}
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
        options.covariates,
        options.customer,
        ctx,
        interval_method=options.interval_method if options.interval is not None else None,
        model=options.model,
        model_path=options.model_path,
    )
    if options.covariates is not None and options.model == AUTO:
        ctx.error(
            "covariates need a named purchase model (model: auto compares models without them)",
            at=("with", "covariates"),
            expected="model: pareto_nbd, bg_nbd or ggom_nbd",
        )
    if options.spend and options.amount is None:
        ctx.error(
            "a spend model needs an amount column",
            at=("with", "spend"),
            expected="amount: <column>, or spend: null",
        )
    _validate_auto(options, ctx)


#: options that only mean something with ``model: auto``
AUTO_OPTIONS = ("models", "holdout", "calibration_end", "select", "bias_threshold")


def _validate_auto(options: ClvOptions, ctx: Any) -> None:
    """Load-time checks of ``model: auto`` and its options (the data-dependent ones, such as a
    calibration end outside the data, are made when the rule runs)."""
    given = options.model_fields_set
    if options.model != AUTO:
        for key in AUTO_OPTIONS:
            if key in given:
                ctx.error(
                    f"{key}: only used with model: auto (model is {options.model!r})",
                    at=("with", key),
                    expected=f"model: auto, or no {key}",
                )
        return
    if options.model_path is not None:
        ctx.error(
            "model_path scores with a fitted model; model: auto fits and picks one",
            at=("with", "model_path"),
            expected="one of model: auto or model_path",
        )
    if options.holdout is not None and options.calibration_end is not None:
        ctx.error(
            "holdout and calibration_end both set the split",
            at=("with", "calibration_end"),
            expected="one of holdout or calibration_end",
        )
    for key in ("period", "unit"):
        if is_calendar(getattr(options, key)):
            ctx.error(
                f"{key}: {getattr(options, key)!r} is a calendar duration; model: auto tracks "
                "the cohort in fixed-length periods (months differ in length)",
                at=("with", key),
                expected="a fixed duration such as 1d or 1w",
            )
    if options.holdout is not None:
        length, unit = duration_days(options.holdout), duration_days(options.unit)
        if length < unit:
            ctx.error(
                f"holdout {options.holdout!r} is shorter than one unit ({options.unit!r}): the "
                "holdout needs at least one whole unit to compare predictions with",
                at=("with", "holdout"),
                expected=f"a length of at least {options.unit}, e.g. 13w or 90d",
            )
    end, cal = options.observation_end, options.calibration_end
    try:
        late = end is not None and cal is not None and _as_datetime(cal) >= _as_datetime(end)
    except TypeError:  # one with a time zone, one without: the run compares them in the data
        late = False
    if late:
        ctx.error(
            f"calibration_end {cal} is not before observation_end {end}",
            at=("with", "calibration_end"),
            expected="a calibration end before the observation end",
        )


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
