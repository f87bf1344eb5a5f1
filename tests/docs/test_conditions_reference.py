"""Every example of docs/reference/conditions.md gives what the page says.

The page's ```` ```csv ```` block is the example table; each ```` ```sql ```` block is one
condition, headed ``-- matches: a, b`` (the customers a ``condition`` rule with that ``when:``
flags) or ``-- error: TEXT`` (the error, at load time against the table's types, and again
when the types are only known from the data).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth.engine.conditions import check_condition
from truenorth.errors import PackError

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "conditions.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```\s*$", re.S | re.M)
HEAD = re.compile(r"^-- (matches|error): (.*)$")


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(PAGE.read_text(encoding="utf-8")) if kind == lang]


def _table() -> pl.DataFrame:
    (csv,) = _blocks("csv")
    return pl.read_csv(io.StringIO(csv), try_parse_dates=True)


def _examples() -> list[tuple[str, str, str]]:
    out = []
    for body in _blocks("sql"):
        head, _, condition = body.partition("\n")
        m = HEAD.match(head)
        assert m, f"an example without '-- matches:' or '-- error:': {body!r}"
        out.append((m.group(1), m.group(2).strip(), condition.strip()))
    return out


EXAMPLES = _examples()


def _pack(condition: str) -> dict:
    return {
        "truenorth": 1,
        "pack": "doc",
        "rules": [{"id": "r", "kind": "condition", "on": "customers", "when": condition}],
    }


def test_the_page_has_examples_of_each_sort():
    sorts = [s for s, _, _ in EXAMPLES]
    assert sorts.count("matches") >= 20 and sorts.count("error") >= 8
    assert _table().schema["first_purchase"] == pl.Date


@pytest.mark.parametrize(("sort", "expected", "condition"), EXAMPLES, ids=[c for *_, c in EXAMPLES])
def test_example(sort, expected, condition):
    table = _table()
    declared = dict(table.schema)  # as validate sees a table whose column types are declared
    _, problems = check_condition(condition, schema=declared, table="customers")
    if sort == "matches":
        assert problems == []
        result = truenorth.Engine.load(_pack(condition)).run(data={"customers": table})
        assert result.errors == []
        want = sorted(x.strip() for x in expected.split(","))
        assert sorted(result.findings["subject"].to_list()) == want
        return
    assert problems and expected in problems[0].message
    # without declared types: a load error, or a data error (exit 2) when the rule runs
    try:
        engine = truenorth.Engine.load(_pack(condition))
    except PackError as exc:
        assert expected in str(exc)
        return
    result = engine.run(data={"customers": table})
    (rr,) = result.errors
    assert expected in rr.error and rr.data_error and result.exit_code() == 2


def test_nan_outside_condition_rules_follows_polars_order():
    # the page: in decision tables (and clv's when:, thresholds) NaN is above every number
    table = _table()
    pack = {
        "truenorth": 1,
        "pack": "doc",
        "rules": [
            {
                "id": "dt",
                "kind": "decision_table",
                "on": "customers",
                "with": {"rows": [{"when": "clv > 500", "tier": "high"}], "default": {"tier": "-"}},
            }
        ],
    }
    out = truenorth.Engine.load(pack).run(data={"customers": table}).tables["customers"]
    tiers = dict(zip(out["customer"].to_list(), out["tier"].to_list(), strict=True))
    assert tiers == {"ann": "high", "bob": "-", "cid": "-", "dee": "high"}


def test_current_date_is_fixed_when_the_pack_is_loaded():
    engine = truenorth.Engine.load(_pack("first_purchase < CURRENT_DATE"))
    (expr,) = engine.rules[0].conditions.values()
    assert "col(" in str(expr) and "CURRENT_DATE" not in str(expr).upper()


def test_every_function_the_page_lists_is_known_to_the_parser():
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index("## Functions") : text.index("```sql", text.index("## Functions"))]
    types = {"INT", "BIGINT", "DOUBLE", "TEXT", "DATE", "TIMESTAMP"}
    names = (
        set(re.findall(r"`([A-Z][A-Z0-9_]+)[`(]", section))
        - types
        - {"CAST", "TRY_CAST", "EXTRACT"}
    )
    assert len(names) >= 30
    for name in sorted(names):
        try:
            pl.sql_expr(f"{name}(x)")
        except Exception as exc:  # a wrong number of arguments is fine; an unknown name is not
            assert "unsupported function" not in str(exc), name
