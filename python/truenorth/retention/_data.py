"""Cohort data for the retention models: survivor counts or per-customer records, checked and
turned into the counts the likelihood needs (lost per period, still active per period).

A customer's lifetime T counts the periods paid for: a customer who starts in period ``s`` and
whose first period *not* covered is ``e`` has T = e - s (at least 1); one still active at the
observation end ``E`` has T > E - s (censored after E - s renewals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

#: Period numbers beyond this magnitude are refused (their differences must not overflow).
MAX_PERIOD_NUMBER = 10**9
#: The longest observation of one customer, in renewal periods (a likelihood term per period).
MAX_PERIODS = 10_000


class RetentionInputError(ValueError):
    """Data the retention models cannot use; the message names the column and row (or the
    cohort and period) and what was expected."""


@dataclass(frozen=True)
class CohortCounts:
    """One cohort as counts: ``lost[t-1]`` customers with lifetime t, ``censored[t]`` still
    active after t renewals when observation ended."""

    label: str
    lost: list[float]
    censored: list[float]

    @property
    def size(self) -> float:
        return float(sum(self.lost) + sum(self.censored))

    @property
    def periods(self) -> int:
        """Renewals observed for the longest-observed customers."""
        return max(len(self.lost), len(self.censored) - 1, 0)

    def at_risk(self) -> list[float]:
        """Customers still observed (active and not yet censored) after t renewals, t = 0..K,
        and the Kaplan-Meier survival to t (the observed survival when all are observed
        equally long)."""
        k = self.periods
        lost = [*self.lost, *[0.0] * (k - len(self.lost))]
        cens = [*self.censored, *[0.0] * (k + 1 - len(self.censored))]
        out, n = [], self.size - cens[0]
        for t in range(k + 1):
            out.append(n)
            if t < k:
                n -= lost[t] + cens[t + 1]
        return out

    def observed_survival(self) -> list[float]:
        """Kaplan-Meier survival to t = 0..K."""
        k = self.periods
        lost = [*self.lost, *[0.0] * (k - len(self.lost))]
        cens = [*self.censored, *[0.0] * (k + 1 - len(self.censored))]
        s, out, risk = 1.0, [1.0], self.size - cens[0]
        for t in range(1, k + 1):
            if risk > 0:
                s *= 1.0 - lost[t - 1] / risk
            out.append(s)
            risk -= lost[t - 1] + cens[t]
        return out


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RetentionInputError(f"{where}: expected a number, got {v!r}")
    f = float(v)
    if f != f or f in (float("inf"), float("-inf")):
        raise RetentionInputError(f"{where}: expected a finite number, got {v!r}")
    return f


def from_survivors(survivors: Sequence[Any], label: str = "cohort") -> CohortCounts:
    """Counts of a cohort from its survivor counts n_0, n_1, ..., n_K (customers active at the
    start and after each renewal).

    >>> c = from_survivors([1000, 631, 468])
    >>> c.lost, c.censored
    ([369.0, 163.0], [0.0, 0.0, 468.0])
    """
    values = [_number(v, f"{label}: survivors[{i}]") for i, v in enumerate(survivors)]
    if len(values) < 2:
        raise RetentionInputError(
            f"{label}: {len(values)} survivor count(s); expected the cohort size and at least "
            "one count after a renewal"
        )
    if values[0] <= 0:
        raise RetentionInputError(
            f"{label}: survivors[0] = {values[0]:g}: a cohort needs at least one customer"
        )
    for i, v in enumerate(values):
        if v < 0:
            raise RetentionInputError(f"{label}: survivors[{i}] = {v:g} is negative")
        if i and v > values[i - 1]:
            raise RetentionInputError(
                f"{label}: survivors[{i}] = {v:g} > survivors[{i - 1}] = {values[i - 1]:g}; "
                "survivor counts cannot increase (count each cohort's own customers, not "
                "newcomers)"
            )
    k = len(values) - 1
    lost = [values[t] - values[t + 1] for t in range(k)]
    censored = [0.0] * k + [values[k]]
    return CohortCounts(label, lost, censored)


def _first_row(mask: pl.Series) -> int:
    """1-based row of the first True."""
    return int(mask.arg_true()[0]) + 1


def _int_column(frame: pl.DataFrame, name: str, role: str, nulls: bool) -> pl.Series:
    if name not in frame.columns:
        raise RetentionInputError(
            f"no column '{name}' ({role}); columns: {', '.join(frame.columns)}"
        )
    s = frame[name]
    if not (s.dtype.is_integer() or s.dtype == pl.Null):
        if s.dtype.is_float():
            bad = s.is_not_null() & ((s != s.round(0)) | s.is_nan() | s.is_infinite())
            if bad.any():
                row = _first_row(bad)
                raise RetentionInputError(
                    f"column '{name}' ({role}): {s[row - 1]} at row {row} is not a whole "
                    "period number"
                )
            s = s.cast(pl.Int64)
        else:
            raise RetentionInputError(
                f"column '{name}' ({role}): expected integer period numbers, got {s.dtype}"
            )
    if not nulls and s.null_count():
        raise RetentionInputError(
            f"column '{name}' ({role}): null at row {_first_row(s.is_null())}"
        )
    return s.cast(pl.Int64)


def from_records(
    records: pl.DataFrame,
    *,
    start: str = "start",
    end: str = "end",
    observation_end: int | None = None,
    cohort: str | None = None,
) -> list[CohortCounts]:
    """Counts per cohort from per-customer records with integer periods.

    ``start``: the first period paid for; ``end``: the first period not paid for (null:
    still active). ``observation_end``: the last period observed (default: the latest start or
    end in the data). A customer whose ``end`` is
    after the observation end is still active there. ``cohort``: a column whose values group
    customers (default: the start period).

    >>> import polars as pl
    >>> recs = pl.DataFrame({"start": [0, 0, 0, 1], "end": [1, 3, None, 2]})
    >>> for c in from_records(recs, observation_end=3):
    ...     print(c.label, tuple(c.lost), tuple(c.censored))
    0 (1.0, 0.0, 1.0) (0.0, 0.0, 0.0, 1.0)
    1 (1.0,) (0.0, 0.0)
    """
    if records.height == 0:
        raise RetentionInputError("no records: expected one row per customer")
    s = _int_column(records, start, "start period", nulls=False)
    e = _int_column(records, end, "end period", nulls=True)
    for col, series in ((start, s), (end, e)):
        far = series.is_not_null() & ((series > MAX_PERIOD_NUMBER) | (series < -MAX_PERIOD_NUMBER))
        if far.any():
            row = _first_row(far)
            raise RetentionInputError(
                f"column '{col}': period {series[row - 1]} at row {row} is out of range; "
                f"expected period numbers within ±{MAX_PERIOD_NUMBER:g}"
            )
    if observation_end is None:
        observation_end = int(max(s.max(), e.max() if e.null_count() < e.len() else s.max()))  # type: ignore[type-var, arg-type]
    if abs(observation_end) > MAX_PERIOD_NUMBER:
        raise RetentionInputError(
            f"observation end {observation_end} is out of range; expected a period number "
            f"within ±{MAX_PERIOD_NUMBER:g}"
        )
    before = e.is_not_null() & (e < s)
    if before.any():
        row = _first_row(before)
        raise RetentionInputError(
            f"column '{end}': row {row} ends in period {e[row - 1]}, before it starts "
            f"(column '{start}': {s[row - 1]}); churn cannot precede the start"
        )
    same = e.is_not_null() & (e == s)
    if same.any():
        row = _first_row(same)
        raise RetentionInputError(
            f"column '{end}': row {row} ends in its start period {s[row - 1]}; expected the "
            "first period not paid for (a customer pays for at least one period)"
        )
    late = s > observation_end
    if late.any():
        row = _first_row(late)
        raise RetentionInputError(
            f"column '{start}': row {row} starts in period {s[row - 1]}, after the observation "
            f"end {observation_end}"
        )
    long = (observation_end - s) > MAX_PERIODS
    if long.any():
        row = _first_row(long)
        raise RetentionInputError(
            f"column '{start}': row {row} starts in period {s[row - 1]}, "
            f"{observation_end - s[row - 1]} periods before the observation end "
            f"{observation_end}; at most {MAX_PERIODS} renewal periods are supported (is the "
            "period too short for these dates?)"
        )
    churned = e.is_not_null() & (e <= observation_end)
    frame = pl.DataFrame(
        {
            "cohort": (records[cohort] if cohort else s).cast(pl.String),
            "churned": churned,
            "t": (e - s).zip_with(churned, observation_end - s),
        }
    )
    if cohort and frame["cohort"].null_count():
        raise RetentionInputError(
            f"column '{cohort}' (cohort): null at row {_first_row(frame['cohort'].is_null())}"
        )
    counts = frame.group_by("cohort", "churned", "t").len().sort("cohort", "t")
    out = []
    for (label,), grp in counts.group_by("cohort", maintain_order=True):
        k = int(grp["t"].max())  # type: ignore[arg-type]
        lost = [0.0] * k
        cens = [0.0] * (k + 1)
        for ch, t, n in grp.select("churned", "t", "len").iter_rows():
            if ch:
                lost[t - 1] += n
            else:
                cens[t] += n
        out.append(CohortCounts(str(label), lost, cens))
    return sorted(out, key=lambda c: _sort_key(c.label))


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
