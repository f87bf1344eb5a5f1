"""The installed distribution's version, in a module of its own so that layers below the
package root (the output manifest in :mod:`truenorth.io.outset`) can read it without importing
``truenorth`` itself."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("truenorth")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
