"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp folder,
a free port on 127.0.0.1, the unix socket in the same folder, trust auth for local
connections except the user ``secret_user`` (password auth), removed on :meth:`stop`.

As root (initdb refuses root), the server runs as the ``postgres`` user (or ``nobody``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PASSWORD = "s3cret-pw"  # of the role secret_user, for the wrong-password tests
_SEARCH = [f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15, 14, 13)]


def find_bin(name: str) -> str:
    for folder in _SEARCH:
        p = Path(folder) / name
        if p.exists():
            return str(p)
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(
        f"PostgreSQL's {name} is not installed: the SQL tests need a real server "
        "(Debian: apt-get install -y postgresql; see the README test command)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.initdb = find_bin("initdb")
        self.pg_ctl = find_bin("pg_ctl")
        self.dir = Path(tempfile.mkdtemp(prefix="truenorth-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                break
            shutil.chown(self.dir, self.user)
        os.chmod(self.dir, 0o755)

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    def _check(self, *args: str) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True)
        if proc.returncode != 0:
            log = self.statements()[-2000:]
            raise RuntimeError(
                f"{Path(args[0]).name} failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}\n{log}"
            )

    def start(self) -> Cluster:
        hba = self.dir / "pg_hba.conf"
        self._check(
            self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
            "-E", "UTF8", "--locale", "C",
        )  # fmt: skip
        hba.write_text(
            "local all secret_user scram-sha-256\n"
            "host all secret_user 127.0.0.1/32 scram-sha-256\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        if self.user:
            shutil.chown(hba, self.user)
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.dir} -c hba_file={hba} -c fsync=off "
            "-c log_statement=all -c logging_collector=off"
        )
        self._check(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w",
                    "-t", "30", "start")  # fmt: skip
        try:
            self.sql(f"CREATE ROLE secret_user LOGIN PASSWORD '{PASSWORD}'")
            self.sql("GRANT pg_read_all_data TO secret_user")
        except BaseException:
            self.stop()  # a half-started cluster is stopped and removed, not left running
            raise
        return self

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def sql(self, statement: str) -> None:
        import adbc_driver_manager as adbc
        import adbc_driver_postgresql

        db = adbc_driver_postgresql.connect(self.uri)
        conn = adbc.AdbcConnection(db)
        stmt = adbc.AdbcStatement(conn)
        try:
            stmt.set_sql_query(statement)
            stmt.execute_update()
        finally:
            stmt.close()
            conn.close()
            db.close()

    def load(self, table: str, frame: object) -> None:
        """Create ``table`` from a Polars frame (through ADBC's bulk ingest)."""
        frame.write_database(table, self.uri, engine="adbc", if_table_exists="replace")  # type: ignore[attr-defined]

    def statements(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        try:
            subprocess.run(
                self._cmd(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                capture_output=True, timeout=60,
            )  # fmt: skip
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_gone(port: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.05)
    return False
