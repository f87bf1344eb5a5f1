"""Customer lifetime value: customer summaries and (elsewhere) the BTYD models."""

from .summary import summarize

__all__ = ["summarize"]
