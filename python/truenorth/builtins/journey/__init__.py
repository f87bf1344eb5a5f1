"""The ``journey`` rule kind: funnels, transitions, touchpoints and attribution (DOMAIN.md §3).

The math lives in pure Polars modules — :mod:`.events` (validation and the ordering rule),
:mod:`.funnel`, :mod:`.transitions`, :mod:`.attribution`; this module is the rule-kind wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from truenorth import Options, Rule, RuleContext, RuleKind, RuleOutput, hookimpl
from truenorth.errors import DataError

from . import attribution as attribution_mod
from . import events as events_mod
from . import funnel as funnel_mod
from . import transitions as transitions_mod


class JourneyOptions(Options):
    """Options of a ``journey`` rule (its ``with:`` mapping)."""

    source: str = Field("events", description="Dataset role (or table) holding the event log.")
    steps: list[str] = Field(
        ..., min_length=1, description="Ordered funnel steps (event or stage names)."
    )
    mode: Literal["sequential", "strict", "any"] = Field(
        "sequential",
        description="sequential: later step after earlier, anything in between; strict: the "
        "very next event; any: steps 2..k in any order after entering step 1.",
    )
    window: str | None = Field(
        None, description="Conversion window from entering step 1, e.g. '14d', '36h', '30m'."
    )
    by: Literal["customer", "session"] = Field(
        "customer", description="Journey unit: the `customer` or the `session` column."
    )
    step_column: Literal["auto", "event", "stage"] = Field(
        "auto", description="Column holding step names; auto: `stage` if present, else `event`."
    )
    conversion: str | None = Field(
        None, description="Conversion step for attribution (default: the last step)."
    )
    attribute: Literal["auto", "touchpoint", "channel"] = Field(
        "auto",
        description="Column attributed; auto: `touchpoint` if present, else `channel`.",
    )
    transitions: Literal["all", "steps"] = Field(
        "all", description="Transition matrix over all step names, or only the funnel steps."
    )
    satisfaction_min: float = Field(
        3.0, description="Touchpoints whose mean satisfaction is below this are flagged."
    )
    value: Literal[
        "conversion_from_previous", "conversion_from_start", "drop_off_rate", "reached"
    ] = Field("conversion_from_previous", description="Funnel column reported as warn/fail value.")
    top_paths: int = Field(20, ge=1, description="Rows of the `paths` table (most common first).")
    prefix: str = Field("", description="Prefix of the table names written.")

    @field_validator("steps")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        dup = sorted({s for s in value if value.count(s) > 1})
        if dup:
            raise ValueError(f"steps must be distinct; repeated: {', '.join(dup)}")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            events_mod.parse_window(value)
        return value

    @model_validator(mode="after")
    def _conversion_is_a_step(self) -> JourneyOptions:
        if self.conversion is not None and not self.conversion.strip():
            raise ValueError("conversion must be a step name")
        return self

    @property
    def window_delta(self) -> timedelta | None:
        return None if self.window is None else events_mod.parse_window(self.window)

    def name(self, table: str) -> str:
        return f"{self.prefix}{table}"


def reads(options: JourneyOptions, rule: Rule) -> Sequence[str]:
    return (options.source,)


def writes(options: JourneyOptions, rule: Rule) -> dict:
    return {
        options.name("funnel"): funnel_mod.FUNNEL_SCHEMA,
        options.name("transitions"): transitions_mod.TRANSITIONS_SCHEMA,
        options.name("touchpoints"): transitions_mod.TOUCHPOINTS_SCHEMA,
        options.name("paths"): transitions_mod.PATHS_SCHEMA,
        options.name("attribution"): attribution_mod.ATTRIBUTION_SCHEMA,
    }


def analyse(
    frame: pl.DataFrame | pl.LazyFrame, options: JourneyOptions
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """All tables of a journey rule (no engine), and the steps without a touchpoint."""
    if options.by == "session":
        names = frame.lazy().collect_schema().names()
        if "session" not in names:
            raise DataError(
                f"journey option by: session needs a 'session' column (found: {', '.join(names)})"
            )
    ev = events_mod.prepare(frame, by=options.by, step_column=options.step_column)
    tables = {
        options.name("funnel"): funnel_mod.funnel(
            ev, options.steps, mode=options.mode, window=options.window_delta
        ),
        options.name("transitions"): transitions_mod.transitions(
            ev, options.steps if options.transitions == "steps" else None
        ),
        options.name("touchpoints"): transitions_mod.touchpoints(ev),
        options.name("paths"): transitions_mod.paths(
            ev, options.steps, options.conversion or options.steps[-1], options.top_paths
        ),
    }
    column = options.attribute
    if column == "auto":
        column = "touchpoint" if "touchpoint" in ev.columns else "channel"
    if column in ev.columns:
        tables[options.name("attribution")] = attribution_mod.attribution(
            ev, column, options.conversion or options.steps[-1]
        )
    elif options.attribute != "auto":
        raise DataError(
            f"journey option attribute: {column} needs a '{column}' column in the event log"
        )
    else:
        tables[options.name("attribution")] = pl.DataFrame(
            schema=attribution_mod.ATTRIBUTION_SCHEMA
        )
    return tables, transitions_mod.stages_without_touchpoint(ev, options.steps)


def findings(
    ctx: RuleContext,
    tables: Mapping[str, pl.DataFrame],
    uncovered: Sequence[str],
    options: JourneyOptions,
) -> list:
    """Largest drop-off (info), warn/fail on funnel rows, poor touchpoints, uncovered stages."""
    out = []
    funnel = tables[options.name("funnel")]
    unit = "customers" if options.by == "customer" else "sessions"
    drops = funnel.filter(pl.col("drop_off") > 0).sort(
        ["drop_off", "step_index"], descending=[True, False]
    )
    if drops.height:
        row = drops.row(0, named=True)
        prev = funnel.filter(pl.col("step_index") == row["step_index"] - 1)["step"][0]
        out.append(
            ctx.finding(
                row["step"],
                f"largest drop-off: {row['drop_off']} {unit} "
                f"({100 * row['drop_off_rate']:.1f}%) lost between '{prev}' and '{row['step']}'",
                severity="info",
                value=float(row["drop_off"]),
                evidence={
                    "from_step": prev,
                    "drop_off_rate": row["drop_off_rate"],
                    "reached": row["reached"],
                },
            )
        )
    out.extend(ctx.check_thresholds(funnel, value=options.value, subject="step"))
    tp = tables[options.name("touchpoints")]
    poor = tp.filter(pl.col("mean_satisfaction") < options.satisfaction_min)
    for row in poor.iter_rows(named=True):  # one finding per touchpoint
        out.append(
            ctx.finding(
                row["touchpoint"],
                f"touchpoint '{row['touchpoint']}' has poor satisfaction: mean "
                f"{row['mean_satisfaction']:.2f} < {options.satisfaction_min:g} "
                f"({row['responses']} responses; stages: {row['stages']})",
                value=row["mean_satisfaction"],
                threshold=f"mean_satisfaction >= {options.satisfaction_min:g}",
                evidence={"responses": row["responses"], "stages": row["stages"]},
            )
        )
    for stage in uncovered:
        out.append(
            ctx.finding(
                stage,
                f"stage '{stage}' has no touchpoint: none of its events names one",
                evidence={"steps": list(options.steps)},
            )
        )
    return out


def evaluate(ctx: RuleContext[JourneyOptions]) -> RuleOutput:
    options = ctx.rule.options
    tables, uncovered = analyse(ctx.table(options.source), options)
    return RuleOutput(tables=dict(tables), findings=findings(ctx, tables, uncovered, options))


DOC = """\
Funnels, stage transitions, touchpoint satisfaction and attribution over an event log.

Input (dataset role `source`, default `events`), canonical columns:
  customer (or session, with `by: session`), timestamp, event (or stage)   required
  touchpoint, channel, satisfaction (number)                                optional
Timestamps may be dates, date-times or strings (one format). Events of a unit are ordered by
timestamp, then by their row order in the input: equal timestamps keep the log's order.

Funnel semantics: a unit enters at its first step-1 event; with `window`, only events at most
that long after the entry count. sequential: each step after the previous one, anything in
between; strict: each step is the very next event (of any name); any: steps 2..k all occurred
after the entry, in any order. strict ⊆ sequential ⊆ any.

Tables: `funnel` (step, reached, conversion from start and previous, drop-off, median/mean
seconds from entry), `transitions` (from_stage, to_stage, count, probability; with (start) and
(end) states), `paths` (the most common stage paths, repeats collapsed, with their
conversion), `touchpoints` (events, units, stages, satisfaction), `attribution` (per
touchpoint or channel: first touch, last touch, linear, Markov removal effect and share,
computed exactly from the absorbing chain). Names take `prefix`.

Findings: the largest drop-off (info), warn/fail conditions on funnel rows (subject: the step,
value: `value`), touchpoints with mean satisfaction below `satisfaction_min`, funnel stages
with no touchpoint (when the log has a touchpoint column).

Example (a pack's rules):

```yaml
rules:
  - id: checkout-funnel
    kind: journey
    with:
      source: events
      steps: [product_view, add_to_cart, payment_details, purchase]
      mode: sequential
      window: 14d
      by: customer
      attribute: channel
    warn: "conversion_from_previous < 0.4"
    fail: "conversion_from_previous < 0.1"
```
"""


KIND = RuleKind(
    name="journey",
    options_model=JourneyOptions,
    evaluate=evaluate,
    reads=reads,
    writes=writes,
    summary="Journey funnels, transitions, touchpoint satisfaction and attribution.",
    doc=DOC,
)


@hookimpl
def register_rule_kinds(register) -> None:
    register(KIND)
