"""Weekly marketing contacts of Northwind's first customers: the time-varying covariate table of
the dynamic-covariate pack (``rules/clv-dynamic.yaml``).

One row per customer and week (weeks start on Mondays, from the week of 1 January 1997) for the
customers with ids 1 to ``COHORT`` (CDNOW's first ids; like every CDNOW customer they first
bought in Q1 1997), up to the last week of 1998: the weeks to 30 June 1998 are the contact
history, the weeks after it Northwind's plan for the rest of 1998, which the pack's six-month
CLV needs. (A sample, so the file stays small: a row per customer and week.) ``contacts`` counts mailings to the customer that week:

* the fortnightly newsletter, to the customers who opted in (about 55 %, fixed per customer);
* the holiday campaign, in the five weeks from the third Monday of November (1997 and 1998),
  to each customer with probability 0.9 a week;
* an occasional offer, to anyone with probability 0.04 a week.

Everything is drawn independently of the customers' (real) purchases, so the coefficients the
pack estimates say only what the weekly calendar of contacts shares with the shop's seasonal
rhythm, nothing causal about an individual customer.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

COHORT = 400
FIRST_WEEK = dt.date(1996, 12, 30)  # the Monday of 1 January 1997's week
LAST_WEEK = dt.date(1998, 12, 28)  # the week of the six-month horizon's end (29 Dec 1998)
NEWSLETTER_OPT_IN = 0.55
CAMPAIGN_P = 0.9
OFFER_P = 0.04
CAMPAIGNS = (dt.date(1997, 11, 17), dt.date(1998, 11, 16))  # five weeks from each
CAMPAIGN_WEEKS = 5


def weekly_contacts(rng: np.random.Generator) -> pl.DataFrame:
    """customer_id, week (its Monday), contacts; sorted by customer and week."""
    weeks = [
        FIRST_WEEK + dt.timedelta(weeks=k) for k in range((LAST_WEEK - FIRST_WEEK).days // 7 + 1)
    ]
    n, w = COHORT, len(weeks)
    opted_in = rng.random(n) < NEWSLETTER_OPT_IN
    newsletter = opted_in[:, None] & (np.arange(w) % 2 == 0)[None, :]
    in_campaign = np.array(
        [
            any(start <= week < start + dt.timedelta(weeks=CAMPAIGN_WEEKS) for start in CAMPAIGNS)
            for week in weeks
        ]
    )
    campaign = in_campaign[None, :] & (rng.random((n, w)) < CAMPAIGN_P)
    offer = rng.random((n, w)) < OFFER_P
    contacts = newsletter.astype(np.int64) + campaign + offer
    return pl.DataFrame(
        {
            "customer_id": np.repeat(np.arange(1, n + 1), w),
            "week": weeks * n,
            "contacts": contacts.ravel(),
        },
        schema={"customer_id": pl.Int64, "week": pl.Date, "contacts": pl.Int64},
    )
