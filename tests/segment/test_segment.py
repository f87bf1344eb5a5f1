"""truenorth.segment: RFM scores and segments, CLV tiers, and the Rust one-pass aggregation
checked against a pure-Polars group_by."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.stats import rankdata

from truenorth.segment import SEGMENT_GRID, aggregate, clv_tiers, rfm


def _summary(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.uniform(1, 52, n).round(2)
    return pl.DataFrame(
        {
            "id": np.arange(n),
            "frequency": rng.poisson(2, n),
            "recency": (T * rng.uniform(0, 1, n)).round(2),
            "T": T,
            "monetary_value": rng.gamma(2, 20, n).round(2),
        }
    )


def test_scores_match_pandas_qcut_on_distinct_values() -> None:
    jitter = pl.int_range(pl.len()) * 1e-6  # distinct values: qcut and rank bins coincide
    df = _summary(1000, 1).with_columns(
        pl.col("monetary_value") + jitter, pl.col("recency") + jitter
    )
    out = rfm(df)
    expected = pd.qcut(df["monetary_value"].to_pandas(), 5, labels=[1, 2, 3, 4, 5]).astype(int)
    assert out["m_score"].to_list() == expected.tolist()
    # recency: time since the last purchase, reversed (smallest gap = 5)
    gap = (df["T"] - df["recency"]).to_numpy()
    assert len(np.unique(gap)) == len(gap)
    exp_r = pd.qcut(-gap, 5, labels=[1, 2, 3, 4, 5]).astype(int)
    assert out["r_score"].to_list() == list(exp_r)


def test_scores_with_ties_follow_min_rank_rule_and_ignore_row_order() -> None:
    df = _summary(997, 2)
    out = rfm(df, bins=4)
    f = df["frequency"].to_numpy()
    expected = 1 + (4 * (rankdata(f, method="min").astype(int) - 1)) // len(f)
    assert out["f_score"].to_list() == expected.tolist()
    # equal values share a score
    assert out.group_by("frequency").agg(pl.col("f_score").n_unique())["f_score"].max() == 1
    shuffled = rfm(df.sample(fraction=1.0, shuffle=True, seed=3)).sort("id")
    assert_frame_equal(shuffled, rfm(df).sort("id"))


def test_hand_computed_rfm() -> None:
    df = pl.DataFrame(
        {
            "recency": [9.0, 1.0, 5.0, 0.0, 9.0],
            "T": [10.0, 10.0, 10.0, 10.0, 10.0],
            "frequency": [8, 1, 3, 0, 8],
            "monetary_value": [50.0, 10.0, 20.0, 0.0, 40.0],
        }
    )
    out = rfm(df)
    # gaps 1, 9, 5, 10, 1 -> r scores 4, 2, 3, 1, 4 (the two gap-1 customers tie at min rank 4)
    assert out["r_score"].to_list() == [4, 2, 3, 1, 4]
    assert out["f_score"].to_list() == [4, 2, 3, 1, 4]
    assert out["m_score"].to_list() == [5, 2, 3, 1, 4]
    assert out["rfm_score"].to_list() == ["445", "222", "333", "111", "444"]
    assert out["segment"].to_list() == ["loyal", "hibernating", "need_attention", "lost", "loyal"]
    # classic RFM tables: recency already is the time since the last purchase
    classic = rfm(df.with_columns((pl.col("T") - pl.col("recency")).alias("recency")), age=None)
    assert classic["r_score"].to_list() == out["r_score"].to_list()


def test_segment_grid_covers_every_cell_once() -> None:
    cells = [(r, f) for rs, fs, _ in SEGMENT_GRID for r in rs for f in fs]
    assert sorted(cells) == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    names = {name for *_, name in SEGMENT_GRID}
    assert names == {
        "champions",
        "loyal",
        "potential_loyalist",
        "new",
        "promising",
        "need_attention",
        "about_to_sleep",
        "at_risk",
        "cannot_lose",
        "hibernating",
        "lost",
    }


def test_segments_on_a_grid_of_scores() -> None:
    # customers placed on exact quintiles of R and F: each (R, F) cell gets its grid name
    rows = []
    for r in range(1, 6):
        for f in range(1, 6):
            rows.append({"gap": float(10 - r), "frequency": f, "monetary_value": 1.0})
    df = pl.DataFrame(rows)
    out = rfm(df.rename({"gap": "recency"}), age=None, recency="recency")
    # recency here is the gap: invert so R score r corresponds to gap 10 - r
    lookup = {(r, f): name for rs, fs, name in SEGMENT_GRID for r in rs for f in fs}
    for row in out.iter_rows(named=True):
        assert row["segment"] == lookup[(row["r_score"], row["f_score"])]
    assert (
        out.filter((pl.col("r_score") == 5) & (pl.col("f_score") == 5))["segment"][0] == "champions"
    )
    assert (
        out.filter((pl.col("r_score") == 1) & (pl.col("f_score") == 5))["segment"][0]
        == "cannot_lose"
    )


def test_other_bin_counts_rescale_to_the_grid() -> None:
    out = rfm(_summary(300, 4), bins=3)
    assert set(out["r_score"].unique().to_list()) <= {1, 2, 3}
    # score 3 of 3 -> 5 on the grid, 1 -> 2 (ceil(5/3)), 2 -> 4 (ceil(10/3))
    top = out.filter((pl.col("r_score") == 3) & (pl.col("f_score") == 3))
    assert (top["segment"] == "champions").all()
    assert out["segment"].null_count() == 0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"bins": 1}, "bins must be an integer from 2 to 9"),
        ({"monetary": "spend"}, r"column 'spend' \(monetary value\) not found"),
    ],
)
def test_rfm_bad_arguments(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        rfm(_summary(10, 0), **kwargs)


def test_rfm_rejects_null_and_nan() -> None:
    df = _summary(10, 0).with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(None)
        .otherwise(pl.col("recency"))
        .alias("recency")
    )
    with pytest.raises(ValueError, match=r"column 'recency' \(recency\): null at row 4"):
        rfm(df)
    df = _summary(10, 0).with_columns(pl.lit(float("nan")).alias("monetary_value"))
    with pytest.raises(
        ValueError, match=r"column 'monetary_value' .*non-finite value nan at row 1"
    ):
        rfm(df)


def test_clv_tiers_sizes_and_ties() -> None:
    df = pl.DataFrame({"clv": np.random.default_rng(5).permutation(1000).astype(float)})
    out = clv_tiers(df)
    counts = dict(out["clv_tier"].value_counts().iter_rows())
    assert counts == {"top": 100, "high": 400, "rest": 500}
    assert out.filter(pl.col("clv_tier") == "top")["clv"].min() == 900.0
    assert out.schema["clv_tier"] == pl.Enum(["top", "high", "rest"])
    ties = clv_tiers(
        pl.DataFrame({"clv": [5.0, 5.0, 5.0, 1.0, 0.0]}), tiers=(("a", 0.2), ("b", 0.8))
    )
    assert ties["clv_tier"].to_list() == ["a", "a", "a", "b", "b"]


def test_clv_tiers_bad_shares() -> None:
    with pytest.raises(ValueError, match="shares must be positive and sum to 1"):
        clv_tiers(pl.DataFrame({"clv": [1.0]}), tiers=(("a", 0.5), ("b", 0.6)))
    with pytest.raises(ValueError, match=r"column 'value' \(CLV\) not found"):
        clv_tiers(pl.DataFrame({"clv": [1.0]}), column="value")


def _table(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    segs = np.array(["champions", "loyal", "lost", "new", "at_risk"])
    p_alive = rng.uniform(0, 1, n)
    return pl.DataFrame(
        {
            "segment": segs[rng.integers(0, len(segs), n)],
            "revenue": rng.gamma(2, 50, n).round(2),
            "clv": rng.gamma(2, 80, n),
            "p_alive": pl.Series(p_alive).set(pl.Series(rng.uniform(0, 1, n) < 0.1), None),
            "frequency": rng.poisson(3, n),
        }
    )


def _polars_aggregate(df: pl.DataFrame, by: str) -> pl.DataFrame:
    return (
        df.group_by(by)
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            (pl.len() / df.height).alias("customer_share"),
            pl.col("revenue").sum(),
            pl.col("clv").sum().alias("clv_total"),
            pl.col("clv").mean().alias("clv_mean"),
            (pl.col("clv").sum() / df["clv"].sum()).alias("clv_share"),
            pl.col("p_alive").mean().alias("p_alive_mean"),
            pl.col("frequency").mean().alias("frequency_mean"),
        )
        .sort(by)
    )


@pytest.mark.parametrize("key", ["string", "categorical", "int"])
def test_aggregate_equals_polars_group_by(key: str) -> None:
    df = _table(200_001, 6)
    if key == "categorical":
        df = df.with_columns(pl.col("segment").cast(pl.Categorical))
    elif key == "int":
        df = df.with_columns(pl.col("segment").rank("dense").cast(pl.Int32))
    out = aggregate(df)
    expected = _polars_aggregate(df, "segment")
    assert_frame_equal(out, expected, check_exact=False, rel_tol=1e-11)
    assert out["customers"].sum() == df.height


def test_aggregate_skips_missing_columns_and_handles_all_null_segment() -> None:
    df = pl.DataFrame(
        {"segment": ["a", "b", "a"], "frequency": [1, 2, 3], "p_alive": [None, None, 0.5]}
    )
    out = aggregate(df)
    assert out.columns == [
        "segment",
        "customers",
        "customer_share",
        "p_alive_mean",
        "frequency_mean",
    ]
    assert out["p_alive_mean"].to_list() == [0.5, None]
    assert out["frequency_mean"].to_list() == [2.0, 2.0]


def test_aggregate_on_rfm_output() -> None:
    out = aggregate(rfm(_summary(5000, 8)))
    assert set(out["segment"].to_list()) <= {name for *_, name in SEGMENT_GRID}
    assert out["customer_share"].sum() == pytest.approx(1.0)


def test_aggregate_errors() -> None:
    with pytest.raises(ValueError, match=r"column 'tier' \(segment\) not found"):
        aggregate(pl.DataFrame({"segment": ["a"]}), by="tier")
    with pytest.raises(ValueError, match=r"column 'segment': null segment at row 2"):
        aggregate(pl.DataFrame({"segment": ["a", None], "clv": [1.0, 2.0]}))
    with pytest.raises(ValueError, match=r"column 'clv': non-finite value inf at row 2"):
        aggregate(pl.DataFrame({"segment": ["a", "b"], "clv": [1.0, float("inf")]}))
    with pytest.raises(ValueError, match=r"column 'clv' \(clv\): expected numbers"):
        aggregate(pl.DataFrame({"segment": ["a"], "clv": ["x"]}))
    with pytest.raises(ValueError, match="empty"):
        aggregate(
            pl.DataFrame(
                {"segment": [], "clv": []}, schema={"segment": pl.String, "clv": pl.Float64}
            )
        )
