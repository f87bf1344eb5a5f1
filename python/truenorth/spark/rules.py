"""A pack's row-wise rules (``condition``, ``decision_table``) on a Spark table: each Arrow
batch runs through the local engine, compiled once per worker from a one-rule pack, so the
conditions are the engine's own compiled Polars expressions and findings and output columns
are exactly a local run's."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ._arrow import arrow_schema, per_batch, spark_schema

#: kinds whose output on a table is the union of their outputs on its parts
ROW_WISE = ("condition", "decision_table")


@dataclass
class RuleOutput:
    """What a distributed rule produced: the table it wrote (or None) and its findings."""

    table: DataFrame | None
    findings: DataFrame


def _pack_files(pack: Any) -> list[dict[str, Any]]:
    if isinstance(pack, dict):
        return [pack]
    files: list[Path] = []
    for item in pack if isinstance(pack, list) else [pack]:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            files.append(path)
    import truenorth

    # the pack loader's own YAML reading (``on:`` is a key, not YAML 1.1's boolean)
    docs = [truenorth.load_yaml(p).value for p in files]
    return [d for d in docs if isinstance(d, dict) and "truenorth" in d]


def one_rule_pack(pack: Any, rule_id: str) -> dict[str, Any]:
    """A pack dict holding only rule ``rule_id`` of ``pack`` (path or dict) and the params."""
    docs = _pack_files(pack)
    params: dict[str, Any] = {}
    found = None
    for d in docs:
        params.update(d.get("params") or {})
        for r in d.get("rules") or []:
            if isinstance(r, dict) and r.get("id") == rule_id:
                found = r
    if found is None:
        raise ValueError(f"no rule {rule_id!r} in the pack")
    out: dict[str, Any] = {"truenorth": 1, "pack": docs[0].get("pack", "pack"), "rules": [found]}
    if params:
        out["params"] = params
    return out


@functools.lru_cache(maxsize=16)
def _engine(doc: str, params: str) -> Any:
    """The one-rule engine, compiled once per worker process."""
    import truenorth

    return truenorth.Engine.load(json.loads(doc), params=json.loads(params) or None)


def _run_local(doc: str, params: str, on: str, frame: pl.DataFrame) -> Any:
    res = _engine(doc, params).run(data={on: frame})
    rr = res.rules[0]
    if rr.status == "error":
        raise RuntimeError(f"rule {rr.id!r} ({rr.kind}): {rr.error}")
    return res


def apply_rule(
    pack: Any, rule_id: str, table: DataFrame, *, params: dict[str, Any] | None = None
) -> RuleOutput:
    """Run the ``condition`` or ``decision_table`` rule ``rule_id`` of ``pack`` (a path, a
    list of pack files, or a pack dict) on the Spark table ``table`` (the rule's ``on:`` table), batch by batch.

    Findings are those of a local run (the rule's ``location`` included); their order is
    Spark's. A condition's ``limit:`` keeps ``limit`` matching rows, not necessarily the
    first ones in a local table's order. A ``decision_table`` with ``report_unmatched`` reports
    its unmatched rows by running the rule locally on them (they are collected: usually few).

    Example::

        out = truenorth.spark.apply_rule("rules/clv.yaml", "next-best-action", customers)
        out.table.write.parquet("s3://shop/customers-with-actions/")
    """
    import truenorth

    mini = one_rule_pack(pack, rule_id)
    full = truenorth.Engine.load(pack, params=params)
    crule = next((r for r in full.rules if r.id == rule_id), None)
    if crule is None:
        raise ValueError(f"no rule {rule_id!r} in pack {full.name!r}")
    return run_rule(mini, crule, table, params)


def run_rule(
    mini: dict[str, Any], crule: Any, table: DataFrame, params: dict[str, Any] | None
) -> RuleOutput:
    """:func:`apply_rule` with the one-rule pack and the driver's compiled rule at hand."""
    import truenorth

    rule_id = crule.id
    kind = crule.kind.name
    if kind not in ROW_WISE:
        raise ValueError(f"rule {rule_id!r} is a {kind!r} rule; distributed: {', '.join(ROW_WISE)}")
    rule = crule.rule
    on = rule.on
    doc, ps = json.dumps(mini, default=str), json.dumps(params or {}, default=str)
    location = str(rule.location) if rule.location else None
    empty = pl.from_arrow(arrow_schema(table.schema).empty_table())
    assert isinstance(empty, pl.DataFrame)
    probe = _run_local(doc, ps, on, empty)
    spark = table.sparkSession
    findings_schema = spark_schema(pl.Schema(truenorth.FINDINGS_SCHEMA))
    f_arrow = arrow_schema(findings_schema)
    if kind == "condition":

        def work(frame: pl.DataFrame) -> pl.DataFrame:
            return _run_local(doc, ps, on, frame).findings

        found = table.mapInArrow(per_batch(work, f_arrow), findings_schema)
        found = found.withColumn("location", F.lit(location).cast("string"))
        limit = getattr(rule.options, "limit", None)
        return RuleOutput(None, found.limit(limit) if limit else found)
    target = next(iter(probe.tables))
    out_schema = spark_schema(probe.tables[target].schema)
    o_arrow = arrow_schema(out_schema)

    def decide(frame: pl.DataFrame) -> pl.DataFrame:
        return _run_local(doc, ps, on, frame).tables[target]

    out = table.mapInArrow(per_batch(decide, o_arrow), out_schema)
    opts = rule.options
    findings = spark.createDataFrame([], findings_schema)
    if opts.report_unmatched and not opts.default:
        row_col = f"{rule_id}_row"
        miss = F.col(row_col).isNull() if opts.hit_policy == "first" else F.size(row_col) == 0
        unmatched = pl.from_arrow(out.filter(miss).select(*table.columns).toArrow())
        assert isinstance(unmatched, pl.DataFrame)
        if unmatched.height:
            local = _run_local(doc, ps, on, unmatched).findings
            local = local.with_columns(pl.lit(location, pl.String).alias("location"))
            findings = spark.createDataFrame(local.to_arrow().cast(f_arrow))
    return RuleOutput(out, findings)
