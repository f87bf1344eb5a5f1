"""The examples in public docstrings (engine, CLV core) run and give what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "truenorth.errors",
    "truenorth.testing",
    "truenorth.io.atomic",
    "truenorth.io.lock",
    "truenorth.io.outset",
    "truenorth.io.datasets",
    "truenorth.engine.yamlsrc",
    "truenorth.engine.templates",
    "truenorth.engine.conditions",
    "truenorth.engine.condition_types",
    "truenorth.engine.hookspecs",
    "truenorth.engine.records",
    "truenorth.engine.findings",
    "truenorth.engine.plugins",
    "truenorth.engine.schema",
    "truenorth.engine.result",
    "truenorth.engine.engine",
    "truenorth.builtins._plans",
    "truenorth.clv._input",
    "truenorth.clv.registry",
    "truenorth.clv.simulate",
    "truenorth.clv.summary",
    "truenorth.clv._stats",
    "truenorth.clv._model",
    "truenorth.clv.diagnostics",
    "truenorth.clv.backtest",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failures == 0
    assert tried > 0, f"{name} has no examples"
