"""Bad covariates: each a clear error naming the column and row, never a NaN estimate."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from truenorth import clv
from truenorth.clv.covariates import CovariateSpec

Err = clv.ModelInputError


@pytest.fixture(scope="module")
def s() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    attrs = pl.DataFrame(
        {
            "customer": range(n),
            "vip": rng.integers(0, 2, n),
            "channel": rng.choice(["shop", "web", "app"], n),
            "age": rng.choice([-1.0, 0.0, 1.0], n),
        }
    )
    base = {"r": 0.8, "alpha": 6.0, "s": 0.6, "beta": 10.0}
    sim = clv.simulate_with_covariates(
        "pareto_nbd",
        attrs,
        base,
        {"trans.vip": 0.7, "life.vip": -0.8},
        transaction=["vip"],
        lifetime=["vip"],
        T=52,
        seed=3,
    )
    return sim.with_columns(const=pl.lit(1.0))


def null_at(s: pl.DataFrame, col: str, row: int) -> pl.DataFrame:
    idx = pl.int_range(pl.len())
    return s.with_columns(pl.when(idx == row).then(None).otherwise(pl.col(col)).alias(col))


def test_null_names_column_and_row(s):
    with pytest.raises(Err, match=r"column 'age' is null at row 8"):
        clv.ParetoNBD().fit(null_at(s, "age", 7), transaction=["age"])
    with pytest.raises(Err, match=r"column 'channel' is null at row 3"):
        clv.BetaGeo().fit(null_at(s, "channel", 2), lifetime=["channel"])


def test_non_finite_names_column_and_row(s):
    bad = s.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(float("inf")).otherwise("age").alias("age")
    )
    with pytest.raises(Err, match=r"column 'age' is not finite at row 5"):
        clv.ParetoNBD().fit(bad, transaction=["age"])


def test_constant_columns_are_refused(s):
    with pytest.raises(Err, match="column 'const' is constant"):
        clv.ParetoNBD().fit(s, transaction=["vip", "const"])
    with pytest.raises(Err, match="column 'one' is constant"):
        clv.ParetoNBD().fit(s.with_columns(one=pl.lit("x")), lifetime=["one"])


def test_perfect_collinearity_names_the_column(s):
    flipped = s.with_columns(novip=1 - pl.col("vip"))
    with pytest.raises(Err, match=r"transaction column 'novip' is a linear combination"):
        clv.ParetoNBD().fit(flipped, transaction=["vip", "novip"])
    shop = s.with_columns(shop=(pl.col("channel") == "shop").cast(pl.Int64))
    with pytest.raises(Err, match=r"lifetime column 'shop' is a linear combination"):
        clv.ParetoNBD().fit(shop, lifetime=["channel", "shop"])
    # a combination of several columns, the intercept among them
    combo = s.with_columns(mix=2.0 * pl.col("vip") - pl.col("age") + 3.0)
    with pytest.raises(
        Err, match=r"column 'mix' is a linear combination of \(intercept\), vip, age"
    ):
        clv.ParetoNBD().fit(combo, transaction=["vip", "age", "mix"])
    # far from zero but not collinear (a date in seconds, say): allowed
    spec = CovariateSpec.build(
        s.with_columns(
            when=pl.Series(1.7e9 + 86400.0 * np.random.default_rng(1).integers(0, 999, s.height))
        ),
        ["vip", "age", "when"],
        [],
        [],
        {},
        {},
    )
    assert [c.column for c in spec.transaction] == ["vip", "age", "when"]
    # regularised, the same design is allowed
    m = clv.ParetoNBD().fit(flipped, transaction=["vip", "novip"], l2={"transaction": 0.1})
    assert all(v == v for v in m._coef)


def test_attribute_table_missing_a_customer(s):
    rfm = s.select("customer", "frequency", "recency", "T")
    attrs = s.select("customer", "vip").filter(pl.col("customer") != 5)
    with pytest.raises(Err, match=r"customer 5 \(summary row 6\) has no row"):
        clv.ParetoNBD().fit(rfm, covariates=attrs, transaction=["vip"])
    twice = pl.concat([s.select("customer", "vip"), s.select("customer", "vip").head(1)])
    with pytest.raises(Err, match="more than one attribute row"):
        clv.ParetoNBD().fit(rfm, covariates=twice, transaction=["vip"])


def test_unseen_category_and_missing_column_at_prediction(s):
    m = clv.ParetoNBD().fit(s, transaction=["channel"])
    new = s.with_columns(
        pl.when(pl.int_range(pl.len()) == 9)
        .then(pl.lit("tv"))
        .otherwise("channel")
        .alias("channel")
    )
    with pytest.raises(Err, match=r"level 'tv' at row 10, not seen when fitting"):
        m.p_alive(new)
    with pytest.raises(Err, match="no column 'channel'"):
        m.expected_purchases(s.drop("channel"), 10)
    with pytest.raises(Err, match="pass the new customer's"):
        m.expected_purchases_new(5)
    with pytest.raises(Err, match="method='delta' only"):
        m.p_alive(s, interval=0.9, method="bootstrap")


def test_options_are_checked(s):
    with pytest.raises(Err, match="no column 'nope'"):
        clv.ParetoNBD().fit(s, transaction=["nope"])
    with pytest.raises(Err, match="must be in both"):
        clv.ParetoNBD().fit(s, transaction=["vip"], constrain=["vip"])
    with pytest.raises(Err, match="l2 keys"):
        clv.ParetoNBD().fit(s, transaction=["vip"], l2={"trans": 1.0})
    with pytest.raises(Err, match="reference level 'tv'"):
        clv.ParetoNBD().fit(s, transaction=["channel"], reference={"channel": "tv"})
    with pytest.raises(Err, match="does not offer covariates"):
        clv.ModifiedBetaGeo().fit(s, transaction=["vip"])
    with pytest.raises(Err, match="cannot tell the customer id"):
        clv.ParetoNBD().fit(
            s.select("customer", "frequency", "recency", "T").rename({"customer": "id"}),
            covariates=s.select("customer", "vip"),
            transaction=["vip"],
        )


def test_unidentified_fit_says_so_and_never_returns_nan(s):
    # a covariate that separates no one (0 for all but one customer) is identified only
    # weakly; whatever the optimiser does, estimates are finite or it is an error
    lone = s.with_columns(lone=(pl.int_range(pl.len()) == 0).cast(pl.Float64))
    try:
        m = clv.ParetoNBD().fit(lone, transaction=["lone"])
    except Err as e:
        assert "no finite optimum" in str(e)
    else:
        assert all(v == v for v in (*m.params.values(), *m._coef))
        if not m.converged:
            assert m.message


def test_spec_round_trips_through_its_dict(s):
    spec = CovariateSpec.build(s, ["vip", "channel"], ["age"], [], {"lifetime": 0.5}, {})
    assert CovariateSpec.from_dict(spec.to_dict()) == spec
    assert spec.coefficient_names() == [
        "trans.vip",
        "trans.channel[shop]",
        "trans.channel[web]",
        "life.age",
    ]
