"""How well a fitted purchase model describes customers: the checks of Fader, Hardie & Lee
(2005), as tables, from any fitted model and a summary (``backtest`` assembles them after a
calibration/holdout split; a service can run them on its live model).

- :func:`expected_cumulative_transactions` — tracking: per period of the transaction log,
  the cohort's actual repeat transactions and the model's expectation, the sum over customers
  already acquired of E[X(t − birth)] (as BTYD's ``*.ExpectedCumulativeTransactions`` and
  lifetimes' ``expected_cumulative_transactions``).
- :func:`frequency_table` — customers by repeat count 0, 1, …, k+ against the model's
  expected counts Σ_i P(X(T_i) = n), with a chi-square goodness-of-fit statistic.
- :func:`conditional_expectations` — by calibration repeat count: actual mean holdout
  purchases against the mean conditional expectation E[X(T, T + t*) | x, t_x, T].
- :func:`holdout_accuracy` — per-customer errors of the holdout prediction and how well its
  ranking finds the best customers.

Every table is long ("tidy"): one row per model and bin, with a ``model`` column, so its
schema does not depend on which models are compared. ``models`` is a fitted purchase model or
a mapping from names to fitted models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from ._holdout import Holdout, holdout_predictions
from ._input import ModelInputError, as_frame, numeric_column, rfm_columns, time_unit_days
from ._purchase import _PurchaseModel
from ._stats import chi_square_sf
from ._time import instant_to_wall, parse_span, wall_clock
from .summary import _collect

__all__ = [
    "conditional_expectations",
    "expected_cumulative_transactions",
    "frequency_table",
    "holdout_accuracy",
]

#: an expected bin count below this is pooled into the tail before the chi-square test
#: (Cochran's rule: the χ² approximation needs expected counts of about 5 or more)
MIN_EXPECTED = 5.0


def _named(models: Any) -> dict[str, _PurchaseModel]:
    named = dict(models) if isinstance(models, Mapping) else {_kind(models): models}
    if not named:
        raise ModelInputError("models: give at least one fitted purchase model")
    for name, m in named.items():
        if not (isinstance(m, _PurchaseModel) and m.capabilities.process == "purchase"):
            raise ModelInputError(
                f"models: {name!r} is {type(m).__name__}, not a fitted purchase model"
            )
        if m.capabilities.discrete:
            raise ModelInputError(
                f"models: {name!r} ({m.label}) counts discrete opportunities; these checks "
                "are for continuous-time models"
            )
        m.params  # noqa: B018 - raises NotFittedError naming the class when unfitted
    return named


def _kind(model: Any) -> str:
    return str(getattr(model, "kind", type(model).__name__))


def _bins(frequency: pl.Expr, max_count: int) -> pl.Expr:
    """The bin label of a repeat count: "0", "1", …, "k+" (k = max_count)."""
    return (
        pl.when(frequency >= max_count)
        .then(pl.lit(f"{max_count}+"))
        .otherwise(frequency.cast(pl.Int64).cast(pl.String))
    )


def _check_max_count(max_count: Any) -> int:
    if isinstance(max_count, bool) or not (isinstance(max_count, int) and max_count >= 1):
        raise ModelInputError(f"max_count must be a whole number >= 1, got {max_count!r}")
    return max_count


# -- frequency ------------------------------------------------------------------------------


def frequency_table(models: Any, summary: Any, *, max_count: int = 7) -> pl.DataFrame:
    """Customers by repeat count (``frequency``) 0, 1, …, ``max_count``+ against each model's
    expected number, Σ over customers of P(X(T_i) = n) (the tail bin takes the rest), with
    Pearson's chi-square statistic.

    Bins whose expected count is below 5 are pooled into the tail first (from the top down),
    then ``chi_square`` = Σ (actual − expected)² / expected over the pooled bins,
    ``chi_square_dof`` = pooled bins − 1 − number of parameters, and ``chi_square_p`` its
    upper-tail probability (null when dof < 1). The statistics repeat on each row of a model;
    ``pooled_bin`` names the bin a row was counted in.

    Example (BTYD's CDNOW BG/NBD estimates on a few hand-made customers)::

        >>> import polars as pl
        >>> from truenorth.clv import BetaGeo
        >>> m = BetaGeo.from_params(
        ...     {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="1w")
        >>> s = pl.DataFrame({"frequency": [0, 0, 1, 3], "recency": [0.0, 0.0, 5.0, 30.0],
        ...                   "T": [39.0, 30.0, 39.0, 38.0]})
        >>> t = frequency_table(m, s, max_count=2)
        >>> t.select("bin", "customers", "expected").with_columns(pl.col("expected").round(3))
        shape: (3, 3)
        ┌─────┬───────────┬──────────┐
        │ bin ┆ customers ┆ expected │
        │ --- ┆ ---       ┆ ---      │
        │ str ┆ i64       ┆ f64      │
        ╞═════╪═══════════╪══════════╡
        │ 0   ┆ 2         ┆ 2.332    │
        │ 1   ┆ 1         ┆ 0.791    │
        │ 2+  ┆ 1         ┆ 0.877    │
        └─────┴───────────┴──────────┘
    """
    named = _named(models)
    k = _check_max_count(max_count)
    df = as_frame(summary)
    x, _, t = rfm_columns(df)
    actual = (
        pl.DataFrame({"x": x})
        .group_by(_bins(pl.col("x"), k).alias("bin"))
        .agg(pl.len().cast(pl.Int64).alias("customers"))
    )
    by_t = pl.DataFrame({"T": t}).group_by("T").agg(pl.len().alias("n"))
    ts, counts = by_t["T"].to_list(), by_t["n"].cast(pl.Float64).to_list()
    n_customers = float(x.len())
    labels = [str(i) for i in range(k)] + [f"{k}+"]
    frames = []
    for name, m in named.items():
        # Σ over distinct T of customers · P(X(T) = n), n < k, in one native call.
        expected = m._pmf_new(ts, k - 1, weights=counts)[0]
        expected.append(max(n_customers - sum(expected), 0.0))
        table = (
            pl.DataFrame({"bin": labels, "expected": expected})
            .join(actual, on="bin", how="left")
            .with_columns(pl.col("customers").fill_null(0))
        )
        frames.append(_with_chi_square(table, len(m.param_names)).with_columns(model=pl.lit(name)))
    cols = ["model", "bin", "customers", "expected", "pooled_bin"]
    cols += ["chi_square", "chi_square_dof", "chi_square_p"]
    return pl.concat(frames).select(cols)


def _with_chi_square(table: pl.DataFrame, n_params: int) -> pl.DataFrame:
    """Pool low-expectation bins into the tail, then Pearson's statistic over the pools."""
    labels = table["bin"].to_list()
    obs = [float(v) for v in table["customers"]]
    exp = [float(v) for v in table["expected"]]
    groups = [[i] for i in range(len(labels))]
    while len(groups) > 1 and sum(exp[i] for i in groups[-1]) < MIN_EXPECTED:
        tail = groups.pop()
        groups[-1] = groups[-1] + tail
    pooled = [""] * len(labels)
    stat = 0.0
    for g in groups:
        name = labels[g[0]] if len(g) == 1 else f"{labels[g[0]].rstrip('+')}+"
        for i in g:
            pooled[i] = name
        o, e = sum(obs[i] for i in g), sum(exp[i] for i in g)
        if e > 0:
            stat += (o - e) ** 2 / e
    dof = len(groups) - 1 - n_params
    p = chi_square_sf(stat, dof) if dof >= 1 else None
    return table.with_columns(
        pooled_bin=pl.Series(pooled, dtype=pl.String),
        chi_square=pl.lit(stat, dtype=pl.Float64),
        chi_square_dof=pl.lit(dof, dtype=pl.Int64),
        chi_square_p=pl.lit(p, dtype=pl.Float64),
    )


# -- conditional expectations ---------------------------------------------------------------


def conditional_expectations(
    models: Any,
    summary: Any,
    *,
    max_count: int = 7,
    holdout: str = "frequency_holdout",
    horizon: str | float = "duration_holdout",
) -> pl.DataFrame:
    """By calibration repeat count 0, 1, …, ``max_count``+: customers, actual mean holdout
    purchases (column ``holdout``) and each model's mean conditional expectation over the
    holdout (``horizon``: a column of per-customer holdout lengths, or one number), as
    BTYD's ``*.PlotFreqVsConditionalExpectedFrequency``.

    Example::

        >>> import polars as pl
        >>> from truenorth.clv import BetaGeo
        >>> m = BetaGeo.from_params(
        ...     {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="1w")
        >>> s = pl.DataFrame({"frequency": [0, 0, 2], "recency": [0.0, 0.0, 30.0],
        ...                   "T": [39.0, 39.0, 39.0], "frequency_holdout": [0, 1, 3],
        ...                   "duration_holdout": [39.0, 39.0, 39.0]})
        >>> conditional_expectations(m, s, max_count=2).with_columns(pl.col("expected").round(3))
        shape: (2, 5)
        ┌────────┬─────┬───────────┬────────┬──────────┐
        │ model  ┆ bin ┆ customers ┆ actual ┆ expected │
        │ ---    ┆ --- ┆ ---       ┆ ---    ┆ ---      │
        │ str    ┆ str ┆ i64       ┆ f64    ┆ f64      │
        ╞════════╪═════╪═══════════╪════════╪══════════╡
        │ bg_nbd ┆ 0   ┆ 2         ┆ 0.5    ┆ 0.195    │
        │ bg_nbd ┆ 2+  ┆ 1         ┆ 3.0    ┆ 1.211    │
        └────────┴─────┴───────────┴────────┴──────────┘
    """
    named = _named(models)
    k = _check_max_count(max_count)
    df = as_frame(summary)
    x, tx, t = rfm_columns(df)
    actual = numeric_column(df, holdout)
    predicted = holdout_predictions(named, df, x, tx, t, horizon).predicted
    return _conditional(x, actual, predicted, k)


def _conditional(
    x: pl.Series, actual: pl.Series, predicted: dict[str, pl.Series], k: int
) -> pl.DataFrame:
    # one group-by for all models: the bins are the same, only the expectations differ
    cols = {f"_e{i}": pred for i, pred in enumerate(predicted.values())}
    means = (
        pl.DataFrame({"x": x, "actual": actual, **cols})
        .group_by(_bins(pl.col("x"), k).alias("bin"), pl.col("x").clip(0, k).alias("_o"))
        .agg(pl.len().cast(pl.Int64).alias("customers"), pl.col("actual", *cols).mean())
        .sort("_o")
    )
    return pl.concat(
        means.select(pl.lit(name).alias("model"), "bin", "customers", "actual", c).rename(
            {c: "expected"}
        )
        for name, c in zip(predicted, cols, strict=True)
    )


# -- holdout accuracy -----------------------------------------------------------------------


def holdout_accuracy(
    models: Any,
    summary: Any,
    *,
    holdout: str = "frequency_holdout",
    horizon: str | float = "duration_holdout",
) -> pl.DataFrame:
    """One row per model: holdout purchases actual vs predicted (totals over customers), the
    per-customer mean absolute error, root mean squared error and bias (mean of predicted −
    actual), and how well the predicted ranking finds the best customers:

    - ``top_decile_share``: share of all holdout purchases made by the 10% of customers with
      the highest prediction (customers tied at the cut count in proportion, as a random
      tie-break would on average), and ``top_decile_lift`` = that share / 0.1;
    - ``gini``: 2·(area under the gains curve) − 1, the gains curve being the cumulative share
      of holdout purchases against the share of customers taken in predicted order (ties as a
      straight segment); ``gini_ratio``: ``gini`` over that of the perfect ranking (by actual
      holdout purchases), 1 for a perfect order, about 0 for a random one.

    Undefined figures (no holdout purchases at all) are null, never NaN.

    Example (three customers: the top decile is 0.3 of the best-ranked one)::

        >>> import polars as pl
        >>> from truenorth.clv import BetaGeo
        >>> m = BetaGeo.from_params(
        ...     {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="1w")
        >>> s = pl.DataFrame({"frequency": [0, 1, 4], "recency": [0.0, 5.0, 30.0],
        ...                   "T": [39.0] * 3, "frequency_holdout": [0, 1, 3],
        ...                   "duration_holdout": [39.0] * 3})
        >>> a = holdout_accuracy(m, s).row(0, named=True)
        >>> a["actual_holdout"], round(a["expected_holdout"], 3), round(a["bias"], 3)
        (4.0, 2.721, -0.426)
        >>> round(a["top_decile_share"], 3), a["gini_ratio"]
        (0.225, 1.0)
    """
    named = _named(models)
    df = as_frame(summary)
    x, tx, t = rfm_columns(df)
    actual = numeric_column(df, holdout)
    return _accuracy(actual, holdout_predictions(named, df, x, tx, t, horizon))


def _accuracy(actual: pl.Series, holdout: Holdout) -> pl.DataFrame:
    perfect = _gains(actual, actual)
    # With the distinct histories: each model ranks those (all customers of one history tie)
    # with their customers and holdout purchases, summed once for every model.
    a_by_pattern = holdout.actual_by_pattern(actual)
    rows = []
    for name, pred in holdout.predicted.items():
        err = pred - actual
        if a_by_pattern is not None and holdout.by_pattern is not None:
            found = _gains(holdout.by_pattern[name], a_by_pattern, holdout.customers)
        else:
            found = _gains(pred, actual)
        rows.append(
            {
                "model": name,
                "customers": actual.len(),
                "actual_holdout": float(actual.sum()),
                "expected_holdout": float(pred.sum()),
                "mae": float(err.abs().mean() or 0.0),
                "rmse": math.sqrt(float((err * err).mean() or 0.0)),
                "bias": float(err.mean() or 0.0),
                "top_decile_share": found[0],
                "top_decile_lift": None if found[0] is None else found[0] / 0.1,
                "gini": found[1],
                "gini_ratio": (
                    found[1] / perfect[1]
                    if found[1] is not None and perfect[1] is not None and perfect[1] > 0
                    else None
                ),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"customers": pl.Int64})


def _gains(
    score: pl.Series, actual: pl.Series, customers: pl.Series | None = None
) -> tuple[float | None, float | None]:
    """(top-decile share, gini) of ``actual`` when customers are taken by ``score``, high
    first; tied scores form one group that is taken proportionally. With ``customers``, each
    row stands for that many customers and ``actual`` is their total (the groups' counts and
    totals are then the same sums, of whole numbers for purchase counts: the same figures)."""
    n = pl.len() if customers is None else pl.col("n").sum()
    groups = (
        pl.DataFrame({"s": score, "a": actual, **({} if customers is None else {"n": customers})})
        .group_by("s")
        .agg(n.alias("n"), pl.col("a").sum())
        .sort("s", descending=True)
    )
    total_n, total_a = float(groups["n"].sum()), float(groups["a"].sum())
    if total_a <= 0:
        return None, None
    cut = 0.1 * total_n
    # one pass of column arithmetic over the groups (there are as many as distinct scores)
    n, a = pl.col("n").cast(pl.Float64), pl.col("a").cast(pl.Float64)
    before_n, before_a = n.cum_sum() - n, a.cum_sum() - a
    top, area = groups.select(
        pl.when(before_n < cut)
        .then(a * pl.min_horizontal(pl.lit(1.0), (cut - before_n) / n))
        .otherwise(0.0)
        .sum()
        .alias("top"),
        (n / total_n * (2.0 * before_a + a) / total_a / 2.0).sum().alias("area"),
    ).row(0)
    return top / total_a, 2.0 * area - 1.0


# -- tracking -------------------------------------------------------------------------------


def expected_cumulative_transactions(
    models: Any,
    transactions: Any,
    *,
    customer: str,
    time: str,
    period: str = "1d",
    every: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
) -> pl.DataFrame:
    """Tracking: per ``every`` (default: the models' time unit, e.g. a week) from the first
    purchase in the log, the cohort's actual repeat transactions and each model's expectation.

    Purchases are merged per ``period`` as ``summarize`` merges them (a customer's first period
    is the acquisition, later ones are repeat transactions). The expectation at the end e of a
    tracking period is Σ over customers acquired before e of E[X(e − birth)], with birth the
    start of the customer's first period and E[X(t)] the model's new-customer expectation in its
    own time unit: BTYD's and lifetimes' ``expected_cumulative_transactions``. With
    ``calibration_end``, only customers acquired by then form the cohort (as in a backtest) and
    ``phase`` says whether a tracking period ends in the calibration or the holdout window.
    The last period ends at the observation end's period (default: the latest purchase's).

    Columns: ``model``, ``period`` (1, 2, …), ``start``, ``end``, [``phase``,] ``actual`` and
    ``expected`` (incremental), ``actual_cumulative``, ``expected_cumulative``.

    Example (weekly tracking of two customers with a weekly model)::

        >>> import polars as pl
        >>> from datetime import date
        >>> from truenorth.clv import BetaGeo
        >>> m = BetaGeo.from_params(
        ...     {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, time_unit="1w")
        >>> log = pl.DataFrame({"c": [1, 1, 2, 2, 2], "t": [
        ...     date(2024, 1, 1), date(2024, 1, 9), date(2024, 1, 3), date(2024, 1, 4),
        ...     date(2024, 1, 20)]})
        >>> t = expected_cumulative_transactions(m, log, customer="c", time="t")
        >>> t.select("period", "actual", pl.col("expected_cumulative").round(3)).rows()
        [(1, 1.0, 0.092), (2, 1.0, 0.193), (3, 1.0, 0.275)]
    """
    return _tracking(
        models,
        transactions,
        customer=customer,
        time=time,
        period=period,
        every=every,
        observation_end=observation_end,
        calibration_end=calibration_end,
    )


def _tracking(
    models: Any,
    transactions: Any,
    *,
    customer: str,
    time: str,
    period: str = "1d",
    every: str | None = None,
    observation_end: Any = None,
    calibration_end: Any = None,
    cohort: tuple[pl.Series, pl.Series] | None = None,
) -> pl.DataFrame:
    """``expected_cumulative_transactions``; ``cohort`` (the customer keys and first
    purchases of a calibration summary, as a backtest has them) spares a group-by per
    customer over the whole log."""
    named = _named(models)
    units = {name: m.time_unit for name, m in named.items()}
    unknown = [name for name, u in units.items() if u is None]
    if unknown:
        raise ModelInputError(
            f"models: the time unit of {', '.join(unknown)} is unknown; fit on a summary made "
            "by summarize or pass time_unit"
        )
    step_text = every or next(iter(units.values()))
    assert step_text is not None
    try:
        step_span = parse_span(step_text, "every")
    except (TypeError, ValueError) as exc:
        raise ModelInputError(str(exc)) from None
    if step_span.calendar or parse_span(period, "period").calendar:
        raise ModelInputError(
            "tracking needs fixed-length periods ('1d', '1w'); calendar months differ in length"
        )
    step = step_span.ns
    df = _collect(transactions, [customer, time])
    t_raw = df.get_column(time)
    if not (t_raw.dtype == pl.Date or isinstance(t_raw.dtype, pl.Datetime)):
        raise ModelInputError(f"column '{time}': expected Date or Datetime, got {t_raw.dtype}")
    if t_raw.null_count() or df.get_column(customer).null_count():
        raise ModelInputError(f"columns '{customer}', '{time}': nulls are not allowed")

    def boundary(value: Any, what: str) -> int:
        """Nanoseconds of the end of ``value``'s period (where the next period starts)."""
        s = instant_to_wall(value, what, t_raw.dtype) if value is not None else t_raw.max()
        ser = pl.Series([s]) if not isinstance(s, pl.Series) else s
        ns = wall_clock(ser).cast(pl.Datetime("ns")).dt.truncate(period).dt.offset_by(period)
        return int(ns.to_physical()[0])

    end_ns = boundary(observation_end, "observation_end")
    cal_ns = boundary(calibration_end, "calibration_end") if calibration_end is not None else None
    # A customer's purchases in one period count once. The repeat transactions of a tick are
    # its distinct buyers minus the customers born at it: one group-by per customer (births)
    # and one per tick (buyers) instead of deduplicating every (customer, tick) pair.
    ticks = (
        pl.DataFrame({"c": df.get_column(customer), "t": wall_clock(t_raw)})
        .with_columns(pl.col("t").cast(pl.Datetime("ns")).dt.truncate(period).to_physical())
        .filter(pl.col("t") < end_ns)
    )
    if cal_ns is not None and cohort is not None and cohort[0].dtype == ticks["c"].dtype:
        # The backtest's summary already holds the cohort (customers acquired by the
        # calibration end) and their first purchases: no group-by per customer over the log.
        # Only customers acquired later buy in ticks from the calibration end on.
        first = wall_clock(cohort[1]).cast(pl.Datetime("ns")).dt.truncate(period).to_physical()
        born = pl.DataFrame({"c": cohort[0], "birth": first}).filter(pl.col("birth") < cal_ns)
        late_ticks = pl.col("t") >= cal_ns
        buyers = pl.concat(
            [
                ticks.filter(~late_ticks).group_by("t").agg(buyers=pl.col("c").n_unique()),
                ticks.filter(late_ticks)
                .join(born.select("c"), on="c", how="semi")
                .group_by("t")
                .agg(buyers=pl.col("c").n_unique()),
            ]
        )
        cohort_known = True
    else:
        born = ticks.group_by("c").agg(birth=pl.col("t").min())
        buyers = ticks.group_by("t").agg(buyers=pl.col("c").n_unique())
        cohort_known = False
    if cal_ns is not None and not cohort_known:
        late = born.filter(pl.col("birth") >= cal_ns).select("c")
        if late.height:  # customers acquired in the holdout are not in the cohort
            theirs = (
                ticks.join(late, on="c", how="semi").group_by("t").agg(late=pl.col("c").n_unique())
            )
            buyers = buyers.join(theirs, on="t", how="left").select(
                "t", buyers=pl.col("buyers") - pl.col("late").fill_null(0)
            )
            born = born.filter(pl.col("birth") < cal_ns)
    if born.height == 0:
        raise ModelInputError(f"column '{time}': no purchases before the observation end")
    births = born.group_by("birth").agg(pl.len().alias("n"))
    t0 = int(births["birth"].min())  # type: ignore[arg-type]
    n_periods = max(1, -(-(end_ns - t0) // step))
    grid = pl.DataFrame({"period": pl.int_range(1, n_periods + 1, eager=True)}).with_columns(
        start=t0 + (pl.col("period") - 1) * step,
        end=pl.min_horizontal(t0 + pl.col("period") * step, pl.lit(end_ns)),
    )
    actual = (
        buyers.join(births.rename({"birth": "t"}), on="t", how="left")
        .filter(pl.col("t") >= t0)
        .group_by(period=((pl.col("t") - t0) // step + 1).cast(pl.Int64))
        .agg((pl.col("buyers") - pl.col("n").fill_null(0)).sum().alias("actual"))
    )
    pairs = (
        grid.select("period", "end")
        .join(births, how="cross")
        .filter(pl.col("birth") < pl.col("end"))
    )
    tdt = t_raw.dtype
    out_dtype = pl.Datetime(tdt.time_unit) if isinstance(tdt, pl.Datetime) else pl.Date
    base = (
        grid.join(actual, on="period", how="left")
        .with_columns(pl.col("actual").fill_null(0).cast(pl.Float64))
        .with_columns(
            pl.col("start").cast(pl.Datetime("ns")).cast(out_dtype),
            pl.col("end").cast(pl.Datetime("ns")).cast(out_dtype),
        )
    )
    if cal_ns is not None:
        ends = t0 + base["period"] * step
        base = base.with_columns(
            phase=pl.when(ends.clip(upper_bound=end_ns) <= cal_ns)
            .then(pl.lit("calibration"))
            .otherwise(pl.lit("holdout"))
        )
    frames = []
    for name, m in named.items():
        unit_ns = time_unit_days(units[name] or "1d") * 86_400e9
        age = pairs.with_columns(age=(pl.col("end") - pl.col("birth")) / unit_ns)
        ages = age["age"].unique()
        e_new = m.expected_purchases_new(ages.to_list())
        assert isinstance(e_new, pl.Series)
        lookup = pl.DataFrame({"age": ages, "e": e_new})
        cum = (
            age.join(lookup, on="age", how="left")
            .group_by("period")
            .agg((pl.col("e") * pl.col("n")).sum().alias("expected_cumulative"))
        )
        frames.append(
            base.join(cum, on="period", how="left")
            .sort("period")
            .with_columns(
                pl.col("expected_cumulative").fill_null(0.0),
                actual_cumulative=pl.col("actual").cum_sum(),
                model=pl.lit(name),
            )
            .with_columns(
                expected=pl.col("expected_cumulative")
                .diff()
                .fill_null(pl.col("expected_cumulative"))
            )
        )
    cols = ["model", "period", "start", "end"] + (["phase"] if cal_ns is not None else [])
    cols += ["actual", "expected", "actual_cumulative", "expected_cumulative"]
    return pl.concat(frames).select(cols)
