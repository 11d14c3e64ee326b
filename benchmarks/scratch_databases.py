"""Fresh, migrated scratch databases for the benchmarks that write (ingest, partition).

They live on a private PostgreSQL started in a temporary folder (destroyed by ``close``)
or, with ``GEOTOOL_BENCH_DATABASE_URL`` set, on that server (an admin URL that may
create databases), so a benchmark never touches the user's own data.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from psycopg import sql

from geotool.db.server import PrivateServer
from geotool.db.urls import libpq_url, with_database


class ScratchDatabases:
    """Creates a new database at the newest schema revision on each ``fresh()``."""

    def __init__(self, tmp: Path, prefix: str = "geotool_bench") -> None:
        self.server: PrivateServer | None = None
        self.prefix = prefix
        admin = os.environ.get("GEOTOOL_BENCH_DATABASE_URL")
        if admin:
            self.admin = admin
        else:
            os.chmod(tmp, 0o755)
            self.server = PrivateServer(tmp / "server")
            self.server.start()
            self.admin = self.server.url("postgres")
        self.count = 0

    def _libpq(self, dbname: str | None = None) -> str:
        return libpq_url(self.admin, dbname or None)

    def fresh(self) -> str:
        """A new migrated database; returns its SQLAlchemy URL."""
        from geotool.db import migrate

        self.count += 1
        name = f"{self.prefix}_{os.getpid()}_{self.count}"
        with psycopg.connect(self._libpq(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(self._libpq(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        rendered = with_database(self.admin, name)
        migrate.upgrade(rendered)
        return rendered

    def copy_of(self, url: str) -> str:
        """A new database copied from ``url``'s (which must have no other connection)."""
        self.count += 1
        from sqlalchemy.engine import make_url

        source = make_url(url).database
        name = f"{self.prefix}_{os.getpid()}_{self.count}"
        with psycopg.connect(self._libpq(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(str(source))))
        return with_database(url, name)

    def close(self) -> None:
        if self.server is not None:
            self.server.destroy()
