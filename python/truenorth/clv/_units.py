"""The time unit of a summary frame, passed from ``summarize`` to the models that fit it.

Polars frames carry no metadata, so ``summarize`` records the unit of the frame it returns
here, by object identity (a weak reference: the record goes with the frame). A model fitted on
that very frame takes its unit from it; a frame derived from it (filtered, selected, converted)
is no longer known, and the model then keeps the unit it was given, or none — and
``lifetime_value`` refuses a model without a unit rather than guess one (the guess of a day
is how a weekly summary gets a CLV about four times too high).
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["summary_unit", "tag_unit"]

_TAGS: dict[int, tuple[weakref.ref[Any], str]] = {}


def tag_unit(frame: Any, unit: str) -> None:
    """Record that ``frame``'s recency, T and duration_holdout are measured in ``unit``."""
    key = id(frame)

    def forget(_: object, key: int = key) -> None:
        _TAGS.pop(key, None)

    _TAGS[key] = (weakref.ref(frame, forget), unit)


def summary_unit(frame: Any) -> str | None:
    """The unit ``summarize`` measured ``frame`` in, or None for any other object."""
    entry = _TAGS.get(id(frame))
    if entry is None or entry[0]() is not frame:
        return None
    return entry[1]
