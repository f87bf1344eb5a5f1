"""The Kano survey: two waves over eleven features, each answer pair drawn from a per-feature
(per-segment, per-wave) latent mix of Kano categories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

# Answer codes 1..5: like, expect, neutral, live with, dislike; written with Kano's own wordings.
KANO_LABELS = (
    "I like it that way",
    "It must be that way",
    "I am neutral",
    "I can live with it that way",
    "I dislike it that way",
)
CATEGORIES = ("A", "O", "M", "I", "R", "Q")

# Answer pairs (functional code, dysfunctional code) producing each category under the standard
# evaluation table, with how often a respondent of that latent category gives each pair.
PAIRS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[float, ...]]] = {
    "A": (((1, 2), (1, 3), (1, 4)), (0.2, 0.5, 0.3)),
    "O": (((1, 5),), (1.0,)),
    "M": (((2, 5), (3, 5), (4, 5)), (0.5, 0.35, 0.15)),
    "I": (
        ((2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (3, 4), (4, 2), (4, 3), (4, 4)),
        (0.05, 0.1, 0.05, 0.1, 0.4, 0.1, 0.05, 0.1, 0.05),
    ),
    "R": (((5, 1), (4, 1), (3, 1), (5, 2), (5, 3)), (0.4, 0.15, 0.15, 0.15, 0.15)),
    "Q": (((1, 1), (5, 5)), (0.6, 0.4)),
}

# Mean self-stated importance (1..9) of a feature for a respondent of each latent category.
IMPORTANCE_MEAN = {"A": 6.0, "O": 7.5, "M": 8.0, "I": 3.5, "R": 2.5, "Q": 5.0}


def _mix(a: float = 0, o: float = 0, m: float = 0, i: float = 0, r: float = 0, q: float = 0):
    p = np.array([a, o, m, i, r, q], dtype=float)
    return p / p.sum()


# feature -> (title, {(segment, wave): mix}); "*" matches any segment or wave.
KANO_FEATURES: dict[str, tuple[str, dict[tuple[str, str], np.ndarray]]] = {
    "catalogue_search": (
        "Search the whole catalogue by artist, title or label",
        {("*", "*"): _mix(a=0.05, o=0.25, m=0.55, i=0.12, r=0.01, q=0.02)},
    ),
    "secure_checkout": (
        "Secure, encrypted card checkout",
        {("*", "*"): _mix(a=0.05, o=0.15, m=0.6, i=0.15, r=0.02, q=0.03)},
    ),
    "order_tracking": (
        "Track my order until it arrives",
        {
            ("*", "1"): _mix(a=0.15, o=0.42, m=0.28, i=0.12, r=0.01, q=0.02),
            ("*", "2"): _mix(a=0.05, o=0.3, m=0.52, i=0.1, r=0.01, q=0.02),
        },
    ),
    "fast_delivery": (
        "Delivery within two working days",
        {("*", "*"): _mix(a=0.08, o=0.55, m=0.25, i=0.1, r=0.0, q=0.02)},
    ),
    "price_match": (
        "We match any lower price from a high-street shop",
        {("*", "*"): _mix(a=0.15, o=0.45, m=0.12, i=0.25, r=0.01, q=0.02)},
    ),
    "track_previews": (
        "Listen to 30-second previews of every track",
        {
            ("*", "1"): _mix(a=0.5, o=0.2, m=0.07, i=0.2, r=0.01, q=0.02),
            ("*", "2"): _mix(a=0.27, o=0.47, m=0.1, i=0.13, r=0.01, q=0.02),
        },
    ),
    "recommendations": (
        "Personal recommendations from my purchase history",
        {("*", "*"): _mix(a=0.45, o=0.12, m=0.02, i=0.33, r=0.06, q=0.02)},
    ),
    "wishlist": (
        "Keep a wish list of albums",
        {("*", "*"): _mix(a=0.36, o=0.1, m=0.06, i=0.42, r=0.04, q=0.02)},
    ),
    "gift_wrapping": (
        "Gift wrapping with a personal note",
        {("*", "*"): _mix(a=0.2, o=0.05, m=0.02, i=0.6, r=0.11, q=0.02)},
    ),
    "liner_notes": (
        "Liner notes and artist interviews on every album page",
        {
            ("collector", "*"): _mix(a=0.58, o=0.12, m=0.03, i=0.22, r=0.03, q=0.02),
            ("casual", "*"): _mix(a=0.22, o=0.05, m=0.01, i=0.62, r=0.08, q=0.02),
        },
    ),
    "vinyl_preorders": (
        "Pre-order limited vinyl pressings",
        {
            ("collector", "*"): _mix(a=0.55, o=0.18, m=0.04, i=0.19, r=0.02, q=0.02),
            ("casual", "*"): _mix(a=0.12, o=0.03, m=0.01, i=0.66, r=0.16, q=0.02),
        },
    ),
}

# Mean satisfaction (1..5) with each feature as Northwind delivers it today; None: not offered.
# Order tracking is the weak spot — and by wave 2 most customers take it for granted.
FEATURE_SATISFACTION: dict[str, float | None] = {
    "catalogue_search": 4.2,
    "secure_checkout": 4.0,
    "order_tracking": 2.4,
    "fast_delivery": 3.4,
    "price_match": 3.6,
    "track_previews": 4.3,
    "recommendations": 3.5,
    "wishlist": 3.8,
    "gift_wrapping": None,
    "liner_notes": 3.9,
    "vinyl_preorders": None,
}

KANO_WAVES = (("1", dt.date(1997, 9, 8), 420), ("2", dt.date(1998, 5, 11), 420))
COLLECTOR_SHARE = 0.35


def _feature_mix(feature: str, segment: str, wave: str) -> np.ndarray:
    mixes = KANO_FEATURES[feature][1]
    for key in ((segment, wave), (segment, "*"), ("*", wave), ("*", "*")):
        if key in mixes:
            return mixes[key]
    raise KeyError((feature, segment, wave))


def kano_survey(rng: np.random.Generator) -> pl.DataFrame:
    rows: dict[str, list] = {
        k: []
        for k in (
            "respondent_id",
            "wave",
            "surveyed_at",
            "segment",
            "feature",
            "functional",
            "dysfunctional",
            "importance",
            "satisfaction",
        )
    }
    features = list(KANO_FEATURES)
    respondent = 0
    for wave, start, n in KANO_WAVES:
        for _ in range(n):
            respondent += 1
            segment = "collector" if rng.random() < COLLECTOR_SHARE else "casual"
            day = start + dt.timedelta(days=int(rng.integers(0, 21)))
            # A respondent's general tendency to rate features as important.
            generosity = rng.normal(0.0, 0.8)
            for feature in features:
                category = CATEGORIES[rng.choice(6, p=_feature_mix(feature, segment, wave))]
                pairs, weights = PAIRS[category]
                f, d = pairs[rng.choice(len(pairs), p=np.asarray(weights))]
                importance = IMPORTANCE_MEAN[category] + generosity + rng.normal(0.0, 1.2)
                rows["respondent_id"].append(f"R{respondent:04d}")
                rows["wave"].append(int(wave))
                rows["surveyed_at"].append(day)
                rows["segment"].append(segment)
                rows["feature"].append(feature)
                rows["functional"].append(KANO_LABELS[f - 1])
                rows["dysfunctional"].append(KANO_LABELS[d - 1])
                # About 4 % of respondents skip the importance question for a feature.
                rows["importance"].append(
                    None if rng.random() < 0.04 else int(np.clip(round(importance), 1, 9))
                )
                sat = FEATURE_SATISFACTION[feature]
                rows["satisfaction"].append(
                    None if sat is None else int(np.clip(round(sat + rng.normal(0, 0.8)), 1, 5))
                )
    return pl.DataFrame(
        rows,
        schema={
            "respondent_id": pl.String,
            "wave": pl.Int64,
            "surveyed_at": pl.Date,
            "segment": pl.String,
            "feature": pl.String,
            "functional": pl.String,
            "dysfunctional": pl.String,
            "importance": pl.Int64,
            "satisfaction": pl.Int64,
        },
    )
