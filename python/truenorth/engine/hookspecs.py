"""The hook specifications of truenorth: the whole plugin surface, in one place.

A plugin is a module (or object) with functions marked ``@truenorth.hookimpl`` whose names
match these specs. Each hook receives a ``register`` callback and calls it once per record;
records are typed (see :mod:`truenorth.engine.records`) so a typo fails at registration, not
in the middle of a run.

Example::

    import truenorth

    @truenorth.hookimpl
    def register_rule_kinds(register):
        register(truenorth.RuleKind(name="nps_alert", options_model=MyOptions, evaluate=evaluate))
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
    """Register rule kinds: ``register(RuleKind(...))`` once per kind.

    A :class:`~truenorth.RuleKind` bundles the kind's ``name`` (what packs write in ``kind:``),
    its ``options_model`` (a :class:`~truenorth.Options` subclass validating ``with:``; unknown
    keys are errors), ``evaluate(ctx) -> RuleOutput``, and optionally ``reads``/``writes``
    (the tables a rule needs and produces, with declared schemas so conditions on them are
    checked before any data is read), ``validate`` (extra load-time checks with located
    errors), ``summary`` and ``doc`` (shown by ``truenorth kinds``).

    Example::

        class Options(truenorth.Options):
            column: str = "clv"

        def evaluate(ctx):
            df = ctx.table(ctx.rule.on).collect()
            return truenorth.RuleOutput(findings=[ctx.finding("all", f"{df.height} rows")])

        @truenorth.hookimpl
        def register_rule_kinds(register):
            register(truenorth.RuleKind(name="row_count", options_model=Options, evaluate=evaluate))
    """


@hookspec
def register_readers(register: Callable[[Reader], None]) -> None:
    """Register dataset readers: ``register(Reader(...))`` once per reader.

    A :class:`~truenorth.Reader` has a ``name`` (usable as ``reader:`` in a pack's dataset),
    the file ``extensions`` it handles (the longest matching extension wins), and
    ``read(path, options) -> polars.LazyFrame``; ``options`` is the dataset's ``options:``.

    Example::

        @truenorth.hookimpl
        def register_readers(register):
            register(truenorth.Reader("excel", (".xlsx",),
                                      lambda path, opts: pl.read_excel(path, **opts).lazy()))
    """


@hookspec
def register_reporters(register: Callable[[Reporter], None]) -> None:
    """Register reporters (output formats): ``register(Reporter(...))`` once per reporter.

    A :class:`~truenorth.Reporter` has a ``name`` (``truenorth run --format NAME``),
    ``write(result, path)`` and an ``extension``: with an extension, ``path`` is the file to
    write (``OUT/report.<ext>``) or ``None`` for standard output; without one, ``path`` is the
    output folder. Write files with :func:`truenorth.io.atomic_write`.

    Example::

        @truenorth.hookimpl
        def register_reporters(register):
            register(truenorth.Reporter("count", lambda result, path: print(result.counts()),
                                        extension=None))
    """
