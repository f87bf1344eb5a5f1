"""truenorth.spark against the local engine on the same data: every output compared.

One Spark session for the module (tests/spark/conftest.py); few, small datasets.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import truenorth
import truenorth.spark as tns
from truenorth import clv, segment

# PySpark 4.x warns about pandas 3 on import of its Arrow helpers; truenorth passes Arrow only
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules" / "clv.yaml"


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    # string ids (the common case in exports) and timestamps within the day
    t = clv.simulate_bg_nbd_transactions(
        1200, r=0.5, alpha=5, a=0.7, b=2.5, seed=3, spend=(6.0, 4.0, 15.0)
    )
    return t.with_columns(pl.format("c{}", pl.col("customer")).alias("customer"))


def _local(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """A Spark result as Polars, sorted by ``key``, timestamps back to naive UTC."""
    out = df.sort(key)
    return out.with_columns(
        pl.col(c).dt.replace_time_zone(None)
        for c, d in out.schema.items()
        if isinstance(d, pl.Datetime) and d.time_zone
    )


def _collect(sdf, key: str) -> pl.DataFrame:
    return _local(pl.from_arrow(sdf.toArrow()), key)  # type: ignore[arg-type]


def test_summaries_fits_and_scores_equal_local(spark, log):
    sdf = spark.createDataFrame(log.to_arrow())
    opts = {"customer": "customer", "time": "time", "amount": "amount", "unit": "1w"}
    summaries = tns.summarize(sdf, **opts).cache()
    local = clv.summarize(log, **opts)
    assert_frame_equal(_collect(summaries, "customer"), local)
    assert tns.summary_unit(summaries) == "1w"
    cal = datetime(2024, 9, 1)
    assert_frame_equal(
        _collect(tns.summarize(sdf, **opts, calibration_end=cal, partitions=2), "customer"),
        clv.summarize(log, **opts, calibration_end=cal),
    )

    model = tns.fit(summaries, "bg_nbd")
    spend = tns.fit(summaries, "gamma_gamma")
    local_model = clv.BetaGeo().fit(local)
    local_spend = clv.GammaGamma().fit(local)
    for got, want in ((model, local_model), (spend, local_spend)):
        assert got.time_unit == want.time_unit == "1w"
        assert got.n_patterns == want.n_patterns
        assert got.log_likelihood == pytest.approx(want.log_likelihood, rel=1e-12)
        for name, v in want.params.items():
            assert got.params[name] == pytest.approx(v, rel=1e-8), name

    band = {"interval": 0.9, "draws": 40, "seed": 7}
    scored = _collect(tns.score(summaries, model, spend, horizon=6, **band), "customer")
    es = local_spend.expected_spend(local).alias("expected_spend")
    want = local.with_columns(
        *local_model.p_alive(local, **band).get_columns(),
        local_model.expected_purchases(local, 6 * 365.25 / 12 / 7).alias("expected_purchases"),
        es,
        *clv.lifetime_value(local_model, es, local, horizon=6, **band).get_columns(),
    )
    assert_frame_equal(scored, want.select(scored.columns), check_exact=False, rel_tol=1e-12)

    # more patterns than the driver limit: the likelihood is summed over Spark partitions
    pareto = clv.ParetoNBD().fit(local)
    for want in (local_model, pareto, local_spend):
        got = tns.fit(summaries, want.kind, max_patterns=5)
        assert got.converged and got.n_patterns == want.n_patterns > 5
        assert got.n_observations == want.n_observations
        assert got.log_likelihood == pytest.approx(want.log_likelihood, rel=1e-10)
        for name, v in want.params.items():
            assert got.params[name] == pytest.approx(v, rel=1e-8), (want.kind, name)
            assert got.standard_errors[name] == pytest.approx(want.standard_errors[name], rel=1e-5)
    summaries.unpersist()


def test_segments_equal_local(spark, log):
    local = clv.summarize(log, customer="customer", time="time", amount="amount", unit="1w")
    m = clv.BetaGeo().fit(local)
    customers = local.with_columns(m.p_alive(local), clv=pl.col("revenue") * m.p_alive(local))
    sdf = spark.createDataFrame(customers.to_arrow()).cache()
    got = _collect(tns.rfm(sdf, bins=4), "customer")  # 4: the grid's rescaling too
    assert_frame_equal(got, segment.rfm(customers, bins=4), check_dtypes=False)
    tiers = [("vip", 0.1), ("core", 0.4), ("occasional", 0.5)]
    tiered = tns.clv_tiers(sdf, tiers=tiers)
    want = segment.clv_tiers(customers, tiers=tiers)
    assert_frame_equal(
        _collect(tiered, "customer"),
        want.with_columns(pl.col("clv_tier").cast(pl.String)),
    )
    agg = tns.aggregate(tiered, by="clv_tier").with_columns(
        pl.col("clv_tier").cast(pl.Enum([t[0] for t in tiers]))
    )
    assert_frame_equal(
        agg.sort("clv_tier"),
        segment.aggregate(want, by="clv_tier").sort("clv_tier"),
        check_exact=False,
        rel_tol=1e-12,
        check_dtypes=False,
    )
    # exact order statistics whatever the bracketing sketch returns
    ranks = [1, 7, 600, customers.height]
    got = tns.order_statistics(sdf, ["clv", "T"], ranks, customers.height)
    assert got == {c: [customers[c].sort()[k - 1] for k in ranks] for c in ("clv", "T")}
    sdf.unpersist()


def test_pack_run_on_spark_equals_local_run(spark, tmp_path):
    """rules/clv.yaml through `truenorth run --engine spark` and the local engine: same
    findings, same small tables, and the customer table (written by Spark) equal."""
    from truenorth.cli import main

    log = pl.read_csv(ROOT / "rules/data/transactions.csv", try_parse_dates=True)
    small = tmp_path / "transactions.csv"
    log.filter(pl.col("customer_id") <= 1500).write_csv(small)
    outs = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        # model: auto (the bundled default) runs locally only: name the model on both sides
        args = ["--engine", engine, "--data", f"transactions={small}", "--out", str(out)]
        args += ["--set", "purchase_model=bg_nbd"]
        code = main(["run", str(PACK), *args, "--format", "json,tables", "-q"])
        assert code == 0
        outs[engine] = out / "customer-value-review"
    reports = {k: json.loads((v / "report.json").read_text()) for k, v in outs.items()}
    key = ("rule", "subject", "message")

    def flat(f):
        # evidence flattened into "e.<key>" so approx can compare it; lists and nested dicts
        # as JSON (compared exactly)
        ev = f.get("evidence") or {}
        return {k: v for k, v in f.items() if k != "evidence"} | {
            f"e.{k}": json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in ev.items()
        }

    def findings(report):
        return sorted(
            (flat(f) for f in report["findings"]),
            key=lambda f: tuple(str(f.get(k)) for k in key),
        )

    # same findings, messages and subjects exactly; numbers to 1e-12: a KPI averaging the
    # customers' CLV sums them in the partitions' order on Spark, so its last bit may differ
    spark_findings, local_findings = findings(reports["spark"]), findings(reports["local"])
    assert len(spark_findings) == len(local_findings)
    for got, want in zip(spark_findings, local_findings, strict=True):
        assert got.keys() == want.keys(), (got, want)
        for k, w in want.items():
            if isinstance(w, float) and isinstance(got[k], float):
                assert math.isclose(got[k], w, rel_tol=1e-12), (k, got, want)
            else:
                assert got[k] == w, (k, got, want)
    assert len(reports["local"]["findings"]) > 10
    local_dir, spark_dir = outs["local"], outs["spark"]
    for name in ("segments", "kpi_cac", "kpi_clv_cac", "kpi_retention", "kpi_health"):
        a = pl.read_parquet(spark_dir / f"{name}.parquet")
        b = pl.read_parquet(local_dir / f"{name}.parquet")
        key_col = b.columns[0]
        assert_frame_equal(a.sort(key_col), b.sort(key_col), check_exact=False, rel_tol=1e-12)
    customers = pl.read_parquet(local_dir / "customers.parquet")
    got = _local(pl.read_parquet(spark_dir / "customers" / "*.parquet"), "customer")
    assert_frame_equal(
        got.select(customers.columns),
        customers.with_columns(pl.col("clv_tier").cast(pl.String)),
        check_exact=False,
        rel_tol=1e-12,
        check_dtypes=False,
    )


def test_bad_input_is_a_clear_error_and_import_stays_light(spark):
    sdf = spark.createDataFrame(
        pl.DataFrame(
            {"customer": [1, None], "time": [datetime(2024, 1, 1)] * 2, "amount": [1.0, 2.0]}
        ).to_arrow()
    )
    with pytest.raises(ValueError, match=r"column 'customer': 1 row\(s\) with null customer ids"):
        tns.summarize(sdf, customer="customer", time="time", amount="amount")
    with pytest.raises(ValueError, match="column 'when' not found"):
        tns.summarize(sdf, customer="customer", time="when")
    code = "import sys, truenorth; truenorth.Engine; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert truenorth.__name__ == "truenorth"


def test_a_truenorth_error_on_a_worker_reaches_the_driver_as_itself(spark):
    """A kernel that refuses a row on a worker (the distributed fit's partial sums) must read
    like the same refusal found locally, not as Spark's PythonException with a traceback."""
    from truenorth.clv import ModelInputError
    from truenorth.errors import DataError
    from truenorth.spark._arrow import worker_errors

    def refuse(kind):
        def run(batches):
            for b in batches:
                if b.num_rows:
                    raise kind("summary: column 'T' is negative in row 3 (expected T >= 0)")
                yield b

        return run

    sdf = spark.range(4)
    for kind in (ModelInputError, DataError):
        with pytest.raises(
            kind,
            match=r"^on a Spark worker: summary: column 'T' is negative in row 3 \(expected T >= 0\)$",
        ):
            with worker_errors():
                sdf.mapInArrow(refuse(kind), sdf.schema).collect()
    # any other failure stays Spark's, with the worker's traceback
    from pyspark.errors import PythonException

    with pytest.raises(PythonException, match="ZeroDivisionError"):
        with worker_errors():
            sdf.mapInArrow(refuse(ZeroDivisionError), sdf.schema).collect()


def test_a_clv_rule_with_covariates_runs_locally_under_spark(spark, tmp_path):
    """The distributed clv fits no covariates: rules/clv-dynamic.yaml (time-varying
    covariates) runs on the driver under --engine spark, with the local run's result."""
    from truenorth.cli import main

    pack = ROOT / "rules" / "clv-dynamic.yaml"
    outs = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        args = ["--engine", engine, "--out", str(out), "--format", "json,tables", "-q"]
        assert main(["run", str(pack), *args]) == 0
        outs[engine] = out / "customer-value-contacts"
    a, b = (pl.read_parquet(outs[e] / "customers_with_contacts.parquet") for e in outs)
    assert a.height == 400
    # written by the driver (one parquet file, not Spark's folder); Spark reads the ids as int32
    assert_frame_equal(
        _local(b, "customer"),
        a.sort("customer"),
        check_exact=False,
        rel_tol=1e-12,
        check_dtypes=False,
    )
