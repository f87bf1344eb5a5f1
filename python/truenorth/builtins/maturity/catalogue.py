"""The maturity catalogue (criteria per dimension and level) and assessor ratings, loaded
from YAML or CSV with precise locations."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from truenorth import Located, Location, parse_yaml
from truenorth.errors import DataError, PackError, Problem

RatingName = Literal["not", "partially", "largely", "fully"]
RATINGS: tuple[str, ...] = ("not", "partially", "largely", "fully")
RANK = {r: i for i, r in enumerate(RATINGS)}
ACHIEVED = RANK["largely"]

PROBES: tuple[str, ...] = (
    "feedback_collected",
    "feedback_recent",
    "kano_analysis",
    "journey_mapped",
    "touchpoints_measured",
    "segmentation",
    "clv_measured",
    "value_vs_cac",
    "kpis_tracked",
    "kpi_thresholds",
    "kpi_benchmarks",
    "support_kpis",
    "retention_tracked",
    "referral_tracked",
    "health_score",
    "canvas_maintained",
    "canvas_consistent",
    "rules_in_run",
)


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_M):
    id: str = Field(min_length=1, description="Unique criterion id.")
    level: int = Field(ge=2, le=5, description="The level (2-5) this criterion belongs to.")
    text: str = Field(description="What is expected.")
    derive: Literal[PROBES] | None = Field(  # type: ignore[valid-type]
        default=None, description="Evidence probe that rates this criterion from the run."
    )


class Dimension(_M):
    name: str
    criteria: list[Criterion] = Field(min_length=1)


class Catalogue(_M):
    maturity: Literal[1] = 1
    levels: dict[int, str] = Field(
        default={1: "ad-hoc", 2: "initiating", 3: "enabling", 4: "optimizing", 5: "leading"}
    )
    dimensions: dict[str, Dimension] = Field(min_length=1)


@dataclass(frozen=True)
class Rating:
    rating: str
    source: str
    evidence: str


# --------------------------------------------------------------------------------------------
# loading


def _problems(exc: ValidationError, doc: Located) -> list[Problem]:
    out = []
    for e in exc.errors():
        path = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            out.append(Problem(f"unknown key {path[-1]!r}", doc.loc(path, key=True)))
        elif e["type"] == "missing":
            out.append(Problem(f"missing required key {path[-1]!r}", doc.loc(path[:-1])))
        else:
            where = ".".join(map(str, path))
            out.append(Problem(f"{where}: {e['msg']}", doc.loc(path)))
    return out


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load a criteria catalogue (default: the one shipped with truenorth)."""
    if path is None:
        text = resources.files(__package__).joinpath("catalogue.yaml").read_text("utf-8")
        file = "truenorth/builtins/maturity/catalogue.yaml"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise PackError(
                [Problem(f"cannot read catalogue: {exc.strerror}", Location(str(p), 1, 1))]
            ) from None
        file = str(p)
    return load_catalogue_text(text, file)


def load_catalogue_text(text: str, file: str = "<catalogue>") -> Catalogue:
    doc = parse_yaml(text, file)
    try:
        cat = Catalogue.model_validate(doc.value)
    except ValidationError as exc:
        raise PackError(_problems(exc, doc)) from None
    seen: dict[str, Location] = {}
    problems = []
    for d, dim in cat.dimensions.items():
        for i, c in enumerate(dim.criteria):
            loc = doc.loc(("dimensions", d, "criteria", i, "id"))
            if c.id in seen:
                problems.append(
                    Problem(f"duplicate criterion id {c.id!r} (first at {seen[c.id]})", loc)
                )
            seen.setdefault(c.id, loc)
    if problems:
        raise PackError(problems)
    return cat


def _criteria(cat: Catalogue) -> dict[str, tuple[str, Criterion]]:
    return {c.id: (d, c) for d, dim in cat.dimensions.items() for c in dim.criteria}


def load_ratings(path: str | Path, catalogue: Catalogue) -> dict[str, Rating]:
    """Assessor ratings from YAML (``criterion: rating`` or ``criterion: {rating, evidence}``,
    optionally under a top-level ``ratings:`` key) or CSV (columns criterion, rating, evidence).
    Unknown criteria and ratings are errors naming file:line:column (YAML) or row (CSV)."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return _ratings_csv(p, catalogue)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError(
            [Problem(f"cannot read ratings: {exc.strerror}", Location(str(p), 1, 1))]
        ) from None
    return load_ratings_text(text, catalogue, str(p))


def load_ratings_text(
    text: str, catalogue: Catalogue, file: str = "<ratings>"
) -> dict[str, Rating]:
    doc = parse_yaml(text, file)
    root: Any = doc.value
    prefix: tuple[Any, ...] = ()
    if isinstance(root, dict) and set(root) == {"ratings"}:
        root, prefix = root["ratings"], ("ratings",)
    if not isinstance(root, dict):
        raise PackError(
            [
                Problem(
                    "ratings must be a mapping of criterion id -> rating",
                    doc.loc(prefix),
                    expected="e.g. `research.owner: largely`",
                )
            ]
        )
    known = _criteria(catalogue)
    out: dict[str, Rating] = {}
    problems = []
    for cid, val in root.items():
        kloc = doc.loc((*prefix, cid), key=True)
        vloc = doc.loc((*prefix, cid))
        if cid not in known:
            near = difflib.get_close_matches(str(cid), list(known), n=6, cutoff=0.5)
            problems.append(
                Problem(
                    f"unknown criterion {cid!r}",
                    kloc,
                    expected="a criterion id of the catalogue"
                    + (f", e.g. {', '.join(near[:6])}" if near else ""),
                )
            )
            continue
        evidence = ""
        rating = val
        if isinstance(val, dict):
            extra = set(val) - {"rating", "evidence"}
            if extra:
                k = sorted(map(str, extra))[0]
                problems.append(
                    Problem(
                        f"unknown key {k!r}",
                        doc.loc((*prefix, cid, k), key=True),
                        expected="rating, evidence",
                    )
                )
                continue
            rating, evidence = val.get("rating"), str(val.get("evidence") or "")
            vloc = doc.loc((*prefix, cid, "rating"))
        if rating not in RATINGS:
            problems.append(
                Problem(
                    f"criterion {cid!r}: rating {rating!r} is not a rating",
                    vloc,
                    expected="one of: " + ", ".join(RATINGS),
                )
            )
            continue
        out[cid] = Rating(str(rating), f"ratings ({file})", evidence)
    if problems:
        raise PackError(problems)
    return out


def _ratings_csv(p: Path, catalogue: Catalogue) -> dict[str, Rating]:
    try:
        df = pl.read_csv(p, infer_schema=False)
    except Exception as exc:
        raise DataError(f"{p}: cannot read ratings CSV: {exc}") from None
    for col in ("criterion", "rating"):
        if col not in df.columns:
            raise DataError(
                f"{p}: no column {col!r}; expected columns criterion, rating[, evidence] "
                f"(columns present: {', '.join(df.columns)})"
            )
    known = _criteria(catalogue)
    df = df.with_row_index("__row", offset=1).with_columns(
        pl.col("criterion").fill_null("").str.strip_chars().alias("__cid"),
        pl.col("rating").fill_null("").str.strip_chars().str.to_lowercase().alias("__rating"),
    )
    for col, bad, expected in (
        (
            "criterion",
            ~pl.col("__cid").is_in(list(known)),
            f"is not a criterion of the catalogue; expected one of: {', '.join(sorted(known))}",
        ),
        (
            "rating",
            ~pl.col("__rating").is_in(list(RATINGS)),
            f"is not a rating; expected one of: {', '.join(RATINGS)}",
        ),
    ):
        hit = df.filter(bad)
        if hit.height:
            r = hit.row(0, named=True)
            raise DataError(f"{p}: column {col!r}, row {r['__row']}: value {r[col]!r} {expected}")
    evidence = df["evidence"].fill_null("") if "evidence" in df.columns else None
    return {
        cid: Rating(rating, f"ratings ({p})", evidence[i] if evidence is not None else "")
        for i, (cid, rating) in enumerate(zip(df["__cid"], df["__rating"], strict=True))
    }
