"""The journey event log: visitors through awareness → consideration → purchase → retention →
advocacy over touchpoints and channels, with touchpoint satisfaction where surveyed."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")
# touchpoint -> (stage, channel, mean satisfaction 1..5 or None when never surveyed)
TOUCHPOINTS: dict[str, tuple[str, str, float | None]] = {
    "search_ad": ("awareness", "web", None),
    "magazine_review": ("awareness", "print", None),
    "radio_spot": ("awareness", "radio", None),
    "friend_referral": ("awareness", "word_of_mouth", None),
    "catalogue_browse": ("consideration", "web", 3.9),
    "track_preview": ("consideration", "web", 4.4),
    "newsletter": ("consideration", "email", 3.7),
    "web_checkout": ("purchase", "web", 2.9),
    "phone_order": ("purchase", "phone", 4.2),
    "order_tracking": ("retention", "web", 2.7),
    "support_contact": ("retention", "phone", 3.8),
    "loyalty_club": ("retention", "email", 4.1),
    "review_written": ("advocacy", "web", 4.3),
    "referral_sent": ("advocacy", "email", 4.5),
}
AWARENESS_MIX = {
    "search_ad": 0.36,
    "magazine_review": 0.2,
    "radio_spot": 0.26,
    "friend_referral": 0.18,
}
# Probability that an aware visitor goes on to consider, by entry touchpoint.
CONSIDER_P = {
    "search_ad": 0.78,
    "magazine_review": 0.74,
    "radio_spot": 0.52,
    "friend_referral": 0.86,
}


def journey_events(rng: np.random.Generator, n_visitors: int = 2400) -> pl.DataFrame:
    out: dict[str, list] = {
        k: [] for k in ("visitor_id", "timestamp", "stage", "touchpoint", "channel", "satisfaction")
    }

    def emit(visitor: str, when: dt.datetime, touchpoint: str, answered: float = 0.35) -> None:
        stage, channel, mean = TOUCHPOINTS[touchpoint]
        satisfaction = None
        if mean is not None and rng.random() < answered:
            satisfaction = int(np.clip(round(mean + rng.normal(0, 0.9)), 1, 5))
        out["visitor_id"].append(visitor)
        out["timestamp"].append(when)
        out["stage"].append(stage)
        out["touchpoint"].append(touchpoint)
        out["channel"].append(channel)
        out["satisfaction"].append(satisfaction)

    aware = list(AWARENESS_MIX)
    aware_p = np.array(list(AWARENESS_MIX.values()))
    start = dt.datetime(1997, 1, 1, 8)
    for v in range(1, n_visitors + 1):
        visitor = f"V{v:05d}"
        t = start + dt.timedelta(seconds=float(rng.uniform(0, 89 * 86400)))
        entry = aware[rng.choice(len(aware), p=aware_p)]
        emit(visitor, t, entry)
        if rng.random() >= CONSIDER_P[entry]:
            continue
        # Consideration: one to four web/email touches over the following days.
        previewed = False
        for _ in range(1 + int(rng.poisson(1.0))):
            t += dt.timedelta(hours=float(rng.exponential(30.0)))
            touch = ("catalogue_browse", "track_preview", "newsletter")[
                rng.choice(3, p=[0.55, 0.3, 0.15])
            ]
            previewed |= touch == "track_preview"
            emit(visitor, t, touch)
        # Purchase: the biggest drop-off (the checkout is the known pain point).
        p_buy = 0.27 + (0.17 if previewed else 0.0) + (0.1 if entry == "friend_referral" else 0.0)
        if rng.random() >= p_buy:
            continue
        t += dt.timedelta(hours=float(rng.exponential(20.0)))
        emit(visitor, t, "web_checkout" if rng.random() < 0.82 else "phone_order", answered=0.5)
        # Retention: tracking right after the order — sometimes logged in the same second.
        if rng.random() < 0.72:
            if rng.random() >= 0.15:
                t += dt.timedelta(hours=float(rng.exponential(26.0)))
            emit(visitor, t, "order_tracking", answered=0.5)
            if rng.random() < 0.3:
                t += dt.timedelta(hours=float(rng.exponential(12.0)))
                emit(visitor, t, "support_contact", answered=0.6)
            if rng.random() < 0.6:
                t += dt.timedelta(days=float(rng.exponential(6.0)))
                emit(visitor, t, "loyalty_club")
                if rng.random() < 0.65:
                    t += dt.timedelta(days=float(rng.exponential(9.0)))
                    emit(visitor, t, "review_written" if rng.random() < 0.6 else "referral_sent")
    frame = pl.DataFrame(
        out,
        schema={
            "visitor_id": pl.String,
            "timestamp": pl.Datetime("us"),
            "stage": pl.String,
            "touchpoint": pl.String,
            "channel": pl.String,
            "satisfaction": pl.Int64,
        },
    )
    # Truncate to whole seconds so the CSV is exact.
    return frame.with_columns(pl.col("timestamp").dt.truncate("1s")).sort(
        "timestamp", "visitor_id", maintain_order=True
    )
