"""Input/output: datasets → Polars LazyFrames (with column mapping), and atomic file writes."""

from .atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text
from .datasets import apply_columns, read_dataset, to_lazy

__all__ = [
    "apply_columns",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_dataset",
    "to_lazy",
]
