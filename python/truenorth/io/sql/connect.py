"""Database URIs → Polars frames: PostgreSQL and SQLite through ADBC, DuckDB files through
``duckdb``.

Credentials never come from the pack: a URI with a password (``user:secret@host`` or
``?password=``) is refused at load (:func:`uri_problems`). The password comes from the
environment: the variable named by the dataset's ``password_env:`` or, for PostgreSQL, libpq's
own ``PGPASSWORD`` / ``~/.pgpass`` / ``PGSERVICE``.

Drivers are imported only when a dataset reads a database (the ``sql`` extra installs them).
The ADBC drivers are used through ``adbc_driver_manager``'s low-level API, which hands an Arrow
C stream to Polars without PyArrow.

Example::

    >>> scheme_of("postgresql://app@db.internal:5432/shop")
    'postgresql'
    >>> scheme_of("duckdb:///data/shop.duckdb")
    'duckdb'
    >>> uri_problems("postgresql://app:hunter2@db/shop")[0][0]
    'the URI holds a password; put it in an environment variable instead'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import polars as pl

from ...errors import DataError

#: URI scheme → the driver that reads it
SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
}
#: the Python package each driver needs, for the message when it is missing
DRIVER_PACKAGES = {
    "postgresql": "adbc-driver-postgresql",
    "sqlite": "adbc-driver-sqlite",
    "duckdb": "duckdb",
}


def scheme_of(uri: str) -> str | None:
    """The driver for ``uri`` (``postgresql``, ``sqlite``, ``duckdb``) or ``None``."""
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", uri)
    return SCHEMES.get(m.group(1).lower()) if m else None


def uri_problems(uri: str) -> list[tuple[str, str]]:
    """(message, expected) for a URI that cannot be used; checked at load, before any data."""
    driver = scheme_of(uri)
    if driver is None:
        return [
            (
                f"unsupported database URI {redact(uri)!r}",
                "postgresql://USER@HOST[:PORT]/DB, duckdb:///PATH.duckdb or sqlite:///PATH.db",
            )
        ]
    parts = urlsplit(uri)
    if parts.password is not None or any(
        k.lower() == "password" for k, _ in parse_qsl(parts.query)
    ):
        return [
            (
                "the URI holds a password; put it in an environment variable instead",
                "postgresql://USER@HOST/DB with `password_env: VARIABLE` (or PGPASSWORD / "
                "~/.pgpass), never a password in the pack",
            )
        ]
    if driver in ("duckdb", "sqlite") and not file_of(uri):
        return [(f"{uri!r} names no database file", f"{driver}:///PATH (a file)")]
    return []


def redact(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (for messages)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def file_of(uri: str) -> str:
    """The file path of a ``duckdb:`` / ``sqlite:`` URI (``duckdb:///rel/x.duckdb`` → ``rel/x.duckdb``,
    ``duckdb:////abs/x.duckdb`` → ``/abs/x.duckdb``, ``duckdb:x.duckdb`` → ``x.duckdb``)."""
    rest = uri.split(":", 1)[1]
    if rest.startswith("///"):
        rest = rest[3:]
    elif rest.startswith("//"):
        rest = rest[2:]
    return rest.split("?", 1)[0]


def with_password(uri: str, password_env: str | None) -> str:
    """``uri`` with the password from the environment variable ``password_env`` (if named)."""
    if not password_env:
        return uri
    secret = os.environ.get(password_env)
    if secret is None:
        raise DataError(
            f"environment variable {password_env} (password_env) is not set; "
            "set it to the database password"
        )
    parts = urlsplit(uri)
    user = quote(parts.username or "", safe="")
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{user}:{quote(secret, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def query_frame(driver: str, uri: str, sql: str, base_dir: Path | None = None) -> pl.DataFrame:
    """Run ``sql`` and return the result (raises what the driver raises; see :func:`describe`)."""
    if driver == "duckdb":
        return _duckdb(uri, sql, base_dir)
    return _adbc(driver, uri, sql, base_dir)


def _module(driver: str) -> Any:
    import importlib

    name = {"postgresql": "adbc_driver_postgresql", "sqlite": "adbc_driver_sqlite"}.get(
        driver, driver
    )
    try:
        return importlib.import_module(name)
    except ImportError:
        raise DataError(
            f"reading a {driver} database needs the Python package {DRIVER_PACKAGES[driver]} "
            "(pip install 'truenorth[sql]')"
        ) from None


def _adbc(driver: str, uri: str, sql: str, base_dir: Path | None) -> pl.DataFrame:
    mod = _module(driver)
    import adbc_driver_manager as adbc

    # SQLite: read-only, so a wrong path never leaves an empty database behind
    target = f"file:{_local_file(uri, base_dir)}?mode=ro" if driver == "sqlite" else uri
    db = mod.connect(target)
    closers: list[Callable[[], None]] = [db.close]
    try:
        conn = adbc.AdbcConnection(db)
        closers.append(conn.close)
        stmt = adbc.AdbcStatement(conn)
        closers.append(stmt.close)
        stmt.set_sql_query(sql)
        stream, _ = stmt.execute_query()
        return _plain_types(pl.DataFrame(stream))
    finally:
        for close in reversed(closers):
            try:
                close()
            except Exception:  # closing after a failed connect: the first error is the one to show
                pass


def _plain_types(frame: pl.DataFrame) -> pl.DataFrame:
    """PostgreSQL ``numeric`` arrives as an opaque Arrow extension over its text: a number
    column (``Float64``) is what rules compute with."""
    fixed = []
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Extension):
            continue
        storage = frame[name].ext.storage()
        if storage.dtype == pl.String:
            try:
                storage = storage.cast(pl.Float64)
            except Exception:  # not a number after all: keep the text
                pass
        fixed.append(storage.alias(name))
    return frame.with_columns(fixed) if fixed else frame


def _duckdb(uri: str, sql: str, base_dir: Path | None) -> pl.DataFrame:
    duckdb = _module("duckdb")
    path = _local_file(uri, base_dir)
    con = duckdb.connect(path, read_only=True)
    try:
        return pl.DataFrame(con.sql(sql))  # an Arrow C stream: no PyArrow needed
    finally:
        con.close()


def _local_file(uri: str, base_dir: Path | None) -> str:
    p = Path(file_of(uri)).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    if not p.exists():
        # neither DuckDB nor SQLite may create an empty database where a file was expected
        raise DataError(f"database file not found: {p}")
    return str(p)


def describe(exc: BaseException, uri: str) -> str:
    """One line for a driver error: what went wrong, without the driver's noise or secrets."""
    text = str(exc).strip()
    secret_free = text
    parts = urlsplit(uri)
    if parts.password:
        secret_free = secret_free.replace(parts.password, "***")
    lines = [ln.strip() for ln in secret_free.splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    first = re.sub(r"^(?:[A-Z_]+: )?\[[^\]]+\] ", "", first)  # ADBC's "IO: [libpq] " prefix
    return first
