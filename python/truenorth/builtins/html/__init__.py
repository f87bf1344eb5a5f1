"""The ``html`` reporter: a self-contained, offline HTML report with inline SVG charts.

Registered through the public plugin API like any third-party reporter::

    truenorth run --format html --out report/     # writes report/report.html

The page has no scripts and no external resources (a Content-Security-Policy forbids them);
charts are drawn in Python as inline SVG (:mod:`.svg`) for the tables present in the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import truenorth
from truenorth.io import atomic_write_text

from .report import render

__all__ = ["REPORTER", "render", "write"]


def write(result: Any, path: Path | None) -> None:
    """Write the report to ``path`` atomically; with no path, print it to standard output."""
    text = render(result)
    if path is None:
        import sys

        sys.stdout.write(text)
        return
    atomic_write_text(path, text)


REPORTER = truenorth.Reporter(
    name="html",
    write=write,
    extension=".html",
    summary="self-contained HTML report with inline SVG charts (no scripts, works offline)",
    default="out",
)


@truenorth.hookimpl
def register_reporters(register):
    register(REPORTER)
