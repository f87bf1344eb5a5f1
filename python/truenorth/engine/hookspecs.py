"""The hook specifications of truenorth: the whole plugin surface, in one place.

A plugin is a module (or object) with functions marked ``@truenorth.hookimpl`` whose names
match these specs. Each hook receives a ``register`` callback and calls it once per record;
records are typed (see :mod:`truenorth.engine.records`) so a typo fails at registration, not
in the middle of a run.

Example::

    import truenorth

    @truenorth.hookimpl
    def register_rule_kinds(register):
        register(truenorth.RuleKind(name="nps_alert", options=MyOptions, evaluate=evaluate))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .records import Reader, Reporter, RuleKind

PROJECT = "truenorth"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_rule_kinds(register: Callable[[RuleKind], None]) -> None:
    """Register rule kinds: ``register(RuleKind(...))`` once per kind."""


@hookspec
def register_readers(register: Callable[[Reader], None]) -> None:
    """Register dataset readers: ``register(Reader(...))`` once per reader."""


@hookspec
def register_reporters(register: Callable[[Reporter], None]) -> None:
    """Register reporters (output formats): ``register(Reporter(...))`` once per reporter."""
