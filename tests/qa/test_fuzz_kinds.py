"""Fuzzing every built-in rule kind with random data frames: dtypes, nulls, extremes.

Each kind gets a valid rule and random input tables: the columns it expects, with values from
the domain (answer codes, steps, scores), extremes (inf, NaN, 1e308, huge integers, year 1 and
9999), nulls, and now and then a column of the wrong dtype, all null, or missing. Every case
runs in the guarded worker (``fuzz_harness``) and must end in a truenorth error or a result
within the time and memory budget. Rules that fail on their data must say why in one line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fuzz_harness import Guard, budget_seconds
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import truenorth
from truenorth.engine.plugins import load_registry

CANVAS = (Path(truenorth.__file__).parent / "packs" / "data" / "canvas.yaml").read_text()

DTYPES = {
    "str": pl.String,
    "int": pl.Int64,
    "float": pl.Float64,
    "date": pl.Date,
    "datetime": pl.Datetime("us"),
    "bool": pl.Boolean,
}

extreme_floats = st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, float("inf"), float("nan")])
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "str": st.text(max_size=6),
    "int": st.one_of(st.integers(-5, 20), st.sampled_from([-(2**63), 2**63 - 1, 10**12])),
    "float": st.one_of(st.floats(-1e3, 1e4), extreme_floats, st.floats(width=64)),
    "date": st.one_of(
        st.dates(dt.date(1996, 1, 1), dt.date(1998, 12, 31)),
        st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
    ),
    "datetime": st.one_of(
        st.datetimes(dt.datetime(1997, 1, 1), dt.datetime(1997, 2, 1)),
        st.sampled_from([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59)]),
    ),
    "bool": st.booleans(),
}

# kind case -> (kind, options, rule fields, {table: {column: (dtype, domain values or None)}})
LABELS = ["I like it", "It must be that way", "I am neutral", "I can tolerate it", "I dislike it"]
Case = tuple[str, dict[str, Any], dict[str, Any], dict[str, dict[str, tuple[str, Any]]]]
CUSTOMERS = {"customer": ("str", ["a", "b", "c", "d"]), "clv": ("float", None)}
CASES: dict[str, Case] = {
    "condition": (
        "condition",
        {"subject": "customer", "value": "clv", "evidence": ["segment"]},
        {"on": "t", "when": "clv > 1", "message": "{customer}: {clv:,.2f} {segment:>5}"},
        {"t": {**CUSTOMERS, "segment": ("str", ["gold", "silver"])}},
    ),
    "decision_table": (
        "decision_table",
        {
            "rows": [{"when": "clv > 100", "tier": "a"}, {"when": "clv <= 100", "tier": "b"}],
            "report_unmatched": True,
        },
        {"on": "t", "message": "{customer} {clv:.1f}"},
        {"t": CUSTOMERS},
    ),
    "segment_rfm": (
        "segment",
        {"method": "rfm", "bins": 3, "source": "customers"},
        {},
        {
            "customers": {
                **CUSTOMERS,
                "recency": ("float", None),
                "frequency": ("int", None),
                "monetary_value": ("float", None),
                "T": ("float", None),
            }
        },
    ),
    "segment_tiers": (
        "segment",
        {"method": "clv_tiers", "source": "customers"},
        {},
        {"customers": CUSTOMERS},
    ),
    "clv": (
        "clv",
        {"source": "transactions", "horizon": 6},
        {},
        {
            "transactions": {
                "customer": ("str", ["a", "b", "c", "d", "e"]),
                "time": ("date", None),
                "amount": ("float", None),
            }
        },
    ),
    "kano": (
        "kano",
        {"source": "survey"},
        {},
        {
            "survey": {
                "respondent": ("int", "rownumber"),
                "feature": ("str", ["speed", "price"]),
                "functional": ("int", [1, 2, 3, 4, 5]),
                "dysfunctional": ("str", LABELS),
                "importance": ("float", [1.0, 5.0, 9.0]),
            }
        },
    ),
    "journey": (
        "journey",
        {"source": "events", "steps": ["visit", "cart", "buy"], "window": "14d"},
        {},
        {
            "events": {
                "customer": ("str", ["a", "b", "c"]),
                "timestamp": ("datetime", None),
                "event": ("str", ["visit", "cart", "buy", "other"]),
                "touchpoint": ("str", ["web", "mail"]),
                "satisfaction": ("float", None),
            }
        },
    ),
    "kpi_nps": (
        "kpi",
        {"metric": "nps", "source": "survey", "period": "1mo", "time": "time"},
        {"warn": "value < 30"},
        {"survey": {"score": ("int", list(range(11))), "time": ("date", None)}},
    ),
    "kpi_csat": (
        "kpi",
        {"metric": "csat", "source": "survey", "by": "segment"},
        {},
        {"survey": {"score": ("float", [1.0, 2.0, 3.0, 4.0, 5.0]), "segment": ("str", ["x"])}},
    ),
    "kpi_churn": (
        "kpi",
        {"metric": "churn", "source": "subscriptions", "period": "1mo"},
        {},
        {
            "subscriptions": {
                "customer": ("str", ["a", "b", "c"]),
                "start": ("date", None),
                "end": ("date", None),
            }
        },
    ),
    "retention": (
        "retention",
        {"source": "subs", "period": "1mo", "horizon": 6, "margin": 5.0},
        {"warn": "survival_at_horizon < 0.5", "fail": "churn_rate > 0.9"},
        {
            "subs": {
                "customer": ("str", ["a", "b", "c", "d"]),
                "start": ("date", None),
                "end": ("date", None),
            }
        },
    ),
    "retention_periods": (
        "retention",
        {"source": "subs", "model": "bdw", "fit": "pooled", "observation_end": 12},
        {"warn": "survival_at_horizon < 0.5"},
        {"subs": {"customer": ("int", None), "start": ("int", None), "end": ("int", None)}},
    ),
    "kpi_cac": (
        "kpi",
        {"metric": "cac", "source": "acquisition"},
        {"fail": "value > 100"},
        {"acquisition": {"cost": ("float", None), "new_customers": ("int", None)}},
    ),
    "kpi_first_response": (
        "kpi",
        {"metric": "first_response_time", "source": "tickets"},
        {},
        {"tickets": {"created": ("datetime", None), "first_response": ("datetime", None)}},
    ),
    "canvas": (
        "canvas",
        {"path": "canvas.yaml", "segments": "segments", "segment_column": "clv_tier"},
        {"warn": "coverage < 1"},
        {
            "segments": {
                "clv_tier": ("str", ["vip", "core", "occasional"]),
                "customers": ("int", None),
                "clv_total": ("float", None),
            }
        },
    ),
    "maturity": (
        "maturity",
        {"as_of": "1998-07-01", "wait_for": ["survey", "customers"]},
        {"warn": "level < 2"},
        {"survey": {"score": ("int", None), "time": ("date", None)}, "customers": CUSTOMERS},
    ),
}


@st.composite
def column(draw: st.DrawFn, tag: str, domain: Any, rows: int, clean: bool) -> pl.Series | None:
    """A column of the expected dtype, or (now and then) a wrong, all-null or missing one.

    ``clean`` columns keep their dtype and domain and have no nulls (numbers may still be
    extreme): they get past the input checks into the computations."""
    if clean and domain == "rownumber":  # a key that must be unique (kano's respondents)
        return pl.Series(range(1, rows + 1), dtype=DTYPES[tag])
    if domain == "rownumber":
        domain = None
    if clean:
        values = st.sampled_from(domain) if domain is not None else VALUES[tag]
        cells = draw(st.lists(values, min_size=rows, max_size=rows))
        return pl.Series(cells, dtype=DTYPES[tag], strict=False)
    mutation = draw(st.sampled_from(["none"] * 6 + ["dtype", "nulls", "missing"]))
    if mutation == "missing":
        return None
    if mutation == "dtype":
        tag, domain = draw(st.sampled_from(sorted(DTYPES))), None
    if mutation == "nulls":
        return pl.Series([None] * rows, dtype=DTYPES[tag])
    values = VALUES[tag] if domain is None else st.one_of(st.sampled_from(domain), VALUES[tag])
    if domain is not None and draw(st.booleans()):
        values = st.sampled_from(domain)  # mostly well-formed: get past the checks, reach math
    nullable = draw(st.integers(0, 3)) == 0
    cells = draw(st.lists(st.one_of(st.none(), values) if nullable else values,
                          min_size=rows, max_size=rows))  # fmt: skip
    return pl.Series(cells, dtype=DTYPES[tag], strict=False)


@st.composite
def frames(draw: st.DrawFn, spec: dict[str, tuple[str, Any]]) -> pl.DataFrame:
    rows = draw(st.integers(0, 40))
    clean = draw(st.booleans())
    cols = {}
    for name, (tag, domain) in spec.items():
        s = draw(column(tag, domain, rows, clean))
        if s is not None:
            cols[name] = s
    return pl.DataFrame(cols) if cols else pl.DataFrame({"unrelated": [1] * rows})


@pytest.fixture(scope="module")
def guard():
    g = Guard(seconds=budget_seconds(), megabytes=1024)
    yield g
    g.close()
    print(
        f"\nfuzz kinds: {g.cases} cases, slowest {g.slowest:.2f} s, "
        f"peak resident growth {g.peak_growth_mb:.0f} MB"
    )


@pytest.mark.parametrize("name", sorted(CASES))
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
def test_random_frames_through_every_kind(guard, name, data):
    kind, options, rule, specs = CASES[name]
    tables = {t: data.draw(frames(spec), label=t) for t, spec in specs.items()}
    files = {"canvas.yaml": CANVAS} if kind == "canvas" else None
    out = guard.run(
        "fuzz_cases", "kind_case", kind=kind, options=options, tables=tables, rule=rule, files=files
    )
    assert out.status != "crash", f"{out.error_type}: {out.message}"
    event(f"{name}: {out.status} {out.error_type}".strip())
    if out.status == "error":
        assert out.located, out.message
        return
    assert not out.info["leaked"], out.info["leaked"]
    assert out.info["longest_message"] <= 2_000
    for err in out.info["rule_errors"]:
        event(f"{name}: rule error{' (data)' if err['data_error'] else ''}")
        assert err["error"] and "\n" not in err["error"], err
        # only the data varies here: a rule that fails on it must say the data is bad (exit 2),
        # not report a bug (exit 3)
        assert err["data_error"], err


def test_every_builtin_kind_is_fuzzed():
    registry = load_registry()
    builtin = {
        name
        for name, kind in registry.kinds.items()
        if kind.evaluate.__module__.startswith("truenorth.builtins.")
    }
    assert len(builtin) >= 9
    assert builtin <= {c[0] for c in CASES.values()}
