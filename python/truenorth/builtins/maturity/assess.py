"""Staged customer-value maturity assessment (DOMAIN.md §6), as pure functions.

* :func:`.catalogue.load_catalogue` reads a criteria catalogue (the default ships as ``catalogue.yaml``).
* :func:`.catalogue.load_ratings` reads assessor ratings from YAML or CSV.
* :func:`.evidence.derive_evidence` rates criteria from the tables of the run (probes).
* :func:`assess` combines both and computes the staged level per dimension.

Ratings are ordinal: not < partially < largely < fully. A dimension reaches level L (2..5) when
every criterion at levels 2..L is at least "largely" (CMMI staged representation); level 1
(ad-hoc) needs nothing. The overall level is the minimum over the dimensions; the dimensions
at that minimum are the floor.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from .catalogue import ACHIEVED, RANK, Catalogue, Rating

MATURITY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "dimension": pl.String,
    "name": pl.String,
    "level": pl.Int64,
    "level_name": pl.String,
    "floor": pl.Boolean,
    "next_level": pl.Int64,
    "gaps": pl.Int64,
    "gap_criteria": pl.String,
}


EVIDENCE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "dimension": pl.String,
    "level": pl.Int64,
    "criterion": pl.String,
    "text": pl.String,
    "rating": pl.String,
    "source": pl.String,
    "evidence": pl.String,
}


# --------------------------------------------------------------------------------------------
# the assessment


def combine(
    catalogue: Catalogue,
    ratings: Mapping[str, Rating],
    derived: Mapping[str, tuple[str, str]],
) -> pl.DataFrame:
    """Evidence per criterion: an assessor rating wins; else the derived one; else "not"."""
    rows = []
    for d, dim in catalogue.dimensions.items():
        for c in dim.criteria:
            probe = derived.get(c.derive) if c.derive else None
            if c.id in ratings:
                r = ratings[c.id]
                ev = r.evidence
                if probe is not None:
                    ev = (
                        f"{ev}; derived: {probe[0]} ({probe[1]})"
                        if ev
                        else f"derived: {probe[0]} ({probe[1]})"
                    )
                rows.append((d, c.level, c.id, c.text, r.rating, r.source, ev))
            elif probe is not None:
                rows.append((d, c.level, c.id, c.text, probe[0], f"derived ({c.derive})", probe[1]))
            else:
                rows.append(
                    (
                        d,
                        c.level,
                        c.id,
                        c.text,
                        "not",
                        "none",
                        "no rating supplied and no evidence probe",
                    )
                )
    return pl.DataFrame(rows, schema=EVIDENCE_SCHEMA, orient="row")


def levels(catalogue: Catalogue, evidence: pl.DataFrame) -> pl.DataFrame:
    """Staged level per dimension, floor flag and next-level gaps."""
    rank = pl.col("rating").replace_strict(RANK, return_dtype=pl.Int64)
    ev = evidence.with_columns((rank >= ACHIEVED).alias("ok"))
    # the first level (2..5) with a criterion below "largely" blocks; level = that - 1
    blocked = ev.filter(~pl.col("ok")).group_by("dimension").agg(pl.col("level").min().alias("b"))
    dims = pl.DataFrame(
        {
            "dimension": list(catalogue.dimensions),
            "name": [d.name for d in catalogue.dimensions.values()],
            "_o": list(range(len(catalogue.dimensions))),
        },
        schema={"dimension": pl.String, "name": pl.String, "_o": pl.Int64},
    )
    out = dims.join(blocked, on="dimension", how="left").with_columns(
        (pl.col("b").fill_null(6) - 1).clip(1, 5).cast(pl.Int64).alias("level")
    )
    floor = out["level"].min()
    gaps = (
        ev.join(out.select("dimension", "level"), on="dimension", suffix="_dim")
        .filter((pl.col("level") == pl.col("level_dim") + 1) & ~pl.col("ok"))
        .group_by("dimension")
        .agg(
            pl.len().alias("gaps"), pl.col("criterion").sort().str.join(", ").alias("gap_criteria")
        )
    )
    names = {int(k): v for k, v in catalogue.levels.items()}
    out = (
        out.join(gaps, on="dimension", how="left")
        .with_columns(
            pl.col("level")
            .replace_strict(names, default=None, return_dtype=pl.String)
            .alias("level_name"),
            (pl.col("level") == floor).alias("floor"),
            pl.when(pl.col("level") < 5)
            .then(pl.col("level") + 1)
            .otherwise(None)
            .alias("next_level"),
            pl.col("gaps").fill_null(0),
            pl.col("gap_criteria").fill_null(""),
        )
        .sort("_o")
    )
    return out.select([pl.col(c).cast(t) for c, t in MATURITY_SCHEMA.items()])


def assess(
    catalogue: Catalogue,
    ratings: Mapping[str, Rating],
    derived: Mapping[str, tuple[str, str]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(maturity table, evidence table)."""
    evidence = combine(catalogue, ratings, derived)
    return levels(catalogue, evidence), evidence
