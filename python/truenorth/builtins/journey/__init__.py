"""The ``journey`` rule kind: funnels, transitions, touchpoints and attribution (DOMAIN.md §3).

The math lives in pure Polars modules — :mod:`.events` (validation and the ordering rule),
:mod:`.funnel`, :mod:`.transitions`, :mod:`.attribution`; this module is the rule-kind wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from truenorth import Rule, RuleContext, RuleKind, RuleOutput, hookimpl
from truenorth.errors import DataError

from . import attribution as attribution_mod
from . import compare as compare_mod
from . import events as events_mod
from . import funnel as funnel_mod
from . import pathdata
from . import transitions as transitions_mod
from . import views as views_mod
from . import weights as weights_mod
from .options import Compare, Exclusion, JourneyOptions

__all__ = ["KIND", "Compare", "Exclusion", "JourneyOptions", "analyse", "findings"]


def reads(options: JourneyOptions, rule: Rule) -> Sequence[str]:
    if options.path_data is None:
        return (options.source,)
    if not options.steps:
        return (options.path_data.source,)
    return (options.source, options.path_data.source)


def writes(options: JourneyOptions, rule: Rule) -> dict:
    attribution = {options.name("attribution"): attribution_mod.ATTRIBUTION_SCHEMA}
    if options.order == "auto":
        attribution[options.name("attribution_orders")] = attribution_mod.ORDERS_SCHEMA
    if not options.steps:
        return attribution
    optional = {}
    if options.breakdown is not None:
        optional[options.name("funnel_breakdown")] = views_mod.BREAKDOWN_SCHEMA
    if options.step_range is not None:
        optional[options.name("funnel_range")] = views_mod.RANGE_SCHEMA
    if options.compare is not None:
        optional[options.name("funnel_comparison")] = compare_mod.COMPARISON_SCHEMA
    return {
        options.name("funnel"): funnel_mod.FUNNEL_SCHEMA,
        **optional,
        options.name("time_to_convert"): views_mod.TIME_TO_CONVERT_SCHEMA,
        options.name("transitions"): transitions_mod.TRANSITIONS_SCHEMA,
        options.name("touchpoints"): transitions_mod.TOUCHPOINTS_SCHEMA,
        options.name("paths"): transitions_mod.PATHS_SCHEMA,
        options.name("step_matrix"): transitions_mod.STEP_MATRIX_SCHEMA,
        **attribution,
    }


def analyse(
    frame: pl.DataFrame | pl.LazyFrame | None,
    options: JourneyOptions,
    path_frame: pl.DataFrame | pl.LazyFrame | None = None,
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """All tables of a journey rule (no engine), and the steps without a touchpoint.

    ``frame``: the event log (None when the rule only attributes ``path_data``);
    ``path_frame``: the pre-aggregated paths of ``path_data``.
    """
    if options.path_data is not None:
        if path_frame is None:
            raise ValueError("analyse: options.path_data needs path_frame")
        pd = options.path_data
        paths_frame = pathdata.from_table(
            path_frame, path=pd.path, conversions=pd.conversions, nulls=pd.nulls,
            value=pd.value, separator=pd.separator,
        )  # fmt: skip
        attributed = _attribute(paths_frame, options)
        if not options.steps:
            return attributed, []
    if frame is None:
        raise ValueError("analyse: the rule's steps need the event log (frame)")
    if options.by == "session":
        names = frame.lazy().collect_schema().names()
        if "session" not in names:
            raise DataError(
                f"journey option by: session needs a 'session' column (found: {', '.join(names)})"
            )
    extra = [c for c in (options.breakdown, options.compare and options.compare.column) if c]
    numbers = [c for c in (options.weight, options.value_column) if c]
    ev = events_mod.prepare(
        frame, by=options.by, step_column=options.step_column, extra=extra, numbers=numbers
    )
    tables = funnel_tables(ev, options)
    tables |= {
        options.name("transitions"): transitions_mod.transitions(
            ev, options.steps if options.transitions == "steps" else None
        ),
        options.name("touchpoints"): transitions_mod.touchpoints(ev),
        options.name("step_matrix"): transitions_mod.step_matrix(ev, options.step_matrix),
        options.name("paths"): transitions_mod.paths(
            ev, options.steps, options.conversion or options.steps[-1], options.top_paths
        ),
    }
    column = options.attribute
    if column == "auto":
        column = "touchpoint" if "touchpoint" in ev.columns else "channel"
    if options.path_data is not None:
        tables |= attributed
    elif column in ev.columns:
        conversion = options.conversion or options.steps[-1]
        touches, outcomes = attribution_mod.paths(ev, column, conversion)
        weights = None
        if options.weight or options.value_column:
            weights = attribution_mod.unit_weights(
                ev, conversion, options.weight, options.value_column
            )
        tables |= _attribute(pathdata.from_touches(touches, outcomes, weights), options)
    elif options.attribute != "auto":
        raise DataError(
            f"journey option attribute: {column} needs a '{column}' column in the event log"
        )
    else:
        tables[options.name("attribution")] = pl.DataFrame(
            schema=attribution_mod.ATTRIBUTION_SCHEMA
        )
        if options.order == "auto":
            tables[options.name("attribution_orders")] = pl.DataFrame(
                schema=attribution_mod.ORDERS_SCHEMA
            )
    return tables, transitions_mod.stages_without_touchpoint(ev, options.steps)


def _attribute(paths_frame: pl.DataFrame, options: JourneyOptions) -> dict[str, pl.DataFrame]:
    table, orders = attribution_mod.attribution_of_paths(
        paths_frame,
        order=options.order,
        max_order=options.max_order,
        bootstrap=options.bootstrap,
        confidence=options.confidence,
        seed=options.seed,
    )
    out = {options.name("attribution"): table}
    if orders is not None:
        out[options.name("attribution_orders")] = orders
    return out


def funnel_tables(ev: pl.DataFrame, options: JourneyOptions) -> dict[str, pl.DataFrame]:
    """The funnel and its views (breakdown, comparison, time to convert) of prepared events."""
    reached = funnel_mod.reached_events(
        ev,
        options.steps,
        mode=options.mode,
        window=options.window_delta,
        attempt=options.attempt_rule,
        exclusions=options.exclusion_ranges,
    )
    if options.weight is not None:
        reached = weights_mod.weigh(reached, weights_mod.unit_weights(ev, options.weight))
    labels = funnel_mod.step_labels(options.steps, options.mode)
    out = {options.name("funnel"): funnel_mod.funnel_table(reached, labels)}
    if options.breakdown is not None:
        values = views_mod.unit_values(ev, options.breakdown)
        out[options.name("funnel_breakdown")] = views_mod.breakdown(
            reached, values, labels, options.breakdown_limit
        )
    if options.step_range is not None:
        out[options.name("funnel_range")] = views_mod.step_range(
            reached, labels, *options.step_range
        )
    if options.compare is not None:
        cmp = options.compare
        values = views_mod.unit_values(ev, cmp.column)
        found = set(values["value"].to_list())
        absent = [v for v in (cmp.baseline, cmp.current) if v not in found]
        if absent:
            shown = ", ".join(sorted(found - {views_mod.NONE})[:20])
            raise DataError(
                f"journey option compare: column '{cmp.column}' has no unit with value(s) "
                f"{', '.join(repr(v) for v in absent)} (found: {shown or 'no values'})"
            )
        out[options.name("funnel_comparison")] = compare_mod.compare(
            reached, values, labels, cmp.baseline, cmp.current, cmp.alpha
        )
    if len(labels) > 1:
        i, j = options.convert_range
        ttc = views_mod.time_to_convert(reached, labels, i, j, options.time_bins)
    else:
        ttc = pl.DataFrame(schema=views_mod.TIME_TO_CONVERT_SCHEMA)
    out[options.name("time_to_convert")] = ttc
    return out


def findings(
    ctx: RuleContext,
    tables: Mapping[str, pl.DataFrame],
    uncovered: Sequence[str],
    options: JourneyOptions,
) -> list:
    """Largest drop-off (info), warn/fail on funnel rows, poor touchpoints, uncovered stages."""
    out: list = []
    if not options.steps:  # attribution of path data only: no funnel to check
        return out
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
    if options.compare is not None:
        out.extend(comparison_findings(ctx, tables[options.name("funnel_comparison")], options))
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


def comparison_findings(ctx: RuleContext, table: pl.DataFrame, options: JourneyOptions) -> list:
    """A warning per step whose conversion got significantly worse (p < alpha, lower rate)."""
    cmp = options.compare
    assert cmp is not None
    worse = table.filter((pl.col("p_value") < cmp.alpha) & (pl.col("difference") < 0))
    level = 100 * (1 - cmp.alpha)
    return [
        ctx.finding(
            row["step"],
            f"step '{row['step']}' converts significantly worse in {cmp.column} "
            f"'{cmp.current}' than in '{cmp.baseline}': {100 * row['current_rate']:.1f}% vs "
            f"{100 * row['baseline_rate']:.1f}% (difference {100 * row['difference']:+.1f} "
            f"points, {level:g}% CI {100 * row['ci_low']:+.1f} to {100 * row['ci_high']:+.1f}; "
            f"z = {row['z']:.2f}, p = {row['p_value']:.3g})",
            value=row["difference"],
            threshold=f"p_value >= {cmp.alpha:g} or difference >= 0",
            evidence={
                k: row[k]
                for k in (
                    "baseline_entered",
                    "baseline_reached",
                    "current_entered",
                    "current_reached",
                    "p_value",
                )
            },
        )
        for row in worse.iter_rows(named=True)
    ]


def evaluate(ctx: RuleContext[JourneyOptions]) -> RuleOutput:
    options = ctx.rule.options
    frame = ctx.table(options.source) if options.steps else None
    paths = ctx.table(options.path_data.source) if options.path_data else None
    tables, uncovered = analyse(frame, options, paths)
    return RuleOutput(tables=dict(tables), findings=findings(ctx, tables, uncovered, options))


DOC = """\
Funnels, stage transitions, touchpoint satisfaction and attribution over an event log.

Input (dataset role `source`, default `events`), canonical columns:
  customer (or session, with `by: session`), timestamp, event (or stage)   required
  touchpoint, channel, satisfaction (number)                                optional
Timestamps may be dates, date-times or strings (one format). Events of a unit are ordered by
timestamp, then by their row order in the input: equal timestamps keep the log's order.

Funnel semantics: an attempt enters at a step-1 event; `attempt: first` (default of the ordered
modes) keeps a unit's first entry only, `attempt: best` tries every entry and keeps the one that
reaches furthest. With `window`, only events at most that long after the entry count.
sequential: each step after the previous one, anything in between; strict: each step is the
very next event (of any name); any: steps 2..k all occurred after the entry, in any order
(strict ⊆ sequential ⊆ any); unordered: PostHog's unordered funnel — row k ("k steps") counts
units that completed any k of the steps in any order, starting from any of them (attempt: best
by default, as PostHog). `exclusions: [{event, after, before}]` discards an attempt with that
event after step `after` and before step `before` (default: first and last step; before the
window's end when `before` is not reached); a unit with no attempt left drops out.

Tables: `funnel` (step, reached, conversion from start and previous, drop-off, median/mean
seconds from entry), `time_to_convert` (histogram of the seconds from `convert_from` to
`convert_to`, default first → last step, `time_bins` bins), `funnel_breakdown` (with
`breakdown: column`: the funnel per value, a unit's first non-null value, `breakdown_limit`
values then `(other)`), `funnel_range` (with `from_step`/`to_step`, names or 1-based
indexes, PostHog's funnel_from_step/funnel_to_step: units that reached the first step, those
of them that reached the second, the conversion rate, drop-off and median/mean seconds between
the two), `funnel_comparison` (with `compare: {column, baseline, current,
alpha}`: per step from the second, the conversion from the previous step in both groups, the
difference with a Wald interval and a pooled two-proportion z-test), `transitions`
(from_stage, to_stage, count, probability; with (start) and (end) states), `paths` (the most
common stage paths, repeats collapsed, with their conversion), `touchpoints` (events, units,
stages, satisfaction), `step_matrix` (retentioneering's step matrix: the share of units whose
n-th event is each event, n = 1..`step_matrix`, with `(ended)`), `attribution` (per touchpoint
or channel: first touch, last touch, linear, Markov removal effect and share, the baseline
`p_conversion` and `p_conversion_without` the channel; `share_low`/`share_high` with
`bootstrap` resamples; `value_removal_effect` and `markov_value` with `value_column` or path
values; `order`), `attribution_orders` (with `order: auto`: ChannelAttribution's penalised AUC
per order and the chosen one). Names take `prefix`.

Attribution: `order: k` builds the Markov chain on k consecutive touches (ChannelAttribution's
states); first-order chains up to 60 channels are solved exactly (fundamental matrix), larger
or higher-order ones by a sparse iteration to 1e-12. `weight` (a column: journeys a unit stands
for, a whole number the same on all its rows; it weights every funnel count, rate and time
too, as if the unit's rows were replicated) and `path_data` (pre-aggregated paths: path, conversions, nulls, value — ChannelAttribution's
format; with no `steps` the rule only attributes them) avoid replicating rows.

Findings: the largest drop-off (info), warn/fail conditions on funnel rows (subject: the step,
value: `value`), steps converting significantly worse in the `compare` group (p < alpha),
touchpoints with mean satisfaction below `satisfaction_min`, funnel stages with no touchpoint
(when the log has a touchpoint column).
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
