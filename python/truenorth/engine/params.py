"""Pack params: ``--set`` values, overrides checked against the declared params, and
``${name}`` substitution (a whole-value reference keeps the param's type)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import Problem, UsageError
from .yamlsrc import Located

PARAM = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar semantics (``6`` → int, ``true`` → bool, else string)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, (dict, list)) or (value is None and text.strip() not in ("null", "~", "")):
        return text
    return value


def merge_params(
    declared: Mapping[str, Any], overrides: Mapping[str, Any] | None, *, pack: str
) -> dict[str, Any]:
    """Pack params overridden by ``overrides``; unknown names and type changes are errors."""
    params = dict(declared)
    for key, value in (overrides or {}).items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "(none)"
            raise UsageError(f"pack {pack!r} has no param {key!r} (params: {known})")
        default = declared[key]
        if isinstance(value, str) and not isinstance(default, str):
            value = parse_value(value)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise UsageError(
                f"--set {key}: param {key!r} of pack {pack!r} must be true or false "
                f"(its default is {default!r}), got {value!r}"
            )
        if (
            isinstance(default, (int, float))
            and not isinstance(default, bool)
            and (not isinstance(value, (int, float)) or isinstance(value, bool))
        ):
            raise UsageError(
                f"--set {key}: param {key!r} of pack {pack!r} must be a number "
                f"(its default is {default!r}), got {value!r}"
            )
        if isinstance(default, str) and not isinstance(value, str):
            value = str(value)
        params[key] = value
    return params


def substitute(
    value: Any,
    params: Mapping[str, Any],
    doc: Located,
    path: tuple[Any, ...],
    problems: list,
    rule_id: str | None = None,
) -> Any:
    """Replace ``${name}`` in scalars: a whole-value reference keeps the param's type."""
    if isinstance(value, dict):
        return {
            k: substitute(v, params, doc, (*path, k), problems, rule_id) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            substitute(v, params, doc, (*path, i), problems, rule_id) for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = PARAM.fullmatch(value)
    if whole and whole.group(1):
        name = whole.group(1)
        if name in params:
            return params[name]

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name not in params:
            problems.append(
                Problem(
                    f"unknown param ${{{name}}}",
                    doc.loc(path),
                    rule_id=rule_id,
                    expected=f"one of: {', '.join(sorted(params)) or '(no params declared)'}"
                    f"; for a literal '$' before a {{placeholder}} write $${{{name}}}",
                )
            )
            return m.group(0)
        return str(params[name])

    return PARAM.sub(repl, value)
