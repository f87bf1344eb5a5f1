"""Staged customer-value maturity assessment (DOMAIN.md §6), as pure functions.

* :func:`load_catalogue` reads a criteria catalogue (the default ships as ``catalogue.yaml``).
* :func:`load_ratings` reads assessor ratings from YAML or CSV.
* :func:`derive_evidence` rates criteria from the tables of the run (probes).
* :func:`assess` combines both and computes the staged level per dimension.

Ratings are ordinal: not < partially < largely < fully. A dimension reaches level L (2..5) when
every criterion at levels 2..L is at least "largely" (CMMI staged representation); level 1
(ad-hoc) needs nothing. The overall level is the minimum over the dimensions; the dimensions
at that minimum are the floor.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping, Sequence
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

DEFAULT_TABLES: dict[str, list[str]] = {
    "feedback": ["survey", "feedback", "responses", "reviews", "kano_survey"],
    "kano": ["kano"],
    "journey": ["funnel"],
    "touchpoints": ["touchpoints"],
    "segments": ["segments"],
    "customers": ["customers"],
    "kpis": ["kpis"],
    "canvas": ["canvas_coverage"],
    "health": ["health_scores"],
    "cohorts": ["cohort_retention"],
}

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


# --------------------------------------------------------------------------------------------
# evidence from the run


class Run:
    """The tables a run offers, by evidence group (first existing table wins).

    ``extra`` names more tables to inspect (the rule's ``wait_for``); those with the columns of a
    KPI table (metric, subject, value) count as KPI tables too, so packs whose kpi rules write
    ``kpi_nps``, ``kpi_csat``, ... need not list them twice.
    """

    def __init__(
        self,
        has_table: Callable[[str], bool],
        table: Callable[[str], pl.LazyFrame],
        tables: Mapping[str, Sequence[str]],
        extra: Sequence[str] = (),
    ):
        self._has, self._table, self.tables = has_table, table, tables
        self.extra = list(extra)

    def find(self, group: str) -> str | None:
        return next((t for t in self.tables.get(group, ()) if self._has(t)), None)

    def kpi_tables(self) -> list[str]:
        named = [t for t in self.tables.get("kpis", ()) if self._has(t)]
        more = [
            t
            for t in self.extra
            if t not in named
            and self._has(t)
            and {"metric", "subject", "value"} <= set(self._table(t).collect_schema().names())
        ]
        return named + more

    def lazy(self, name: str) -> pl.LazyFrame:
        return self._table(name)

    def names(self, group: str) -> str:
        return "/".join(self.tables.get(group, ())) or "(none configured)"


def _metrics(run: Run) -> tuple[str | None, pl.DataFrame | None]:
    found = run.kpi_tables()
    if not found:
        return None, None
    parts = []
    for t in found:
        lf = run.lazy(t)
        cols = lf.collect_schema().names()
        parts.append(
            lf.select(
                [
                    (pl.col(c) if c in cols else pl.lit(None)).cast(d).alias(c)
                    for c, d in (
                        ("metric", pl.String),
                        ("target", pl.Float64),
                        ("benchmark", pl.Float64),
                        ("warn", pl.String),
                        ("fail", pl.String),
                    )
                ]
            ).collect()
        )
    return ", ".join(repr(t) for t in found), pl.concat(parts)


def derive_evidence(
    run: Run, *, as_of: dt.date, recent_days: int = 90
) -> dict[str, tuple[str, str]]:
    """Rate every probe from the run's tables: probe -> (rating, evidence text)."""
    out: dict[str, tuple[str, str]] = {}
    absent = "no {what} table ({names}) in this run"

    def simple(probe: str, group: str, what: str) -> None:
        t = run.find(group)
        out[probe] = (
            ("fully", f"table {t!r} produced in this run")
            if t
            else ("not", absent.format(what=what, names=run.names(group)))
        )

    # feedback
    fb = run.find("feedback")
    if fb is None:
        out["feedback_collected"] = (
            "not",
            absent.format(what="feedback", names=run.names("feedback")),
        )
        out["feedback_recent"] = out["feedback_collected"]
    else:
        lf = run.lazy(fb)
        schema = lf.collect_schema()
        n = lf.select(pl.len()).collect().item()
        out["feedback_collected"] = (
            ("fully", f"{n} rows of feedback in {fb!r}") if n else ("partially", f"{fb!r} is empty")
        )
        tcols = [c for c, d in schema.items() if d == pl.Date or isinstance(d, pl.Datetime)]
        tcol = "time" if "time" in tcols else (tcols[0] if tcols else None)
        if tcol is None:
            out["feedback_recent"] = ("not", f"{fb!r} has no date column to show recency")
        else:
            last = lf.select(pl.col(tcol).max()).collect().item()
            if last is None:
                out["feedback_recent"] = ("not", f"{fb!r}.{tcol} has no dates")
            else:
                last_d = last.date() if isinstance(last, dt.datetime) else last
                age = (as_of - last_d).days
                rating = (
                    "fully"
                    if age <= recent_days
                    else ("partially" if age <= 4 * recent_days else "not")
                )
                out["feedback_recent"] = (
                    rating,
                    f"latest feedback in {fb!r}: {last_d.isoformat()} ({age} days before "
                    f"{as_of.isoformat()}; recent = within {recent_days} days)",
                )

    simple("kano_analysis", "kano", "Kano")
    simple("journey_mapped", "journey", "journey funnel")
    simple("touchpoints_measured", "touchpoints", "touchpoint")

    seg = run.find("segments")
    if seg is None:
        out["segmentation"] = ("not", absent.format(what="segments", names=run.names("segments")))
    else:
        n = run.lazy(seg).select(pl.len()).collect().item()
        out["segmentation"] = (
            ("fully", f"{n} segments in {seg!r}")
            if n >= 2
            else ("partially", f"{n} segment in {seg!r}")
        )

    clv_src = None
    cust = run.find("customers")
    if cust and "clv" in run.lazy(cust).collect_schema():
        clv_src = f"column 'clv' of {cust!r}"
    elif seg and {"clv_total", "clv_mean"} & set(run.lazy(seg).collect_schema().names()):
        clv_src = f"CLV columns of {seg!r}"
    out["clv_measured"] = (
        ("fully", f"customer lifetime value measured ({clv_src})")
        if clv_src
        else ("not", "no CLV column (customers.clv or segments.clv_total/clv_mean) in this run")
    )

    kt, k = _metrics(run)
    metrics = (
        set(k["metric"].drop_nulls().to_list())
        if k is not None and "metric" in k.columns
        else set()
    )
    if k is None:
        none = ("not", absent.format(what="KPI", names=run.names("kpis")))
        for p in (
            "kpis_tracked",
            "kpi_thresholds",
            "kpi_benchmarks",
            "support_kpis",
            "referral_tracked",
        ):
            out[p] = none
    else:
        core = metrics & {"nps", "csat", "ces", "churn", "retention", "cohort_retention"}
        out["kpis_tracked"] = (
            ("fully", f"KPIs in {kt}: {', '.join(sorted(metrics))}")
            if core
            else (
                "largely",
                f"KPIs in {kt} ({', '.join(sorted(metrics)) or 'none'}), but no "
                "NPS/CSAT/CES/churn/retention",
            )
        )
        has_target = k["target"].is_not_null().any()
        has_bench = k["benchmark"].is_not_null().any()
        with_rule = k.filter(pl.col("warn").is_not_null() | pl.col("fail").is_not_null())
        governed = (
            k.filter(
                pl.col("warn").is_not_null()
                | pl.col("fail").is_not_null()
                | pl.col("target").is_not_null()
                | pl.col("benchmark").is_not_null()
            )["metric"]
            .unique()
            .drop_nulls()
        )
        ungoverned = sorted(metrics - set(governed.to_list()))
        what = ", ".join(
            w
            for w, ok in (
                ("warn/fail thresholds", with_rule.height > 0),
                ("targets", has_target),
                ("benchmarks", has_bench),
            )
            if ok
        )
        if not governed.len():
            out["kpi_thresholds"] = ("not", f"no KPI in {kt} has a threshold, target or benchmark")
        elif ungoverned:
            out["kpi_thresholds"] = (
                "partially" if len(ungoverned) > len(governed) else "largely",
                f"KPIs in {kt} with {what}; without any: {', '.join(ungoverned)}",
            )
        else:
            out["kpi_thresholds"] = ("fully", f"every KPI in {kt} has {what}")
        out["kpi_benchmarks"] = (
            ("fully", f"KPIs in {kt} are compared with benchmarks")
            if has_bench
            else ("not", f"no KPI in {kt} has a benchmark")
        )
        support = metrics & {"first_response_time", "first_contact_resolution"}
        out["support_kpis"] = (
            (
                "fully" if len(support) == 2 else "largely",
                f"support KPIs: {', '.join(sorted(support))}",
            )
            if support
            else ("not", f"no first response time / first contact resolution in {kt}")
        )
        out["referral_tracked"] = (
            ("fully", f"referral rate in {kt}")
            if "referral_rate" in metrics
            else ("not", f"no referral rate in {kt}")
        )
    acquisition = metrics & {"cac", "clv_cac", "cac_payback"}
    if clv_src and acquisition:
        out["value_vs_cac"] = (
            "fully",
            f"CLV ({clv_src}) and acquisition cost ({', '.join(sorted(acquisition))}) measured",
        )
    elif clv_src:
        out["value_vs_cac"] = ("partially", f"CLV measured ({clv_src}) but no CAC / CLV:CAC KPI")
    elif acquisition:
        out["value_vs_cac"] = ("partially", f"{', '.join(sorted(acquisition))} measured, no CLV")
    else:
        out["value_vs_cac"] = ("not", "neither CLV nor acquisition cost measured in this run")
    coh = run.find("cohorts")
    retention = metrics & {"churn", "retention", "cohort_retention"}
    out["retention_tracked"] = (
        ("fully", f"retention tracked ({', '.join(sorted(retention)) or coh})")
        if retention or coh
        else ("not", "no churn, retention or cohort table in this run")
    )
    hs = run.find("health")
    out["health_score"] = (
        ("fully", f"health scores ({hs or 'kpi health_score'})")
        if hs or "health_score" in metrics
        else ("not", absent.format(what="health score", names=run.names("health")))
    )

    cv = run.find("canvas")
    if cv is None:
        none = ("not", absent.format(what="canvas coverage", names=run.names("canvas")))
        out["canvas_maintained"] = out["canvas_consistent"] = none
    else:
        cov = run.lazy(cv).select(pl.col("coverage")).collect()["coverage"].drop_nulls()
        mean = cov.mean() if len(cov) else 0.0
        assert mean is None or isinstance(mean, float | int)
        mean = float(mean or 0.0)
        rating = "fully" if mean >= 0.9 else "largely" if mean >= 0.6 else "partially"
        out["canvas_maintained"] = (rating, f"canvas coverage {mean:.0%} on average ({cv!r})")
        full = len(cov) > 0 and bool((cov >= 1.0).all())
        out["canvas_consistent"] = (
            ("fully", f"every canvas block fully linked ({cv!r})")
            if full
            else ("partially", f"canvas blocks with gaps: {(cov < 1.0).sum()} ({cv!r})")
        )
    out["rules_in_run"] = (
        "partially",
        "this assessment runs from a rule pack; version control and CI are not visible from "
        "data (rate it)",
    )
    return out


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
