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
    errors), ``summary`` and ``doc`` (shown by ``truenorth kinds``), and capabilities the
    engine reads instead of kind names (``row_predicates``, ``message_columns``).

    Example (a plugin module holds the function; here a class stands in for the module)::

        >>> import polars as pl, truenorth
        >>> class RowCountOptions(truenorth.Options):
        ...     label: str = "rows"
        >>> def evaluate(ctx: truenorth.RuleContext[RowCountOptions]) -> truenorth.RuleOutput:
        ...     n = ctx.table(ctx.rule.on).collect().height
        ...     return truenorth.RuleOutput(
        ...         findings=[ctx.finding("all", f"{n} {ctx.rule.options.label}")])
        >>> class Plugin:
        ...     @staticmethod
        ...     @truenorth.hookimpl
        ...     def register_rule_kinds(register):
        ...         register(truenorth.RuleKind(
        ...             name="row_count", options_model=RowCountOptions, evaluate=evaluate))
        >>> engine = truenorth.Engine.load(
        ...     {"truenorth": 1, "pack": "p", "rules": [
        ...         {"id": "n", "kind": "row_count", "on": "t", "with": {"label": "orders"}}]},
        ...     plugins=[Plugin()])
        >>> engine.run(data={"t": pl.DataFrame({"x": [1, 2, 3]})}).findings["message"].to_list()
        ['3 orders']
    """


@hookspec
def register_readers(register: Callable[[Reader], None]) -> None:
    """Register dataset readers: ``register(Reader(...))`` once per reader.

    A :class:`~truenorth.Reader` has a ``name`` (usable as ``reader:`` in a pack's dataset),
    the file ``extensions`` it handles (the longest matching extension wins), and
    ``read(path, options) -> polars.LazyFrame``; ``options`` is the dataset's ``options:``.

    Example (a reader for pipe-separated files)::

        >>> import pathlib, tempfile, polars as pl, truenorth
        >>> class Plugin:
        ...     @staticmethod
        ...     @truenorth.hookimpl
        ...     def register_readers(register):
        ...         register(truenorth.Reader(
        ...             "pipes", (".psv",), lambda path, opts: pl.scan_csv(path, separator="|")))
        >>> orders = pathlib.Path(tempfile.mkdtemp()) / "orders.psv"
        >>> _ = orders.write_text("customer|amount\\na|5\\nb|50\\n")
        >>> engine = truenorth.Engine.load(
        ...     {"truenorth": 1, "pack": "p", "datasets": {"orders": {"path": str(orders)}},
        ...      "rules": [{"id": "big", "kind": "condition", "on": "orders",
        ...                 "when": "amount > 10"}]},
        ...     plugins=[Plugin()])
        >>> engine.run().findings["subject"].to_list()
        ['b']
    """


@hookspec
def register_reporters(register: Callable[[Reporter], None]) -> None:
    """Register reporters (output formats): ``register(Reporter(...))`` once per reporter.

    A :class:`~truenorth.Reporter` has a ``name`` (``truenorth run --format NAME``),
    ``write(result, path)`` and an ``extension``: with an extension, ``path`` is the file to
    write (``OUT/report.<ext>``) or ``None`` for standard output; without one, ``path`` is the
    output folder. Write files with :func:`truenorth.io.atomic_write`.

    ``default`` makes ``truenorth run`` write it without ``--format``: ``"always"`` or
    ``"out"`` (only with ``--out DIR``); the default is ``"never"``.

    Example::

        >>> import polars as pl, truenorth
        >>> class Plugin:
        ...     @staticmethod
        ...     @truenorth.hookimpl
        ...     def register_reporters(register):
        ...         register(truenorth.Reporter(
        ...             "count", lambda result, path: print(result.counts()), extension=None))
        >>> engine = truenorth.Engine.load(
        ...     {"truenorth": 1, "pack": "p", "rules": [
        ...         {"id": "big", "kind": "condition", "on": "t", "when": "x > 1"}]},
        ...     plugins=[Plugin()])
        >>> result = engine.run(data={"t": pl.DataFrame({"x": [1, 2, 3]})})
        >>> engine.registry.reporters["count"].write(result, None)
        {'info': 0, 'warn': 2, 'fail': 0, 'error': 0}
    """
