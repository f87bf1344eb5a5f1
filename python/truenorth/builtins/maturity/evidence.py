"""Evidence probes: rate catalogue criteria from the tables a run offers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import polars as pl

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
