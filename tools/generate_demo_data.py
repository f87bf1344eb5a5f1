#!/usr/bin/env python3
"""Generate the demo workspace data of *Northwind Records*, a fictional online CD shop.

Northwind's transactions are real: the CDNOW master file (Fader & Hardie; 69,659 purchases of
the 23,570 customers who first bought in Q1 1997, up to 1998-06-30), converted to a CSV.
Everything else — surveys, support tickets, acquisition spend, the journey event log — is
generated here from a fixed seed, so that the rule packs have something realistic to find:

* ``kano_survey.csv``: two survey waves (1997-09 and 1998-05) over eleven features; each
  respondent's answer pair is drawn from a per-feature (and per-segment, per-wave) latent mix of
  Kano categories, so the analysis recovers known categories, and two features drift between
  waves (track previews: attractive → one-dimensional; order tracking: one-dimensional →
  must-be).
* ``feedback.csv``: a post-purchase survey (NPS 0–10, CSAT 1–5, CES 1–7) sent after real
  CDNOW purchases; scores depend on the customer's segment and dip in the 1997 holiday season
  (the delivery backlog), then recover.
* ``support_tickets.csv``: tickets raised after real purchases, with first-response and
  resolution times per channel (the holiday backlog shows in the response times too), the
  number of contacts and an optional post-ticket CSAT.
* ``acquisition.csv``: marketing and sales spend per acquisition month next to the real number
  of new CDNOW customers in that month.
* ``journey_events.csv``: visitors moving through awareness → consideration → purchase →
  retention → advocacy over touchpoints and channels, with touchpoint satisfaction where a
  survey was answered. Checkout and order tracking are the pain points.

Run from the repository root::

    python tools/generate_demo_data.py            # writes python/truenorth/packs/data/
    python tools/generate_demo_data.py --out DIR  # somewhere else

The output is byte-for-byte reproducible (a test regenerates it and compares). Every dataset
draws from its own child of one ``numpy.random.SeedSequence``, so changing one generator does
not change the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20_261_123
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "python" / "truenorth" / "packs" / "data"
DEFAULT_CDNOW = REPO / "tests" / "data" / "CDNOW_master.txt"

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
OBS_END = dt.date(1998, 6, 30)

# The dataset files this script writes, in order (the canvas and maturity files are hand-written).
GENERATED = (
    "transactions.csv",
    "kano_survey.csv",
    "feedback.csv",
    "support_tickets.csv",
    "acquisition.csv",
    "journey_events.csv",
)

# ---------------------------------------------------------------------------------------------
# Kano
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Transactions (real) and the customers the other datasets refer to
# ---------------------------------------------------------------------------------------------


def transactions(cdnow: Path) -> pl.DataFrame:
    """The CDNOW master file as a tidy CSV: customer_id, date, cds, amount (row order kept)."""
    lines = cdnow.read_text().splitlines()
    header, body = lines[0].split(), [line.split() for line in lines[1:] if line.strip()]
    if header != ["customer_id", "date", "number_of_cds", "dollar_value"]:
        raise ValueError(f"unexpected CDNOW header: {header}")
    return pl.DataFrame(
        {
            "customer_id": [int(r[0]) for r in body],
            "date": [dt.datetime.strptime(r[1], "%Y%m%d").date() for r in body],
            "cds": [int(r[2]) for r in body],
            "amount": [float(r[3]) for r in body],
        }
    )


def _purchases(tx: pl.DataFrame) -> pl.DataFrame:
    """One row per customer-day with the customer's purchase number and segment.

    A customer is a *collector* once they have bought on four or more days in total (about the
    top 15 % of CDNOW's customers), else *casual* — the same split the surveys use.
    """
    days = (
        tx.group_by("customer_id", "date")
        .agg(pl.col("amount").sum(), pl.col("cds").sum())
        .sort("customer_id", "date")
        .with_columns(
            purchase_no=pl.int_range(1, pl.len() + 1).over("customer_id"),
            purchase_days=pl.len().over("customer_id"),
        )
    )
    return days.with_columns(
        segment=pl.when(pl.col("purchase_days") >= 4)
        .then(pl.lit("collector"))
        .otherwise(pl.lit("casual"))
    )


def _at(day: dt.date, seconds: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=round(float(seconds)))


def _holiday(day: dt.date) -> bool:
    """The 1997 holiday season, when Northwind's warehouse ran a delivery backlog."""
    return dt.date(1997, 11, 17) <= day <= dt.date(1998, 1, 9)


# ---------------------------------------------------------------------------------------------
# Feedback survey: NPS, CSAT, CES
# ---------------------------------------------------------------------------------------------


def feedback(rng: np.random.Generator, purchases: pl.DataFrame) -> pl.DataFrame:
    # Post-purchase survey sent after ~9 % of purchase days, answered 1..6 days later.
    picked = purchases.filter(pl.Series(rng.random(purchases.height) < 0.09)).sort(
        "date", "customer_id"
    )
    out: dict[str, list] = {
        k: []
        for k in ("response_id", "customer_id", "responded_at", "segment", "nps", "csat", "ces")
    }
    for i, (cid, day, segment, purchase_no) in enumerate(
        picked.select("customer_id", "date", "segment", "purchase_no").iter_rows(), start=1
    ):
        answered = day + dt.timedelta(days=int(rng.integers(1, 7)))
        if answered > OBS_END:
            continue
        # Latent satisfaction: repeat buyers and collectors are happier; the holiday backlog hurts.
        mood = (
            0.35
            + (0.25 if segment == "collector" else 0.0)
            + 0.05 * min(purchase_no - 1, 4)
            - (0.55 if _holiday(day) else 0.0)
            + rng.normal(0.0, 0.9)
        )
        nps = int(np.clip(round(7.6 + 1.9 * mood), 0, 10))
        csat = int(np.clip(round(3.9 + 0.9 * mood + rng.normal(0, 0.4)), 1, 5))
        # Ordering effort: the checkout is clunky (CES on 1..7 agreement "it was easy").
        ces = int(np.clip(round(4.9 + 0.8 * mood + rng.normal(0, 0.7)), 1, 7))
        out["response_id"].append(f"F{i:05d}")
        out["customer_id"].append(cid)
        out["responded_at"].append(_at(answered, rng.uniform(8 * 3600, 23 * 3600)))
        out["segment"].append(segment)
        out["nps"].append(nps)
        out["csat"].append(None if rng.random() < 0.05 else csat)
        out["ces"].append(None if rng.random() < 0.1 else ces)
    return pl.DataFrame(
        out,
        schema={
            "response_id": pl.String,
            "customer_id": pl.Int64,
            "responded_at": pl.Datetime("us"),
            "segment": pl.String,
            "nps": pl.Int64,
            "csat": pl.Int64,
            "ces": pl.Int64,
        },
    )


# ---------------------------------------------------------------------------------------------
# Support tickets
# ---------------------------------------------------------------------------------------------

TICKET_TOPICS = (("delivery", 0.38), ("billing", 0.17), ("damaged", 0.12), ("returns", 0.15),
                 ("account", 0.08), ("product", 0.10))  # fmt: skip
# channel -> (share, median first response in minutes, one-touch resolution probability)
TICKET_CHANNELS = {
    "email": (0.55, 150.0, 0.62),
    "phone": (0.3, 4.0, 0.8),
    "chat": (0.15, 6.0, 0.72),
}


def support_tickets(rng: np.random.Generator, purchases: pl.DataFrame) -> pl.DataFrame:
    # ~5 % of purchase days raise a ticket; twice as often during the holiday backlog.
    p = np.where([_holiday(d) for d in purchases["date"]], 0.1, 0.05)
    picked = purchases.filter(pl.Series(rng.random(purchases.height) < p)).sort(
        "date", "customer_id"
    )
    channels = list(TICKET_CHANNELS)
    shares = np.array([TICKET_CHANNELS[c][0] for c in channels])
    topics, topic_p = zip(*TICKET_TOPICS, strict=True)
    out: dict[str, list] = {
        k: []
        for k in (
            "ticket_id",
            "customer_id",
            "channel",
            "topic",
            "created_at",
            "first_response_at",
            "resolved_at",
            "contacts",
            "csat",
        )
    }
    for i, (cid, day) in enumerate(picked.select("customer_id", "date").iter_rows(), start=1):
        created_day = day + dt.timedelta(days=int(rng.integers(1, 15)))
        if created_day > OBS_END:
            continue
        channel = channels[rng.choice(len(channels), p=shares)]
        _, median_minutes, one_touch = TICKET_CHANNELS[channel]
        holiday = _holiday(created_day)
        frt_minutes = median_minutes * (2.6 if holiday else 1.0) * rng.lognormal(0.0, 0.7)
        contacts = (
            1
            if rng.random() < one_touch - (0.12 if holiday else 0.0)
            else 2 + int(rng.poisson(0.8))
        )
        resolve_minutes = frt_minutes + rng.lognormal(np.log(60.0), 1.0) * contacts**1.5
        created = _at(created_day, rng.uniform(7 * 3600, 22 * 3600))
        first = created + dt.timedelta(seconds=round(frt_minutes * 60))
        resolved = created + dt.timedelta(seconds=round(resolve_minutes * 60))
        # ~2 % of tickets are still open at the end of observation.
        still_open = rng.random() < 0.02
        mood = 4.4 - 0.45 * (contacts - 1) - (0.4 if frt_minutes > 120 else 0.0)
        csat = int(np.clip(round(mood + rng.normal(0, 0.7)), 1, 5))
        out["ticket_id"].append(f"T{i:05d}")
        out["customer_id"].append(cid)
        out["channel"].append(channel)
        out["topic"].append(topics[rng.choice(len(topics), p=np.asarray(topic_p))])
        out["created_at"].append(created)
        out["first_response_at"].append(first)
        out["resolved_at"].append(None if still_open else resolved)
        out["contacts"].append(contacts)
        out["csat"].append(None if still_open or rng.random() < 0.55 else csat)
    frame = pl.DataFrame(
        out,
        schema={
            "ticket_id": pl.String,
            "customer_id": pl.Int64,
            "channel": pl.String,
            "topic": pl.String,
            "created_at": pl.Datetime("us"),
            "first_response_at": pl.Datetime("us"),
            "resolved_at": pl.Datetime("us"),
            "contacts": pl.Int64,
            "csat": pl.Int64,
        },
    )
    # An explicit flag next to the timestamp: FCR counts resolved tickets only.
    return frame.with_columns(resolved=pl.col("resolved_at").is_not_null()).select(
        *frame.columns[:7], "resolved", *frame.columns[7:]
    )


# ---------------------------------------------------------------------------------------------
# Acquisition: spend per month next to the real number of new customers
# ---------------------------------------------------------------------------------------------


def acquisition(rng: np.random.Generator, tx: pl.DataFrame) -> pl.DataFrame:
    new = (
        tx.group_by("customer_id")
        .agg(pl.col("date").min().alias("first"))
        .with_columns(month=pl.col("first").dt.truncate("1mo"))
        .group_by("month")
        .agg(new_customers=pl.len())
        .sort("month")
    )
    # Spend so that CAC lands around $24–31: below CDNOW's 18-month revenue per customer (~$106)
    # but above a third of the expected future value of a typical new customer.
    cac = np.array([24.0, 27.5, 31.0])[: new.height] * rng.uniform(0.97, 1.03, new.height)
    total = cac * new["new_customers"].to_numpy()
    marketing_share = rng.uniform(0.68, 0.74, new.height)
    return new.select(
        pl.col("month").cast(pl.Date),
        marketing_spend=pl.Series(np.round(total * marketing_share, 2)),
        sales_spend=pl.Series(np.round(total * (1 - marketing_share), 2)),
    ).with_columns(
        total_spend=(pl.col("marketing_spend") + pl.col("sales_spend")).round(2),
        new_customers=new["new_customers"],
    )


# ---------------------------------------------------------------------------------------------
# Journey event log
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------


def _write_csv(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.write_csv(tmp, datetime_format=DATETIME_FORMAT, date_format="%Y-%m-%d", float_precision=2)
    tmp.replace(path)


def generate(out: Path, cdnow: Path = DEFAULT_CDNOW, seed: int = SEED) -> list[Path]:
    """Write every generated dataset into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    kano_rng, feedback_rng, ticket_rng, acq_rng, journey_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    tx = transactions(cdnow)
    purchases = _purchases(tx)
    frames = {
        "transactions.csv": tx,
        "kano_survey.csv": kano_survey(kano_rng),
        "feedback.csv": feedback(feedback_rng, purchases),
        "support_tickets.csv": support_tickets(ticket_rng, purchases),
        "acquisition.csv": acquisition(acq_rng, tx),
        "journey_events.csv": journey_events(journey_rng),
    }
    assert tuple(frames) == GENERATED
    written = []
    for name, frame in frames.items():
        _write_csv(frame, out / name)
        written.append(out / name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--cdnow", type=Path, default=DEFAULT_CDNOW, help="CDNOW_master.txt")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for path in generate(args.out, args.cdnow, args.seed):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
