"""Which `when:` parts become SQL (truenorth.io.sql.pushdown); no database needed."""

from __future__ import annotations

import pytest

from truenorth.io.sql import SqlSource, pushable, where_clause

KINDS = {"country": "text", "amount": "number", "qty": "number", "refunded": "bool", "day": None}
KINDS = {k: v for k, v in KINDS.items() if v}


@pytest.mark.parametrize(
    ("condition", "sql"),
    [
        ("country = 'DE'", "\"country\" = 'DE'"),
        ("country == 'DE'", "\"country\" = 'DE'"),
        ("amount >= 10.5", '"amount" >= 10.5'),
        ("100 < amount", '"amount" > 100'),
        ("country != 'DE'", "\"country\" <> 'DE'"),
        ("country IN ('DE', 'FR')", "\"country\" IN ('DE', 'FR')"),
        ("qty NOT IN (1, 2)", '"qty" NOT IN (1, 2)'),
        ("amount IS NULL", '"amount" IS NULL'),
        ("amount is not null", '"amount" IS NOT NULL'),
        ("refunded = TRUE", '"refunded" = TRUE'),
        ("country = 'O''Land'", "\"country\" = 'O''Land'"),
        ("(country = 'DE' OR qty > 3)", '("country" = \'DE\' OR "qty" > 3)'),
        # only the pushable parts of a conjunction
        ("country = 'DE' AND lower(country) = 'de'", "\"country\" = 'DE'"),
        ("amount * 2 > 10 AND qty < 3", '"qty" < 3'),
        # nothing pushable
        ("country > 'M'", None),  # string order is the database's collation: not pushed
        ("amount > '5'", None),  # a string compared with a number column
        ("country = 5", None),
        ("day > '2024-01-01'", None),  # dates stay with Polars
        ("country = 'DE' OR lower(country) = 'fr'", None),  # one branch not pushable
        ("NOT country = 'DE'", None),
        ("unknown = 1", None),
        ("country IN ('DE', 1)", None),
    ],
)
def test_pushable_parts(condition: str, sql: str | None) -> None:
    assert pushable(condition, KINDS) == sql


def test_several_rules_or_their_filters_and_one_unfiltered_reader_reads_all() -> None:
    both = where_clause(["country = 'DE'", "qty > 3 AND country = 'FR'"], KINDS)
    assert both == '("country" = \'DE\') OR ("qty" > 3 AND "country" = \'FR\')'
    assert where_clause(["country = 'DE'", "country = 'DE'"], KINDS) == "\"country\" = 'DE'"
    assert where_clause(["country = 'DE'", None], KINDS) is None
    assert where_clause(["country = 'DE'", "lower(country) = 'x'"], KINDS) is None


def test_canonical_names_map_to_database_columns() -> None:
    src = SqlSource(uri="postgresql://u@h/db", table="sales.tx", columns={"customer": "cust_id"})
    kinds = {"cust_id": "text", "amount": "number"}
    assert src.sql(["customer = 'c1' AND amount > 3"], kinds) == (
        'SELECT * FROM "sales"."tx" WHERE "cust_id" = \'c1\' AND "amount" > 3'
    )
    # the database name of a renamed column is not a column of the dataset any more
    assert src.sql(["cust_id = 'c1'"], kinds) == 'SELECT * FROM "sales"."tx"'
    query = SqlSource(uri="postgresql://u@h/db", query="SELECT * FROM tx;")
    assert query.sql(["amount > 3"], {"amount": "number"}) == (
        'SELECT * FROM (SELECT * FROM tx) AS truenorth_source WHERE "amount" > 3'
    )
