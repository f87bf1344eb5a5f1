"""Canvas consistency checks (DOMAIN.md §4) and links to data, as pure functions.

:func:`check_canvas` returns the coverage table, the per-segment data table and a list of
:class:`Issue` (each naming the item, the check and the item's location in the canvas file).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from truenorth import Location
from truenorth.errors import DataError

from .model import (
    BLOCK_LABEL,
    BLOCKS,
    PRIORITY_RANK,
    Channel,
    KeyActivity,
    KeyResource,
    LoadedCanvas,
    Relationship,
)

COVERAGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "block": pl.String,
    "items": pl.Int64,
    "linked": pl.Int64,
    "unlinked": pl.Int64,
    "coverage": pl.Float64,
    "unlinked_items": pl.String,
}

SEGMENTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "segment": pl.String,
    "name": pl.String,
    "data_segments": pl.String,
    "customers": pl.Int64,
    "clv_total": pl.Float64,
    "clv_mean": pl.Float64,
    "value_propositions": pl.Int64,
    "has_data": pl.Boolean,
}


# Columns of the segments table, first present name wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "customers": ("customers", "n_customers", "size", "count"),
    "clv_total": ("clv_total", "clv_sum", "total_clv"),
    "clv_mean": ("clv_mean", "mean_clv", "avg_clv"),
}


@dataclass(frozen=True)
class Issue:
    """One consistency gap: which check, which item, where it is defined, what is missing."""

    check: str
    subject: str
    message: str
    location: Location | None
    evidence: dict[str, Any] = field(default_factory=dict)


def _ids(items: list[Any]) -> list[str]:
    return [i.id for i in items]


def check_canvas(
    loaded: LoadedCanvas,
    *,
    segments: pl.DataFrame | None = None,
    touchpoints: pl.DataFrame | None = None,
    vpc_priority: str = "high",
    segment_column: str = "segment",
    source_segments: str = "segments",
    source_touchpoints: str = "touchpoints",
) -> tuple[pl.DataFrame, pl.DataFrame, list[Issue]]:
    """Consistency findings, a coverage table per block and a per-canvas-segment data table."""
    cv = loaded.canvas
    issues: list[Issue] = []

    def issue(check: str, item_id: str, text: str, **evidence: Any) -> None:
        loc = loaded.loc(item_id)
        entry = loaded.entries[item_id]
        label = BLOCK_LABEL[entry.block]
        issues.append(
            Issue(
                check,
                item_id,
                f"{label} {item_id!r} ({loc}): {text}",
                loc,
                {"canvas_location": str(loc), "block": entry.block, **evidence},
            )
        )

    # reverse links
    vps_of: dict[str, list[str]] = defaultdict(list)
    channels_of: dict[str, list[str]] = defaultdict(list)
    rels_of: dict[str, list[str]] = defaultdict(list)
    revenue_of: dict[str, list[str]] = defaultdict(list)
    support_of: dict[str, list[str]] = defaultdict(list)
    delivered: dict[str, list[str]] = defaultdict(list)
    costed: dict[str, list[str]] = defaultdict(list)
    for vp in cv.value_propositions:
        for s in vp.serves:
            vps_of[s].append(vp.id)
    for ch in cv.channels:
        for s in ch.reaches:
            channels_of[s].append(ch.id)
        for v in ch.delivers:
            delivered[v].append(ch.id)
    for r in cv.customer_relationships:
        for s in r.with_:
            rels_of[s].append(r.id)
    for rs in cv.revenue_streams:
        for s in rs.from_:
            revenue_of[s].append(rs.id)
    supporters: list[KeyActivity | KeyResource] = [*cv.key_activities, *cv.key_resources]
    for a in supporters:
        for v in a.supports:
            support_of[v].append(a.id)
    for cost in cv.cost_structure:
        for t in cost.for_:
            costed[t].append(cost.id)

    linked: dict[str, set[str]] = {b: set() for b in BLOCKS}

    # customer segments: >= 1 value proposition, channel, relationship and revenue stream
    for seg in cv.customer_segments:
        missing = [
            what
            for what, table in (
                ("value proposition", vps_of),
                ("channel", channels_of),
                ("customer relationship", rels_of),
                ("revenue stream", revenue_of),
            )
            if not table.get(seg.id)
        ]
        if missing:
            issue(
                "segment_links",
                seg.id,
                "no " + ", no ".join(missing) + " links to it",
                missing=missing,
            )
        else:
            linked["customer_segments"].add(seg.id)

    # value propositions: serve >= 1 segment, supported by >= 1 key activity or resource
    for vp in cv.value_propositions:
        problems = []
        if not vp.serves:
            problems.append("serves no customer segment")
        if not support_of.get(vp.id):
            problems.append("is supported by no key activity or key resource")
        if problems:
            issue("value_proposition_links", vp.id, " and ".join(problems))
        else:
            linked["value_propositions"].add(vp.id)

    for ch in cv.channels:
        gaps = [
            g
            for g, ok in (
                ("delivers no value proposition", ch.delivers),
                ("reaches no customer segment", ch.reaches),
            )
            if not ok
        ]
        if gaps:
            issue("channel_links", ch.id, " and ".join(gaps))
        else:
            linked["channels"].add(ch.id)
    for r in cv.customer_relationships:
        if r.with_:
            linked["customer_relationships"].add(r.id)
        else:
            issue("relationship_links", r.id, "is with no customer segment")
    for rs in cv.revenue_streams:
        if rs.from_:
            linked["revenue_streams"].add(rs.id)
        else:
            issue("revenue_links", rs.id, "comes from no customer segment")

    # key activities / resources: support a value proposition and appear in the cost structure
    for block in ("key_activities", "key_resources"):
        for a in getattr(cv, block):
            gaps = []
            if not a.supports:
                gaps.append("supports no value proposition")
            if not costed.get(a.id):
                gaps.append("appears in no cost of the cost structure")
            if gaps:
                issue("resource_links", a.id, " and ".join(gaps))
            else:
                linked[block].add(a.id)
    for p in cv.key_partnerships:
        if p.provides:
            linked["key_partnerships"].add(p.id)
        else:
            issue("partner_links", p.id, "provides no key activity or key resource")
    for cost in cv.cost_structure:
        if cost.for_:
            linked["cost_structure"].add(cost.id)
        else:
            issue("cost_links", cost.id, "traces to no key activity, resource or partnership")

    # Value Proposition Canvas fit: each pain/gain at or above `vpc_priority` of a segment is
    # relieved/created by a value proposition that serves that segment
    need = PRIORITY_RANK[vpc_priority]
    relievers: dict[tuple[str, str], list[str]] = defaultdict(list)
    creators: dict[tuple[str, str], list[str]] = defaultdict(list)
    for vp in cv.value_propositions:
        for seg_id in vp.serves:
            for reliever in vp.pain_relievers:
                for pain in reliever.relieves:
                    relievers[(seg_id, pain)].append(reliever.id)
            for g in vp.gain_creators:
                for gain in g.creates:
                    creators[(seg_id, gain)].append(g.id)
    for seg in cv.customer_segments:
        for kind, entries, table, verb in (
            ("pain", seg.pains, relievers, "relieves"),
            ("gain", seg.gains, creators, "creates"),
        ):
            for e in entries:
                if PRIORITY_RANK[e.priority] >= need and not table.get((seg.id, e.id)):
                    what = "pain reliever" if kind == "pain" else "gain creator"
                    issue(
                        f"vpc_{kind}",
                        e.id,
                        f"{e.priority}-priority {kind} of segment {seg.id!r} has no {what} in a "
                        f"value proposition serving that segment ({verb}: [{e.id}])",
                        segment=seg.id,
                        priority=e.priority,
                    )

    # links to data: segments
    seg_rows, data_issues = _segment_table(
        loaded, segments, segment_column, source_segments, vps_of, issue
    )
    issues.extend(data_issues)

    # links to data: journey touchpoints vs channels and relationships
    if touchpoints is not None:
        if "touchpoint" not in touchpoints.columns:
            raise DataError(
                f"{source_touchpoints}: no column 'touchpoint'; expected the journey's touchpoint "
                f"names (columns present: {', '.join(touchpoints.columns) or '(none)'})"
            )
        seen = set(touchpoints["touchpoint"].drop_nulls().cast(pl.String).to_list())
        mapped: dict[str, list[str]] = defaultdict(list)
        carriers: list[Channel | Relationship] = [*cv.channels, *cv.customer_relationships]
        for it in carriers:
            for tp in it.touchpoints:
                mapped[tp].append(it.id)
                if tp not in seen:
                    issue(
                        "touchpoint_without_data",
                        it.id,
                        f"lists touchpoint {tp!r}, which the journey data never shows",
                        touchpoint=tp,
                    )
        for tp in sorted(seen - set(mapped)):
            issues.append(
                Issue(
                    "touchpoint_unmapped",
                    tp,
                    f"journey touchpoint {tp!r} is mapped to no channel or customer relationship "
                    f"of the canvas (add it to an item's `touchpoints:`)",
                    None,
                    {"touchpoint": tp},
                )
            )

    coverage = pl.DataFrame(
        [
            {
                "block": b,
                "items": len(getattr(cv, b)),
                "linked": len(linked[b]),
                "unlinked": len(getattr(cv, b)) - len(linked[b]),
                "coverage": (len(linked[b]) / len(getattr(cv, b))) if getattr(cv, b) else None,
                "unlinked_items": ", ".join(i for i in _ids(getattr(cv, b)) if i not in linked[b]),
            }
            for b in BLOCKS
        ],
        schema=COVERAGE_SCHEMA,
    )
    return coverage, seg_rows, issues


def _segment_table(
    loaded: LoadedCanvas,
    segments: pl.DataFrame | None,
    column: str,
    source: str,
    vps_of: dict[str, list[str]],
    issue: Any,
) -> tuple[pl.DataFrame, list[Issue]]:
    """Per canvas segment: the data segments behind it, their customers and CLV.

    A canvas segment maps to the data segments named by ``data_segment`` (default: its own
    id). CLV mean is clv_total / customers when totals are known, else the customer-weighted
    mean of the data segments' ``clv_mean``.
    """
    cv = loaded.canvas
    extra: list[Issue] = []
    mapping = pl.DataFrame(
        [
            {"segment": s.id, "data_segment": d}
            for s in cv.customer_segments
            for d in (s.data_segments() or [s.id])
        ],
        schema={"segment": pl.String, "data_segment": pl.String},
    )
    base = pl.DataFrame(
        [
            {"segment": s.id, "name": s.name, "value_propositions": len(vps_of.get(s.id, []))}
            for s in cv.customer_segments
        ],
        schema={"segment": pl.String, "name": pl.String, "value_propositions": pl.Int64},
    ).with_row_index("_o")
    if segments is None:
        out = base.with_columns(
            pl.lit(None, pl.String).alias("data_segments"),
            pl.lit(None, pl.Int64).alias("customers"),
            pl.lit(None, pl.Float64).alias("clv_total"),
            pl.lit(None, pl.Float64).alias("clv_mean"),
            pl.lit(None, pl.Boolean).alias("has_data"),
        )
        return out.select([pl.col(c).cast(d) for c, d in SEGMENTS_SCHEMA.items()]), extra
    if column not in segments.columns:
        raise DataError(
            f"{source}: no column {column!r}; expected the data segment names "
            f"(columns present: {', '.join(segments.columns) or '(none)'})"
        )

    picked = {
        name: next((a for a in ALIASES[name] if a in segments.columns), None) for name in ALIASES
    }

    def col(name: str, dtype: type[pl.DataType]) -> pl.Expr:
        src = picked[name]
        return pl.col(src).cast(dtype) if src else pl.lit(None, dtype)

    try:
        data = segments.select(
            pl.col(column).cast(pl.String).alias("data_segment"),
            col("customers", pl.Int64).alias("customers"),
            col("clv_total", pl.Float64).alias("clv_total"),
            col("clv_mean", pl.Float64).alias("clv_mean"),
        ).filter(pl.col("data_segment").is_not_null())
    except pl.exceptions.InvalidOperationError as exc:  # text counts, 1e35 customers, ...
        first = str(exc).strip().splitlines()[0]
        raise DataError(
            f"{source}: {first}; expected a whole-number customer count and numeric CLV columns"
        ) from None
    present = set(data["data_segment"].to_list())

    for s in cv.customer_segments:
        wanted = s.data_segments()
        if wanted:
            missing = [d for d in wanted if d not in present]
            if missing:
                issue(
                    "segment_without_data",
                    s.id,
                    f"maps to data segment(s) {', '.join(map(repr, missing))}, which the "
                    f"{source!r} table does not have",
                    data_segments=missing,
                )
        elif s.id not in present:
            issue(
                "segment_without_data",
                s.id,
                f"has no data behind it: no `data_segment:` and no segment {s.id!r} in the "
                f"{source!r} table",
                data_segments=[],
            )
    covered = set(mapping["data_segment"].to_list())
    for d in sorted(present - covered):
        r = data.filter(pl.col("data_segment") == d).row(0, named=True)
        extra.append(
            Issue(
                "data_segment_ignored",
                d,
                f"data segment {d!r} ({r['customers'] if r['customers'] is not None else '?'} "
                f"customers) is covered by no canvas customer segment (map it with "
                f"`data_segment:`)",
                None,
                {"customers": r["customers"], "clv_total": r["clv_total"]},
            )
        )

    joined = mapping.join(data, on="data_segment", how="inner")
    has_customers = picked["customers"] is not None
    has_total = picked["clv_total"] is not None
    agg = joined.group_by("segment").agg(
        pl.col("data_segment").unique().sort().str.join(", ").alias("data_segments"),
        pl.col("customers").sum().alias("customers"),
        pl.col("clv_total").sum().alias("clv_total"),
        ((pl.col("clv_mean") * pl.col("customers")).sum() / pl.col("customers").sum()).alias(
            "_clv_mean_w"
        ),
    )
    out = base.join(agg, on="segment", how="left").with_columns(
        pl.col("data_segments").is_not_null().alias("has_data"),
        (pl.col("customers") if has_customers else pl.lit(None, pl.Int64)).alias("customers"),
        (pl.col("clv_total") if has_total else pl.lit(None, pl.Float64)).alias("clv_total"),
    )
    clv_mean = (
        pl.col("clv_total") / pl.col("customers")
        if has_total and has_customers
        else pl.col("_clv_mean_w")
        if has_customers
        else pl.lit(None, pl.Float64)
    )
    out = out.with_columns(clv_mean.alias("clv_mean")).sort("_o")
    return out.select([pl.col(c).cast(d) for c, d in SEGMENTS_SCHEMA.items()]), extra


SEGMENT_KPIS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "segment": pl.String,
    "table": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "n": pl.Int64,
    "data_segments": pl.String,
}


def segment_kpis(loaded: LoadedCanvas, kpi_tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """KPIs per canvas segment, from KPI tables computed per data segment (``by: segment``).

    Rows of a KPI table with a ``segment`` and no ``period`` are mapped to canvas segments (via
    ``data_segment``, default the canvas id) and combined as the n-weighted mean of the values:
    exact for NPS, CSAT, CES, shares, means and ratios whose n is their denominator (churn,
    CAC); an approximation for medians (first response time).
    """
    mapping = pl.DataFrame(
        [
            {"canvas_segment": s.id, "segment": d}
            for s in loaded.canvas.customer_segments
            for d in (s.data_segments() or [s.id])
        ],
        schema={"canvas_segment": pl.String, "segment": pl.String},
    )
    parts = []
    for name, frame in kpi_tables.items():
        missing = {"segment", "metric", "value"} - set(frame.columns)
        if missing:
            raise DataError(
                f"{name}: not a KPI table (no column(s) {', '.join(sorted(missing))}); expected "
                "the table of a kpi rule with `by:`"
            )
        rows = frame.filter(pl.col("segment").is_not_null() & pl.col("value").is_not_null())
        if "period" in frame.columns:
            rows = rows.filter(pl.col("period").is_null())
        n = pl.col("n").cast(pl.Float64) if "n" in frame.columns else pl.lit(None, pl.Float64)
        rows = rows.select(
            pl.col("segment").cast(pl.String),
            pl.col("metric").cast(pl.String),
            pl.col("value").cast(pl.Float64),
            n.alias("n"),
        ).join(mapping, on="segment", how="inner")
        weighted = pl.col("n").is_not_null().all() & (pl.col("n").sum() > 0)
        parts.append(
            rows.group_by("canvas_segment", "metric")
            .agg(
                pl.when(weighted)
                .then((pl.col("value") * pl.col("n")).sum() / pl.col("n").sum())
                .otherwise(pl.col("value").mean())
                .alias("value"),
                pl.when(pl.col("n").is_not_null().any())
                .then(pl.col("n").sum())
                .cast(pl.Int64)
                .alias("n"),
                pl.col("segment").unique().sort().str.join(", ").alias("data_segments"),
            )
            .with_columns(pl.lit(name, pl.String).alias("table"))
        )
    if not parts:
        return pl.DataFrame(schema=SEGMENT_KPIS_SCHEMA)
    out = pl.concat(parts).rename({"canvas_segment": "segment"})
    return out.select([pl.col(c).cast(d) for c, d in SEGMENT_KPIS_SCHEMA.items()]).sort(
        "segment", "table", "metric"
    )
