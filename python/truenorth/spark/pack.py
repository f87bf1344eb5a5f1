"""A whole pack on Spark: datasets read as Spark frames, the per-customer rules distributed,
the small tables back in the local engine, one ``truenorth.Result`` for the usual reports.

Placement (decided per rule, in pack order, before anything runs):

- **distributed** — a ``clv``, ``segment``, ``condition`` or ``decision_table`` rule whose input
  tables are Spark tables (datasets, or tables written by distributed rules). What it writes is
  a Spark table, except a ``segment`` rule's per-segment aggregates (one row per segment:
  local).
- **local** — every other rule (KPIs, Kano, journeys, canvas, maturity, and the four above when
  they read a local table). The Spark tables it reads are collected to Polars (at most
  ``collect_limit`` rows each, else an error naming the rule and table); all local rules run in
  one local engine run, after the distributed ones.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from ..engine.binding import dataset_path
from . import models, segments
from ._arrow import arrow_schema
from .rules import ROW_WISE, one_rule_pack, run_rule
from .summary import summarize

DISTRIBUTED = ("clv", "segment", *ROW_WISE)
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)


@dataclass
class SparkRun:
    """A pack run on Spark: ``result`` (local tables, every finding, per-rule status: what
    the reporters write) and ``tables``, the distributed tables as Spark frames (write them
    with ``df.write.parquet(...)``); ``placement`` maps rule ids to ``spark`` or ``local``."""

    result: Any
    tables: dict[str, DataFrame]
    placement: dict[str, str] = field(default_factory=dict)


def read_dataset(spark: SparkSession, path: Path, options: dict[str, Any]) -> DataFrame:
    """A dataset path as a Spark frame: Delta (a folder with ``_delta_log``), Parquet (a file
    or a folder), CSV (header, inferred types, dates as dates) or JSON lines."""
    p = str(path)
    if path.is_dir() and (path / "_delta_log").exists():
        return spark.read.format("delta").load(p)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return (
            spark.read.option("header", "true")
            .option("inferSchema", "true")
            .option("preferDate", "true")
            .options(**{k: str(v) for k, v in options.items()})
            .csv(p)
        )
    if suffix in (".json", ".jsonl", ".ndjson"):
        return spark.read.json(p)
    return spark.read.parquet(p)


def _renamed(df: DataFrame, columns: dict[str, str]) -> DataFrame:
    for canonical, src in columns.items():
        if src in df.columns and src != canonical:
            df = df.withColumnRenamed(src, canonical)
    return df


def _horizon(value: Any, unit: str) -> tuple[int, str]:
    if isinstance(value, (int, float)):
        return int(value), unit
    m = _HORIZON.match(str(value))
    if not m:
        raise ValueError(f"horizon {value!r}: expected a number or '<n> days|weeks|months|years'")
    return int(float(m.group(1))), m.group(2).lower()


def run(
    pack: Any,
    *,
    spark: SparkSession | None = None,
    data: dict[str, DataFrame | str | Path] | None = None,
    params: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    collect_limit: int = 10_000_000,
) -> SparkRun:
    """Run ``pack`` (a path, a pack dict or a loaded ``truenorth.Engine``) on Spark; see the
    module docs for what runs where.

    ``params`` override pack params (with an Engine: the overrides it was loaded with).
    ``data`` maps dataset roles to Spark frames or paths (others are read from the pack's
    paths; both with :func:`read_dataset`; column mappings apply either way). ``resources`` hands fitted models
    to ``clv`` rules, as ``Engine.run``.

    Example::

        out = truenorth.spark.run("rules/clv.yaml", spark=spark)
        out.result.findings                       # every finding, as a local run's
        out.tables["customers"].write.parquet("s3://shop/customers/")
    """
    import truenorth

    t0 = time.perf_counter()
    spark = spark or SparkSession.builder.getOrCreate()
    if isinstance(pack, truenorth.Engine):
        engine = pack
        # the rule's own files: apply_rule compiles one-rule packs from them on the workers
        pack = [Path(f) for f in engine.pack.files]
    else:
        engine = truenorth.Engine.load(pack, params=params)
    compiled = engine.pack
    params = {k: v for k, v in (params or {}).items() if k in compiled.params} or None
    resources = dict(resources or {})
    sp: dict[str, DataFrame] = {}
    for role, ds in compiled.datasets.items():
        if data and role in data:
            given = data[role]
            df = (
                given
                if isinstance(given, DataFrame)
                else read_dataset(spark, Path(given), dict(ds.spec.options or {}))
            )
        elif ds.spec.path is not None:
            df = read_dataset(
                spark, dataset_path(ds, engine.data_root), dict(ds.spec.options or {})
            )
        else:
            continue
        sp[role] = _renamed(df, dict(ds.spec.columns or {}))
    placement: dict[str, str] = {}
    spark_tables = set(sp)
    for crule in compiled.rules:
        here = crule.kind.name in DISTRIBUTED and all(t in spark_tables for t in crule.reads)
        # the distributed clv fits no covariates (static or time-varying): such a rule runs
        # locally on the collected tables rather than silently without them
        here = here and getattr(crule.rule.options, "covariates", None) is None
        placement[crule.id] = "spark" if here else "local"
        for t in crule.writes:
            if here and not (crule.kind.name == "segment" and t == crule.rule.options.into):
                spark_tables.add(t)
            else:
                spark_tables.discard(t)
    runs: dict[str, Any] = {}
    found: dict[str, pl.DataFrame] = {}
    local_tables: dict[str, pl.DataFrame] = {}
    for crule in compiled.rules:
        if placement[crule.id] != "spark":
            continue
        t1 = time.perf_counter()
        kind = crule.kind.name
        if kind == "clv":
            written, fs = _clv(crule, sp, resources.get(crule.id))
        elif kind == "segment":
            written, small = _segment(crule, sp)
            local_tables.update(small)
            fs = None
        else:
            mini = one_rule_pack(pack, crule.id)
            out = run_rule(mini, crule, sp[str(crule.rule.on)], params)
            written = {next(iter(crule.writes)): out.table} if out.table is not None else {}
            fs = pl.from_arrow(out.findings.toArrow())
        # later rules (and the collects of local rules) read these tables: keep them instead
        # of recomputing the summary and scores for every reader
        sp.update({k: v.persist(StorageLevel.MEMORY_AND_DISK) for k, v in written.items()})
        if fs is not None and fs.height:
            found[crule.id] = fs.select(list(truenorth.FINDINGS_SCHEMA)).cast(
                truenorth.FINDINGS_SCHEMA
            )
        runs[crule.id] = truenorth.RuleRun(
            id=crule.id,
            kind=kind,
            status="ok",
            seconds=time.perf_counter() - t1,
            findings=0 if fs is None else fs.height,
            tables=list(crule.writes),
            location=str(crule.rule.location) if crule.rule.location else None,
            description=crule.description,
        )
    local_ids = [r.id for r in compiled.rules if placement[r.id] == "local"]
    if local_ids:
        reads = {t for r in compiled.rules if r.id in local_ids for t in r.reads}
        inputs = {k: v for k, v in local_tables.items() if k in reads}
        for name, df in sp.items():
            if name in reads:
                inputs[name] = _collected(df, name, collect_limit, local_ids, compiled)
            elif name in compiled.datasets:  # keep the engine from reading its path itself
                empty = pl.from_arrow(arrow_schema(df.schema).empty_table())
                assert isinstance(empty, pl.DataFrame)
                inputs[name] = empty
        res = engine.run(data=inputs, only=local_ids, resources=resources)
        for rr in res.rules:
            runs[rr.id] = rr
            part = res.findings.filter(pl.col("rule_id") == rr.id)
            if part.height:
                found[rr.id] = part
        local_tables.update(res.tables)
    order = [r.id for r in compiled.rules]
    frames = [found[i] for i in order if i in found]
    findings = pl.concat(frames) if frames else pl.DataFrame(schema=truenorth.FINDINGS_SCHEMA)
    result = truenorth.Result(
        pack=compiled.name,
        params=dict(compiled.params),
        tables={k: v for k, v in local_tables.items() if k not in spark_tables},
        findings=findings,
        rules=[runs[i] for i in order],
        seconds=time.perf_counter() - t0,
        files=list(compiled.files),
    )
    return SparkRun(result, {k: v for k, v in sp.items() if k in spark_tables}, placement)


def write_tables(run: SparkRun, folder: Path) -> list[Path]:
    """The distributed tables as Parquet folders ``folder/<table>/`` (written by Spark)."""
    out = []
    for name, df in run.tables.items():
        target = Path(folder) / name
        df.write.mode("overwrite").parquet(str(target))
        out.append(target)
    return out


def _collected(
    df: DataFrame, name: str, limit: int, users: list[str], compiled: Any
) -> pl.DataFrame:
    n = df.count()
    if n > limit:
        who = [r.id for r in compiled.rules if r.id in users and name in r.reads]
        raise ValueError(
            f"table {name!r} has {n} rows, more than collect_limit={limit}, and local rule(s) "
            f"{', '.join(who)} read it; raise collect_limit or move the rule to a smaller table"
        )
    out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out


def _finding(crule: Any, subject: str, message: str, severity: str, evidence: str) -> dict:
    rule = crule.rule
    return {
        "rule_id": rule.id,
        "kind": "clv",
        "severity": severity,
        "subject": subject,
        "message": message,
        "value": None,
        "threshold": None,
        "evidence": evidence,
        "action": rule.action,
        "location": str(rule.location) if rule.location else None,
    }


def _clv(crule: Any, sp: dict[str, DataFrame], given: Any) -> tuple[dict[str, DataFrame], Any]:
    """A ``clv`` rule distributed: summaries and scores in Spark, fits on the driver."""
    import json

    import truenorth
    from truenorth import clv

    rule, opts = crule.rule, crule.rule.options
    if opts.interval is not None and opts.interval_method == "bootstrap":
        raise ValueError(
            f"rule {rule.id!r}: interval_method bootstrap refits on resampled customers and is "
            "not distributed; use interval_method: delta or normal on Spark"
        )
    src = rule.on or opts.source
    summaries = summarize(
        sp[src],
        customer=opts.customer,
        time=opts.time,
        amount=opts.amount,
        period=opts.period,
        unit=opts.unit,
        observation_end=opts.observation_end,
        when=rule.when,
    ).cache()
    rows: list[dict] = []
    given = given if isinstance(given, dict) else {"purchase": given} if given else {}

    def fitted(kind: str, role: str, path: str | None) -> Any:
        if given.get(role) is not None:
            return given[role]
        if path:
            return clv.load(Path(crule.base_dir, path).read_text(encoding="utf-8"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = models.fit(summaries, kind, time_unit=opts.unit)
        for w in caught:
            if not issubclass(w.category, clv.ConvergenceWarning):
                rows.append(
                    _finding(
                        crule,
                        kind,
                        f"{kind}: {w.message}",
                        "warn",
                        json.dumps({"warning": w.category.__name__}),
                    )
                )
        if getattr(m, "converged", True) is False:
            rows.append(
                _finding(
                    crule,
                    kind,
                    f"{kind} fit did not converge; predictions may be unreliable",
                    "warn",
                    json.dumps({"n_iterations": m.n_iterations}),
                )
            )
        return m

    if opts.model == "auto":
        # the backtest splits the transaction log and refits four models: not built on Spark
        from truenorth.errors import UsageError

        raise UsageError(
            f"rule {crule.id!r}: model: auto is not supported with --engine spark; name the "
            "purchase model (e.g. --set purchase_model=bg_nbd with the bundled packs)"
        )
    model = fitted(opts.model, "purchase", opts.model_path)
    spend = None
    if opts.spend:
        # as the local rule: repeat customers with non-positive mean spend are left out of the
        # spend fit (``patterns`` drops them) and said so
        from pyspark.sql import functions as F

        counts = summaries.agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(((F.col("frequency") > 0) & (F.col("monetary_value") <= 0)).cast("long")),
        ).first()
        assert counts is not None
        n_all, n_bad = int(counts[0]), int(counts[1] or 0)
        if n_bad:
            row = _finding(
                crule,
                str(opts.spend),
                f"{n_bad} repeat customer(s) with non-positive mean spend (refunds, free "
                "orders) left out of the Gamma-Gamma fit; their expected_spend is the "
                "fitted model's for a mean spend of 0",
                "info",
                json.dumps({"customers": n_all, "excluded": n_bad}, sort_keys=True),
            )
            rows.append({**row, "value": float(n_bad)})
        spend = fitted(opts.spend, "spend", opts.spend_model_path)
    horizon, unit = _horizon(opts.horizon, opts.horizon_unit)
    scored = models.score(
        summaries,
        model,
        spend,
        horizon=horizon,
        horizon_unit=unit,
        discount_rate=opts.discount_rate,
        interval=opts.interval,
        draws=opts.draws,
        seed=opts.seed,
        method=opts.interval_method,
    )
    fs = pl.DataFrame(rows, schema=truenorth.FINDINGS_SCHEMA) if rows else None
    return {opts.into: scored}, fs


def _segment(crule: Any, sp: dict[str, DataFrame]) -> tuple[dict[str, DataFrame], dict]:
    """A ``segment`` rule distributed: exact scores in Spark, aggregates local."""
    rule, opts = crule.rule, crule.rule.options
    src = rule.on or opts.source
    customers = sp[src]
    if opts.method == "rfm":
        scored = segments.rfm(customers, bins=opts.bins)
        by = "segment"
        agg = segments.aggregate(scored, by=by)
    else:
        tiers = list((opts.tiers or {"top": 0.1, "high": 0.4, "rest": 0.5}).items())
        scored = segments.clv_tiers(customers, column=opts.column, tiers=tiers)
        by = "clv_tier"
        agg = segments.aggregate(scored, by=by)
        names = [t[0] for t in tiers]
        agg = agg.with_columns(pl.col(by).cast(pl.Enum(names))).sort(by)
    return {src: scored}, {opts.into: agg}
