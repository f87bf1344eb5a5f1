"""Message templates: ``{column}`` placeholders with an optional, bounded format spec.

A rule's ``message:`` is checked when the pack loads and rendered once per finding. Python's
``str.format`` would do both, but it also follows attributes and indexes
(``{customer.__class__.__mro__}`` prints object internals), nests fields in a spec
(``{amount:{amount}}``) and pads to any width (``{customer:>100000000}`` builds a 100 MB string
per finding). So templates are parsed here, once, into literal text and fields, and only this
is accepted:

- a placeholder is a plain column name: ``{customer}``, ``{avg order}``; no ``.attr``,
  ``[index]``, positional ``{}``/``{0}``, ``!r`` conversion or nested ``{...}`` in the spec;
- a format spec follows Python's format mini-language
  (``[[fill]align][sign][#][0][width][,|_][.precision][type]``, e.g. ``.2f``, ``>10``, ``,.0f``,
  ``.1%``) with ``width`` at most :data:`MAX_WIDTH` and ``precision`` at most
  :data:`MAX_PRECISION`;
- ``{{`` and ``}}`` are literal braces.

Anything else raises :class:`TemplateError` (a ``ValueError``) naming the placeholder and what
was expected; the compiler reports it at the message's file:line:column. Rendering never raises:
a value the spec does not fit (a null, a text column with ``.2f``) is shown as ``str(value)``,
and a name missing from the row stays visible as ``{name}``.

Example::

    >>> render_template("{customer}: CLV {clv:,.2f} ({share:.0%})",
    ...                 {"customer": "c1", "clv": 1234.5, "share": 0.25})
    'c1: CLV 1,234.50 (25%)'
    >>> template_fields("{customer} spent {amount:>8.1f}")
    ['customer', 'amount']
    >>> template_fields("{customer.__class__}")
    Traceback (most recent call last):
    ...
    truenorth.engine.templates.TemplateError: placeholder {customer.__class__}: ...
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Largest field width a format spec may ask for (``{name:>200}``): a finding message is one line.
MAX_WIDTH = 200
#: Largest precision a format spec may ask for (``{value:.50f}``): beyond a float's ~17 digits.
MAX_PRECISION = 50

EXPECTED = (
    "{column} or {column:spec} with a plain column name and a format spec such as .2f, >10, "
    f",.0f or .1% (width <= {MAX_WIDTH}, precision <= {MAX_PRECISION}); "
    "{{ and }} for literal braces"
)

_SPEC = re.compile(
    r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?#?0?(?P<width>\d+)?[,_]?"
    r"(?:\.(?P<precision>\d+))?(?P<type>[bcdeEfFgGnosxX%])?",
    re.DOTALL,
)


class TemplateError(ValueError):
    """A message template that is not plain ``{column}`` / ``{column:spec}`` placeholders."""


@dataclass(frozen=True)
class Field:
    """One placeholder: the column it reads and its (checked) format spec."""

    name: str
    spec: str = ""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal strings and :class:`Field` placeholders, in order."""

    parts: tuple[str | Field, ...]

    @property
    def fields(self) -> list[str]:
        """The column names used, in order (repeats kept)."""
        return [p.name for p in self.parts if isinstance(p, Field)]

    def render(self, row: Mapping[str, Any]) -> str:
        """Fill the placeholders from ``row``; never raises (see the module docs)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.name not in row:
                out.append("{" + part.name + "}")
            else:
                out.append(_format(row[part.name], part.spec))
        return "".join(out)


def _format(value: Any, spec: str) -> str:
    if not spec:
        return str(value)
    try:
        return format(value, spec)
    except (ValueError, TypeError, OverflowError):  # a null, or a spec for another type
        return str(value)


def _check_spec(name: str, spec: str, conversion: str | None) -> None:
    shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    shown += "}"
    if not name or name.isdigit():
        raise TemplateError(f"placeholder {shown}: name a column, e.g. {{customer}}")
    if any(c in name for c in ".[]"):
        raise TemplateError(f"placeholder {shown}: attribute or index access is not allowed")
    if conversion:
        raise TemplateError(f"placeholder {shown}: conversions such as !r are not allowed")
    if "{" in spec or "}" in spec:
        raise TemplateError(f"placeholder {shown}: nested {{fields}} in a format spec")
    m = _SPEC.fullmatch(spec)
    if m is None:
        raise TemplateError(f"placeholder {shown}: invalid format spec {spec!r}")
    width, precision = m.group("width"), m.group("precision")
    if width is not None and int(width) > MAX_WIDTH:
        raise TemplateError(f"placeholder {shown}: width {int(width)} is over {MAX_WIDTH}")
    if precision is not None and int(precision) > MAX_PRECISION:
        raise TemplateError(
            f"placeholder {shown}: precision {int(precision)} is over {MAX_PRECISION}"
        )


@lru_cache(maxsize=1024)
def parse_template(text: str) -> Template:
    """Parse and check a template (cached); raise :class:`TemplateError` if it is not plain."""
    parts: list[str | Field] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # an unmatched { or }
        raise TemplateError(f"{exc} (write {{{{ or }}}} for a literal brace)") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if name is None:
            continue
        _check_spec(name, spec or "", conversion)
        parts.append(Field(name, spec or ""))
    return Template(tuple(parts))


def template_fields(text: str) -> list[str]:
    """Column names used by a ``{placeholder}`` template (raises :class:`TemplateError`)."""
    return parse_template(text).fields


def render_template(text: str, row: Mapping[str, Any]) -> str:
    """Fill ``{column}`` placeholders from ``row``; never raises.

    A template that does not pass :func:`parse_template` (only possible for one a plugin built
    itself: rule messages are checked at load) is returned unchanged.
    """
    try:
        template = parse_template(text)
    except TemplateError:
        return text
    return template.render(row)


__all__ = [
    "MAX_PRECISION",
    "MAX_WIDTH",
    "Field",
    "Template",
    "TemplateError",
    "parse_template",
    "render_template",
    "template_fields",
]
