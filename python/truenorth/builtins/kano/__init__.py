"""The ``kano`` rule kind: classify product features from a Kano survey (DOMAIN.md §2).

The math lives in :mod:`truenorth.builtins.kano.compute` (pure Polars functions); this module
is the thin rule-kind wrapper: options, tables read and written, findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from truenorth import Rule, RuleContext, RuleKind, RuleOutput, hookimpl

from . import compute
from .findings import findings
from .options import BootstrapOptions, KanoOptions
from .tables import SHARES_SCHEMA, analyse, priority_rank, stats_schema, unmet_features

__all__ = [
    "KIND",
    "BootstrapOptions",
    "KanoOptions",
    "analyse",
    "compute",
    "findings",
    "priority_rank",
    "unmet_features",
]


def reads(options: KanoOptions, rule: Rule) -> Sequence[str]:
    if options.unmet_from:
        return (options.source, options.unmet_from)
    return (options.source,)


def writes(options: KanoOptions, rule: Rule[KanoOptions]) -> dict[str, Any]:
    out: dict[str, Any] = {options.output: stats_schema({"feature": pl.String})}
    if options.by == "segment":
        out[f"{options.output}_segments"] = stats_schema(
            {"segment": pl.String, "feature": pl.String}
        )
    out[f"{options.output}_waves"] = None  # the wave column keeps its input type
    if options.bootstrap is not None:
        out[f"{options.output}_shares"] = dict(SHARES_SCHEMA)
    return out


def evaluate(ctx: RuleContext[KanoOptions]) -> RuleOutput:
    options = ctx.rule.options
    extra: list[str] = []
    if options.unmet_from:
        extra = unmet_features(ctx.table(options.unmet_from), options.unmet_from)
    tables = analyse(ctx.table(options.source), options, extra)
    return RuleOutput(tables=dict(tables), findings=findings(ctx, tables, options, extra))


DOC = """\
Classify product features from a Kano survey (functional / dysfunctional question pairs).

Input (dataset role `source`, default `survey`), canonical columns:
  respondent, feature, functional, dysfunctional   required
  importance (1-9; labelled points such as "7 - Very important" are read by their number),
  segment, wave, satisfaction (number), delivered (flag)   optional
Answers are codes 1-5 (1 like, 2 expect/must-be, 3 neutral, 4 live with/tolerate, 5 dislike)
or labels in the published wordings (Berger et al. 1993 and its alternatives, Blauth,
Löfgren & Witell, Chen: "I like it that way", "I enjoy it that way", "It must be that way",
"This is a basic requirement for me", "I am neutral", "I can tolerate it", "This would be a
minor inconvenience", "I dislike it that way", "This would be a major problem for me", ...),
matched after normalising case, punctuation and whitespace. A survey tool's own labels are
mapped with `answers:` ({label: like | expect | neutral | live with | dislike | 1-5}). An
unknown label is an error naming the column, the row and the value.

Tables: `kano` (per feature), `kano_segments` (per segment and feature, with `by: segment`),
`kano_waves` (per wave and feature; empty without a `wave` column). Columns: counts and shares
of A/O/M/I/R/Q, category (mode; near-top categories within `strength_threshold` of the top share
are decided by `priority`, default M > O > A > I), category and total strength, Fong
significance, better/worse (Berger et al.), DuMouchel continuous scores, mean importance,
mean satisfaction, delivered share, unmet (from satisfaction, delivery, `unmet` or `unmet_from`),
priority_rank (by category in `priority` order, then self-stated importance, then strength).
With `bootstrap:` (respondents resampled; `resamples`, `seed`, `confidence`, `stability`):
percentile intervals better_ci_low/high and worse_ci_low/high, category_stability (share of
resamples giving the point category), bootstrap_category, and a table `kano_shares` (each
category's share with its interval, per feature).

Findings: unmet must-be features (rule severity), attractive features in `investing` while
must-be features are unmet (rule severity), non-significant categories (info), features whose
category differs by segment (info, with `by: segment`), category drift between consecutive
waves (info), categories the bootstrap does not reproduce in `stability` of the resamples
(info), and `warn`/`fail` conditions on the rows of the kano table.

Example (a pack's rules):

```yaml
rules:
  - id: features
    kind: kano
    with:
      source: survey
      table: standard          # or pouliot
      by: segment
      satisfaction_min: 3.5
      investing: [dark_mode, ai_assistant]
      answers: {"Love it": like, "Meh": neutral}   # the survey tool's own labels
      bootstrap: {resamples: 1000, confidence: 0.9}
    warn: "category = 'M' AND worse < -0.7"
```
"""


KIND = RuleKind(
    name="kano",
    options_model=KanoOptions,
    evaluate=evaluate,
    reads=reads,
    writes=writes,
    summary="Kano classification of product features from survey answers.",
    doc=DOC,
)


@hookimpl
def register_rule_kinds(register) -> None:
    register(KIND)
