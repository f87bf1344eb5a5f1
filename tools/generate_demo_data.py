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
* ``weekly_contacts.csv``: marketing contacts per customer per week (newsletter, holiday
  campaign, occasional offers) for the first 400 customer ids, through the end of 1998: the
  time-varying covariates of ``rules/clv-dynamic.yaml``.

The generators live in ``tools/northwind/``, one module per concept (``sales``, ``kano``,
``service``, ``journey``, ``contacts``; ``common`` for what they share).

Run from the repository root::

    python tools/generate_demo_data.py            # writes python/truenorth/packs/data/
    python tools/generate_demo_data.py --out DIR  # somewhere else

The output is byte-for-byte reproducible (a test regenerates it and compares). Every dataset
draws from its own child of one ``numpy.random.SeedSequence``, so changing one generator does
not change the others.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# the generators are a package next to this script (run as a script, or loaded by path in tests)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from northwind.common import OBS_END, write_csv
from northwind.contacts import weekly_contacts
from northwind.journey import STAGES, journey_events
from northwind.kano import KANO_LABELS, kano_survey
from northwind.sales import acquisition, customer_days, transactions
from northwind.service import feedback, support_tickets

__all__ = ["GENERATED", "KANO_LABELS", "OBS_END", "SEED", "STAGES", "generate", "main"]

SEED = 20_261_123
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "python" / "truenorth" / "packs" / "data"
DEFAULT_CDNOW = REPO / "tests" / "data" / "CDNOW_master.txt"

# The dataset files this script writes, in order (the canvas and maturity files are hand-written).
GENERATED = (
    "transactions.csv",
    "kano_survey.csv",
    "feedback.csv",
    "support_tickets.csv",
    "acquisition.csv",
    "journey_events.csv",
    "weekly_contacts.csv",
)


def generate(out: Path, cdnow: Path = DEFAULT_CDNOW, seed: int = SEED) -> list[Path]:
    """Write every generated dataset into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    # one child stream per dataset, by position: a new dataset takes the next child, so the
    # existing ones keep their numbers
    kano_rng, feedback_rng, ticket_rng, acq_rng, journey_rng, contacts_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    tx = transactions(cdnow)
    purchases = customer_days(tx)
    frames = {
        "transactions.csv": tx,
        "kano_survey.csv": kano_survey(kano_rng),
        "feedback.csv": feedback(feedback_rng, purchases),
        "support_tickets.csv": support_tickets(ticket_rng, purchases),
        "acquisition.csv": acquisition(acq_rng, tx),
        "journey_events.csv": journey_events(journey_rng),
        "weekly_contacts.csv": weekly_contacts(contacts_rng),
    }
    assert tuple(frames) == GENERATED
    written = []
    for name, frame in frames.items():
        write_csv(frame, out / name)
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
