"""What a built-in kind builds from a rule and a table schema, kept for the next run.

An engine compiles its rules once and runs them many times, usually on frames of one schema.
The Polars expressions a kind builds from the rule's options (a few dozen ``pl.lit``/``pl.col``
calls, each a few microseconds) are the same every time, so they are built once per
(rule, schema) and reused: a few hundred microseconds of Python per run, held under the GIL,
that threads could not share out. Nothing here is tied to one run: the entries hold
expressions, never frames or a run's context.

Rules are keyed by identity (they are frozen dataclasses whose options may hold lists, so not
hashable by value) through a weak reference: an entry goes when its compiled rule does.

Example::

    >>> class Rule: ...
    >>> cache, rule = PlanCache(), Rule()
    >>> first = cache.get(rule, ("schema",), lambda: ["built"])
    >>> cache.get(rule, ("schema",), list) is first, cache.get(Rule(), ("schema",), list)
    (True, [])
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MAX_SCHEMAS_PER_RULE = 16  # a service sees a handful of input shapes; do not grow unbounded


class PlanCache:
    """Values built per (rule object, key); thread-safe (a race builds twice, one is kept)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Any], dict[Any, Any]]] = {}

    def get(self, rule: Any, key: Any, build: Callable[[], T]) -> T:
        """The value for ``(rule, key)``, from ``build()`` the first time (if it raises, nothing
        is kept, so the next run raises the same error)."""
        entry = self._entries.get(id(rule))
        if entry is None or entry[0]() is not rule:
            entries = self._entries
            ident = id(rule)
            try:
                ref = weakref.ref(rule, lambda _: entries.pop(ident, None))
            except TypeError:  # not weakly referenceable: build every time, keep nothing
                return build()
            entry = (ref, {})
            entries[ident] = entry
        per_rule = entry[1]
        try:
            return per_rule[key]
        except KeyError:
            value = build()
            if len(per_rule) < _MAX_SCHEMAS_PER_RULE:
                per_rule[key] = value
            return value


def schema_key(schema: Any) -> tuple[tuple[str, str], ...]:
    """A hashable key for a Polars schema (names and dtypes, in order)."""
    return tuple((name, repr(dtype)) for name, dtype in schema.items())
