"""Input/output: datasets → Polars LazyFrames (with column mapping), atomic file writes, and
whole-run output sets (:class:`OutputSet`: published all at once, with a manifest)."""

from .atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text
from .datasets import apply_columns, read_dataset, to_lazy
from .outset import OutputSet, read_manifest, verify

__all__ = [
    "OutputSet",
    "apply_columns",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_dataset",
    "read_manifest",
    "to_lazy",
    "verify",
]
