"""Results larger than the memory budget: ``summarize(..., output=...)`` writes the summary to
Parquet (range by range when it spilled) and returns a scan of it; ``clv.patterns`` and
``clv.score`` fit and score that scan without holding it. Everything equals the in-memory
path exactly; without ``output`` a result larger than the budget warns how to bound it.

Small logs are forced through the spill by lowering the 32 MiB floor of budgets; the limit
test runs a log whose summary is several times its budget in a subprocess and checks its peak
RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from truenorth import clv
from truenorth.clv import MemoryBudgetWarning, _budget, memory_limit, scoring, summarize
from truenorth.clv._units import summary_unit


def _log(n: int, n_cust: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "c": rng.integers(0, n_cust, n) * 7 + 3,
            "t": pl.Series(rng.integers(0, 700, n), dtype=pl.Int32).cast(pl.Date),
            "a": np.round(rng.normal(20, 10, n), 2),
        }
    ).with_columns(pl.col("t") + pl.duration(days=18_000))


@pytest.fixture
def tiny_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_budget, "_MIN_BUDGET", 1)


KW = {"customer": "c", "time": "t", "amount": "a", "observation_end": date(2020, 1, 1)}
SHAPES = {
    "int": lambda df: df,
    "str": lambda df: df.with_columns(pl.format("cust-{}", "c").alias("c")),
    "categorical": lambda df: df.with_columns(pl.col("c").cast(pl.String).cast(pl.Categorical)),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_spilled_output_equals_in_memory(shape, tiny_floor, tmp_path, capsys) -> None:
    # 5,000 customers (~320 KB of summary) against a 200 KB budget: written in several ranges
    df = SHAPES[shape](_log(60_000, 5_000, seed=len(shape)))
    expected = summarize(df, **KW, period="1w", unit="1w")
    spill = tmp_path / "spill"
    spill.mkdir()
    out = tmp_path / "out" / "summary.parquet"
    with memory_limit(None, progress=True), warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)  # output given: no warning
        got = summarize(
            df.lazy(), **KW, period="1w", unit="1w", memory=200_000, spill_dir=spill, output=out
        )
    err = capsys.readouterr().err
    assert "spilling into" in err and f"writing the summary to {out}" in err
    assert isinstance(got, pl.LazyFrame)
    assert_frame_equal(got.collect(), expected, check_exact=True)
    assert summary_unit(got) == "1w"
    assert list(spill.iterdir()) == [] and [p.name for p in out.parent.iterdir()] == [out.name]


def test_output_of_a_summary_that_fits_is_written_too(tmp_path) -> None:
    df = _log(10_000, 1_000)
    out = tmp_path / "s.parquet"
    got = summarize(df.lazy(), **KW, memory="1GB", output=out)
    assert isinstance(got, pl.LazyFrame)
    assert_frame_equal(pl.read_parquet(out), summarize(df, **KW), check_exact=True)
    eager = summarize(df, **KW, output=tmp_path / "e.parquet")  # eager input, same file
    assert_frame_equal(eager.collect(), pl.read_parquet(out), check_exact=True)


def test_result_over_the_budget_without_output_warns(tiny_floor, tmp_path) -> None:
    df = _log(60_000, 5_000, seed=2)
    with pytest.warns(MemoryBudgetWarning, match=r"output='summary.parquet'") as caught:
        got = summarize(df.lazy(), **KW, memory=200_000, spill_dir=tmp_path)
    assert caught[0].filename == __file__  # it points at the caller's line
    assert_frame_equal(got, summarize(df, **KW), check_exact=True)


def test_a_failed_summary_leaves_no_output(tiny_floor, tmp_path) -> None:
    df = _log(20_000, 2_000).with_columns(
        pl.when(pl.int_range(pl.len()) == 12_345).then(None).otherwise(pl.col("a")).alias("a")
    )
    out = tmp_path / "s.parquet"
    with pytest.raises(ValueError, match="null amount at row 12346"):
        summarize(df.lazy(), **KW, memory=200_000, spill_dir=tmp_path, output=out)
    assert list(tmp_path.iterdir()) == []


def test_patterns_fit_and_score_equal_the_in_memory_path(tmp_path, monkeypatch) -> None:
    log = clv.simulate_bg_nbd_transactions(
        20_000, 0.25, 4.0, 0.8, 2.5, spend=(6.0, 4.0, 15.0), seed=3
    )
    kw = {"customer": "customer", "time": "time", "amount": "amount", "unit": "1w"}
    memory = summarize(log, **kw)
    lazy = summarize(log.lazy(), **kw, output=tmp_path / "s.parquet")
    pats = clv.patterns(lazy)
    assert pats.height < memory.height and pats["weights"].sum() == memory.height
    assert summary_unit(pats) == "1w"
    for kind in ("bg_nbd", "pareto_nbd"):
        cls = clv.models_registry()[kind]
        a, b = cls().fit(memory), cls().fit(clv.patterns(lazy, kind), "weights")
        assert a.params == b.params and a.time_unit == b.time_unit == "1w"
    repeat = memory.filter(pl.col("monetary_value") > 0)
    gg = clv.GammaGamma().fit(clv.patterns(lazy, "gamma_gamma"), "weights")
    assert gg.params == clv.GammaGamma().fit(repeat).params
    bg = clv.BetaGeo().fit(pats, "weights")

    monkeypatch.setattr(scoring, "_BATCH_ROWS", 3_000)  # several batches
    expected = clv.score(memory, bg, gg, horizon=6, interval=0.9)
    got = clv.score(lazy, bg, gg, horizon=6, interval=0.9, output=tmp_path / "o" / "p.parquet")
    assert isinstance(got, pl.LazyFrame)
    assert_frame_equal(got.collect(), expected, check_exact=True)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["p.parquet"]
    # the rule's columns, as the clv rule computes them
    assert {"p_alive", "expected_purchases", "expected_spend", "clv", "clv_upper"} <= set(
        expected.columns
    )
    assert_frame_equal(
        expected.select("expected_purchases"),
        bg.expected_purchases(memory, 6 * 30.4375 / 7).alias("expected_purchases").to_frame(),
    )


def test_patterns_name_a_missing_column() -> None:
    with pytest.raises(clv.ModelInputError, match=r"column\(s\) monetary_value missing"):
        clv.patterns(pl.LazyFrame({"frequency": [1], "recency": [1.0], "T": [2.0]}), "gamma_gamma")
    with pytest.raises(clv.ModelInputError, match="model 'nope'"):
        clv.patterns(pl.DataFrame({"frequency": [1]}), "nope")


# ------------------------------------------------------------------ subprocess: peak RSS

BUDGET = 64 * 10**6
# as in test_summary_spill: Polars' streaming engine (250-450 MiB on 2 cores, whatever the
# input's size) and the interpreter with Polars and truenorth loaded (~50 MiB)
OVERHEAD = 500 * 2**20
_RUN = textwrap.dedent(
    """
    import json, sys
    import polars as pl
    from truenorth import clv
    path, memory, out, spill = sys.argv[1:5]
    kw = dict(customer="c", time="t", amount="a", period="1w", unit="1w",
              observation_end="2021-06-01")
    with clv.memory_limit(memory, spill_dir=spill, progress=True):
        s = clv.summarize(pl.scan_parquet(path), **kw, output=out + "/summary.parquet")
    bg = clv.BetaGeo().fit(clv.patterns(s), "weights")
    clv.score(s, bg, output=out + "/scores.parquet")
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print(json.dumps({"peak": int(hwm.split()[1]) * 1024, "params": bg.params}))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status (VmHWM)")
def test_summary_fit_and_scores_larger_than_the_budget_stay_within_it(tmp_path) -> None:
    # 9M rows of 4.7M customers: a ~300 MB summary (and ~400 MB of scores) against 64 MB
    path = tmp_path / "log.parquet"
    df = _log(9_000_000, 6_000_000, seed=11)
    df.write_parquet(path, row_group_size=500_000)
    del df
    spill, out = tmp_path / "spill", tmp_path / "out"
    spill.mkdir()
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    res = subprocess.run(
        [sys.executable, "-c", _RUN, str(path), str(BUDGET), str(out), str(spill)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "spilling into" in res.stderr and "MemoryBudgetWarning" not in res.stderr
    got = json.loads(res.stdout)
    summary = pl.read_parquet(out / "summary.parquet")
    print(
        f"peak RSS {got['peak'] / 2**20:.0f} MiB, summary {summary.estimated_size() / 1e6:.0f} MB"
    )
    assert summary.estimated_size() > 4 * BUDGET  # the result alone is well over the budget
    expected = summarize(pl.scan_parquet(path), customer="c", time="t", amount="a",
                         period="1w", unit="1w", observation_end="2021-06-01",
                         memory="16GB")  # fmt: skip
    assert_frame_equal(summary, expected, check_exact=True)
    bg = clv.BetaGeo().fit(expected)
    assert got["params"] == bg.params
    assert_frame_equal(
        pl.read_parquet(out / "scores.parquet"), clv.score(expected, bg), check_exact=True
    )
    assert list(spill.iterdir()) == []
    assert got["peak"] < BUDGET + OVERHEAD
