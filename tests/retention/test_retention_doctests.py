"""The docstring examples of truenorth.retention run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["truenorth.retention", "truenorth.retention._data", "truenorth.retention._model"]
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failures == 0
    assert tried > 0, f"{name} has no examples"
