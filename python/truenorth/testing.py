"""Test harness for rule kinds and packs — for plugin authors and for truenorth's own tests.

Import the helpers (and, if you like, the pytest fixtures) in your tests::

    from truenorth.testing import run_rule, assert_findings

    def test_big_spenders():
        result = run_rule("condition", {"subject": "customer"},
                          {"customers": pl.DataFrame({"customer": ["a"], "clv": [900.0]})},
                          on="customers", when="clv > 500")
        assert_findings(result, [{"subject": "a", "severity": "warn"}])

To call a kind's ``evaluate`` directly (unit tests of its parts), :func:`rule_context` gives the
engine's own rule context for a one-rule pack: thresholds, conditions and messages behave
exactly as in a run::

    ctx = rule_context("kpi", {"metric": "nps"}, {"survey": answers}, warn="value < 30")
    out = kpi.evaluate(ctx)

To use the fixtures, import them into your ``conftest.py``::

    from truenorth.testing import truenorth_registry, run_rule_fixture  # noqa: F401

``run_rule`` goes through the same validation, planning and evaluation as a real pack, so a kind
that passes here behaves the same inside ``truenorth run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from .engine.compiler import compile_pack, read_sources
from .engine.context import RunContext, RunState
from .engine.engine import Engine
from .engine.plugins import Registry, build_registry, load_registry
from .engine.records import Options, RuleContext, RuleKind
from .engine.result import Result
from .io.datasets import to_lazy


def _plugin_for(kind: RuleKind) -> Any:
    from .engine.hookspecs import hookimpl

    class _InlinePlugin:
        __name__ = f"inline-{kind.name}"

        @staticmethod
        @hookimpl
        def register_rule_kinds(register: Any) -> None:
            register(kind)

    return _InlinePlugin()


def make_pack(
    kind: str,
    options: Mapping[str, Any] | None = None,
    *,
    rule_id: str = "rule",
    on: str | None = None,
    when: str | None = None,
    warn: str | None = None,
    fail: str | None = None,
    severity: str | None = None,
    action: str | None = None,
    message: str | None = None,
    params: Mapping[str, Any] | None = None,
    extra_rules: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A one-rule pack dict (plus ``extra_rules``), as :class:`truenorth.Engine` accepts."""
    rule: dict[str, Any] = {"id": rule_id, "kind": kind, "with": dict(options or {})}
    for key, value in (
        ("on", on),
        ("when", when),
        ("warn", warn),
        ("fail", fail),
        ("severity", severity),
        ("action", action),
        ("message", message),
    ):
        if value is not None:
            rule[key] = value
    return {
        "truenorth": 1,
        "pack": "test",
        "params": dict(params or {}),
        "rules": [*extra_rules, rule],
    }


def run_rule(
    kind: str | RuleKind,
    options: Mapping[str, Any] | None = None,
    tables: Mapping[str, Any] | None = None,
    *,
    when: str | None = None,
    warn: str | None = None,
    fail: str | None = None,
    on: str | None = None,
    params: Mapping[str, Any] | None = None,
    severity: str | None = None,
    action: str | None = None,
    message: str | None = None,
    plugins: Sequence[Any] = (),
    raise_errors: bool = True,
) -> Result:
    """Run one rule of ``kind`` on ``tables`` and return the :class:`~truenorth.Result`.

    ``kind`` is a registered kind name or a :class:`~truenorth.RuleKind` record (registered
    on the fly, so a kind can be tested before its package is installed). ``tables`` maps
    table names (dataset roles) to Polars frames. If ``on`` is not given and exactly one table
    is, the rule reads that one. Validation problems raise :class:`~truenorth.PackError`; a
    rule that raises re-raises as :class:`~truenorth.RuleError` unless ``raise_errors=False``.

    Example::

        >>> import polars as pl
        >>> r = run_rule("condition", {}, {"t": pl.DataFrame({"id": [1, 2], "x": [5, 50]})},
        ...              when="x > 10")
        >>> r.findings["subject"].to_list()
        ['2']
    """
    tables = dict(tables or {})
    registry = _registry(list(plugins))
    if isinstance(kind, RuleKind):
        # the record under test wins over an installed kind of the same name
        registry = replace(registry, kinds={**registry.kinds, kind.name: kind})
        name = kind.name
    else:
        name = kind
    if on is None and len(tables) == 1:
        on = next(iter(tables))
    pack = make_pack(
        name,
        options,
        on=on,
        when=when,
        warn=warn,
        fail=fail,
        severity=severity,
        action=action,
        message=message,
        params=params,
    )
    engine = Engine.load(pack, registry=registry)
    result = engine.run(data=tables)
    if raise_errors:
        result.raise_for_errors()
    return result


def rule_context(
    kind: str | RuleKind[Any],
    options: Mapping[str, Any] | Options | None = None,
    tables: Mapping[str, Any] | None = None,
    *,
    rule_id: str = "rule",
    on: str | None = None,
    when: str | None = None,
    warn: str | None = None,
    fail: str | None = None,
    severity: str | None = None,
    action: str | None = None,
    message: str | None = None,
    params: Mapping[str, Any] | None = None,
    base_dir: str | Path | None = None,
    resources: Mapping[str, Any] | None = None,
    plugins: Sequence[Any] = (),
) -> RuleContext[Any]:
    """The engine's rule context for one rule of ``kind``, to call its ``evaluate`` directly.

    The rule is validated and planned as in a real pack (so a bad option raises
    :class:`~truenorth.PackError`); ``tables`` are what ``ctx.table(name)`` returns;
    ``base_dir`` is the folder ``ctx.resolve_path`` resolves against (default: the current
    one); ``resources`` are what ``ctx.resource(name)`` returns. ``check_thresholds``,
    ``condition`` and ``render`` are the engine's own. Unlike :func:`run_rule`, ``on`` is not
    guessed from ``tables``.

    Example::

        >>> import polars as pl
        >>> ctx = rule_context("condition", {}, {"t": pl.DataFrame({"id": ["a", "b"],
        ...                    "value": [5.0, 50.0]})}, on="t", warn="value > 10")
        >>> [(f.subject, f.severity) for f in ctx.check_thresholds(ctx.table("t").collect(),
        ...                                                         subject="id")]
        [('b', 'warn')]
    """
    registry = _registry(list(plugins))
    if isinstance(kind, RuleKind):
        registry = replace(registry, kinds={**registry.kinds, kind.name: kind})
        name = kind.name
    else:
        name = kind
    if isinstance(options, Options):
        options = options.model_dump(by_alias=True, exclude_unset=True)
    pack = make_pack(
        name,
        options,
        rule_id=rule_id,
        on=on,
        when=when,
        warn=warn,
        fail=fail,
        severity=severity,
        action=action,
        message=message,
        params=params,
    )
    (source,) = read_sources([pack])
    if base_dir is not None:  # load-time checks (a kind's validate) resolve paths too
        for f in source.files:
            f.base_dir = Path(base_dir)
    compiled = compile_pack(source, registry)
    crule = compiled.rule(rule_id)
    run = RunState(
        pack=compiled,
        params=dict(compiled.params),
        inputs={role: to_lazy(data, role=role) for role, data in (tables or {}).items()},
        resources=dict(resources or {}),
    )
    return RunContext(run, crule)


def _registry(extra: Sequence[Any]) -> Registry:
    if not extra:
        return load_registry()
    reg = build_registry(extra)
    return reg


def assert_findings(
    result: Result, expected: Sequence[Mapping[str, Any]], *, exact: bool = True
) -> None:
    """Assert the findings match ``expected`` (dicts of finding fields; order-insensitive).

    Each expected dict must match one distinct finding on every key it gives (values compared
    as strings, except ``value`` which is compared with a relative tolerance of 1e-9).
    With ``exact`` (default), there must be no other findings.
    """
    rows = [r for r in result.findings.iter_rows(named=True)]
    remaining = list(rows)
    for want in expected:
        hit = next((r for r in remaining if _finding_matches(r, want)), None)
        if hit is None:
            raise AssertionError(f"no finding matches {dict(want)}; findings: {_brief(rows)}")
        remaining.remove(hit)
    if exact and remaining:
        raise AssertionError(f"unexpected findings: {_brief(remaining)}")


def _finding_matches(row: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    for k, v in want.items():
        a = row.get(k)
        if k == "value" and v is not None and a is not None:
            if abs(float(a) - float(v)) > 1e-9 * max(1.0, abs(float(v))):
                return False
        elif str(a) != str(v):
            return False
    return True


def _brief(rows: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{r['rule_id']}/{r['subject']}/{r['severity']}" for r in rows) or "(none)"


def frame(**columns: Sequence[Any]) -> pl.DataFrame:
    """A small DataFrame from keyword columns: ``frame(customer=["a"], clv=[1.0])``."""
    return pl.DataFrame(columns)


# ------------------------------------------------------------------ pytest fixtures
try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def truenorth_registry() -> Registry:
        """A freshly built plugin registry (entry points of the current environment)."""
        return build_registry()

    @pytest.fixture
    def run_rule_fixture():
        """The :func:`run_rule` function, as a fixture."""
        return run_rule


__all__ = ["assert_findings", "frame", "make_pack", "rule_context", "run_rule"]
