"""After-purchase service data: the feedback survey (NPS, CSAT, CES) and support tickets,
both following real purchase days and the 1997 holiday backlog."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from .common import OBS_END, at, in_backlog


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
            - (0.55 if in_backlog(day) else 0.0)
            + rng.normal(0.0, 0.9)
        )
        nps = int(np.clip(round(7.6 + 1.9 * mood), 0, 10))
        csat = int(np.clip(round(3.9 + 0.9 * mood + rng.normal(0, 0.4)), 1, 5))
        # Ordering effort: the checkout is clunky (CES on 1..7 agreement "it was easy").
        ces = int(np.clip(round(4.9 + 0.8 * mood + rng.normal(0, 0.7)), 1, 7))
        out["response_id"].append(f"F{i:05d}")
        out["customer_id"].append(cid)
        out["responded_at"].append(at(answered, rng.uniform(8 * 3600, 23 * 3600)))
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
    p = np.where([in_backlog(d) for d in purchases["date"]], 0.1, 0.05)
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
        holiday = in_backlog(created_day)
        frt_minutes = median_minutes * (2.6 if holiday else 1.0) * rng.lognormal(0.0, 0.7)
        contacts = (
            1
            if rng.random() < one_touch - (0.12 if holiday else 0.0)
            else 2 + int(rng.poisson(0.8))
        )
        resolve_minutes = frt_minutes + rng.lognormal(np.log(60.0), 1.0) * contacts**1.5
        created = at(created_day, rng.uniform(7 * 3600, 22 * 3600))
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
