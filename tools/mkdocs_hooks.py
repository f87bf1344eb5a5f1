"""MkDocs hooks of the documentation site (``hooks:`` in mkdocs.yml).

truenorth's docstrings are written for reading in a terminal and with reStructuredText habits
(``:func:`x```, ``Example::``); the API pages are rendered by mkdocstrings as Markdown. This
turns the leftovers into what a reader expects: a role prefix disappears (``:class:`~a.B``` →
``B``), and a paragraph ending in ``::`` before a code block ends in one colon.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:mod|func|meth|class|attr|exc|data|obj):(<code>)~?(?:[\w.]+\.)?")
_ROLE_FULL = re.compile(r":(?:mod|func|meth|class|attr|exc|data|obj):(<code>)(?!~)")
_DOUBLE_COLON = re.compile(r"::</p>")


def strip_roles(html: str) -> str:
    # `~a.b.C` shows the last name (as Sphinx does); a plain target keeps its full name
    html = _ROLE_FULL.sub(r"\1", html)
    html = _ROLE.sub(r"\1", html)
    return _DOUBLE_COLON.sub(":</p>", html)


def on_page_content(html: str, **kwargs: Any) -> str:
    return strip_roles(html)
