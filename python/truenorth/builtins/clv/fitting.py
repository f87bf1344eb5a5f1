"""Fitting a model inside the ``clv`` rule: input errors become data errors, warnings and
non-convergence become findings of the rule, and a model must share the rule's time unit."""

from __future__ import annotations

import warnings
from typing import Any

import truenorth

from .options import duration_days, source_of


def fit_model(fit: Any, ctx: truenorth.RuleContext, name: Any, findings: list) -> Any:
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
        # non-convergence is reported from the model's own flag (see convergence)
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


def same_unit(model: Any, unit: str, what: str) -> None:
    """A fitted/loaded model only fits summaries measured in its own time unit."""
    own = getattr(model, "time_unit", None)
    if own is not None and duration_days(own) != duration_days(unit):
        raise ValueError(
            f"the {what} was fitted with time unit {own!r} but this rule summarises in "
            f"{unit!r}; set `unit: {own}`"
        )


def convergence(ctx: truenorth.RuleContext, model: Any, name: Any, findings: list) -> None:
    if getattr(model, "converged", True) is False:
        # a runaway to a boundary says which parameters ran and what that means for the data
        boundary = getattr(model, "boundary", None)
        why = f" ({boundary})" if boundary else ""
        findings.append(
            ctx.finding(
                str(name),
                f"{name} fit did not converge{why}; predictions may be unreliable",
                severity="warn",
                evidence={
                    "n_iterations": getattr(model, "n_iterations", None),
                    "boundary": boundary,
                },
            )
        )


def load_model(ctx: truenorth.RuleContext, path: str) -> Any:
    """A fitted model from a JSON file the pack names (relative to the pack)."""
    from truenorth import clv

    file = ctx.resolve_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read model {file}: {exc.strerror}") from None
    return clv.load(text)


def given_models(ctx: truenorth.RuleContext) -> dict[str, Any]:
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
