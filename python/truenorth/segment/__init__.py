"""Customer segmentation: RFM scores and named segments, CLV tiers, per-segment aggregates."""

from .aggregate import aggregate
from .rfm import SEGMENT_GRID, rfm
from .tiers import clv_tiers

__all__ = ["SEGMENT_GRID", "aggregate", "clv_tiers", "rfm"]
