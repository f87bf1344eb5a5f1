"""Datasets read from databases: ``uri:`` plus ``table:`` or ``query:`` in a pack.

::

    datasets:
      transactions:
        uri: postgresql://analyst@db.internal:5432/shop   # no password here
        password_env: SHOP_DB_PASSWORD                     # read from the environment
        table: sales.transactions                           # or query: SELECT ...
        columns: {customer: cust_id}

Supported: PostgreSQL (``postgresql://``, ADBC), DuckDB files (``duckdb:///file.duckdb``) and
SQLite files (``sqlite:///file.db``, ADBC); relative file paths are relative to the pack file.
Filters in ``when:`` are pushed into the query where that is safe (:mod:`.pushdown`).

Example (a DuckDB file)::

    >>> import duckdb, tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "shop.duckdb"
    >>> con = duckdb.connect(str(db))
    >>> _ = con.execute("CREATE TABLE t AS SELECT 'DE' AS country, 5 AS n UNION ALL SELECT 'FR', 7")
    >>> con.close()
    >>> src = SqlSource(uri=f"duckdb:///{db}", table="t")
    >>> src.sql(["country = 'FR'"], {"country": "text", "n": "number"})
    'SELECT * FROM "t" WHERE "country" = \\'FR\\''
    >>> lf, sql = read_sql(src, role="t", conditions=["country = 'FR'"])
    >>> lf.collect()["n"].to_list()
    [7]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ...errors import DataError
from .connect import describe, query_frame, redact, scheme_of, uri_problems, with_password
from .pushdown import pushable, quote_ident, where_clause

__all__ = [
    "SqlSource",
    "pushable",
    "read_sql",
    "source_problems",
    "where_clause",
]

log = logging.getLogger("truenorth")


@dataclass(frozen=True)
class SqlSource:
    """Where a database dataset lives (the pack's ``uri``/``table``/``query``/``password_env``)."""

    uri: str
    table: str | None = None
    query: str | None = None
    password_env: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> database column
    base_dir: Path | None = None  # for relative DuckDB/SQLite file paths

    @property
    def driver(self) -> str:
        return scheme_of(self.uri) or "?"

    def relation(self) -> str:
        if self.table is not None:
            return ".".join(quote_ident(p) for p in self.table.split("."))
        return f"({self.query.strip().rstrip(';')}) AS truenorth_source"  # type: ignore[union-attr]

    def sql(
        self, conditions: Sequence[str | None] | None = None, kinds: Mapping[str, str] | None = None
    ) -> str:
        """The ``SELECT`` for this source, with the pushable part of ``conditions`` as WHERE.

        ``kinds``: database column → ``number``/``text``/``bool``; ``conditions`` name
        canonical columns (``columns:`` maps them to the database's).
        """
        base = f"SELECT * FROM {self.relation()}"
        if not conditions or not kinds:
            return base
        names = dict(self.columns)
        by_name = {c: kinds[names.get(c, c)] for c in {*kinds, *names} if names.get(c, c) in kinds}
        # a database column renamed away is not reachable under its own name
        for db_name in set(names.values()) - set(names):
            by_name.pop(db_name, None)
        where = where_clause(list(conditions), by_name, names)
        return f"{base} WHERE {where}" if where else base


def source_problems(
    uri: str | None, table: str | None, query: str | None, path: str | None
) -> list[tuple[str, str, str]]:
    """(field, message, expected) for a dataset's database keys; checked at load."""
    if uri is None:
        if table is not None or query is not None:
            key = "table" if table is not None else "query"
            return [
                (
                    key,
                    f"`{key}:` needs `uri:`",
                    "uri: postgresql://USER@HOST/DB (or duckdb:///FILE)",
                )
            ]
        return []
    out = [("uri", msg, exp) for msg, exp in uri_problems(uri)]
    if path is not None:
        out.append(("path", "a dataset has `path:` or `uri:`, not both", "one of path, uri"))
    if (table is None) == (query is None):
        out.append(
            (
                "uri",
                "a database dataset needs exactly one of `table:` and `query:`",
                "table: SCHEMA.TABLE, or query: SELECT ...",
            )
        )
    return out


def read_sql(
    src: SqlSource, *, role: str, conditions: Sequence[str | None] | None = None
) -> tuple[pl.LazyFrame, str]:
    """Read ``src`` (with the pushable part of ``conditions``); returns the frame and the SQL run.

    Errors (server down, wrong password, a query error, a missing driver) raise
    :class:`~truenorth.errors.DataError` naming the dataset and the URI (without secrets).
    """
    where = f"dataset {role!r} ({redact(src.uri)})"
    try:
        uri = with_password(src.uri, src.password_env)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    kinds = None
    if conditions:
        # the column types decide what can be pushed; LIMIT 0 reads no rows
        probe = _run(src, uri, f"SELECT * FROM {src.relation()} LIMIT 0", where)
        kinds = {n: k for n, t in probe.schema.items() if (k := _kind(t)) is not None}
    sql = src.sql(conditions, kinds)
    log.debug("%s: %s", where, sql)
    frame = _run(src, uri, sql, where)
    return frame.lazy(), sql


def _run(src: SqlSource, uri: str, sql: str, where: str) -> pl.DataFrame:
    try:
        return query_frame(src.driver, uri, sql, src.base_dir)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    except Exception as exc:
        raise DataError(f"{where}: {describe(exc, uri)}") from None


def _kind(dtype: pl.DataType) -> str | None:
    if dtype.is_numeric():
        return "number"
    if dtype in (pl.String, pl.Categorical):
        return "text"
    if dtype == pl.Boolean:
        return "bool"
    return None
