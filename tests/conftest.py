"""Test fixtures: a real PostgreSQL/PostGIS for every test that needs one.

The database comes from ``--database-url``/``GEOTOOL_TEST_DATABASE_URL`` (an admin URL
of any PostGIS server that allows CREATE DATABASE) or, by default, from a private
server that geotool starts in a temporary folder for this test session. With
``CI=true`` a missing PostgreSQL or PostGIS fails the run instead of skipping tests.

``db_url`` gives each test its own database, copied from a template that was migrated
to head once per session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Engine
from support.requires import skip_or_fail

from geotool.db import migrate
from geotool.db.server import PrivateServer, ServerError
from geotool.db.urls import libpq_url, with_database

# Session fixtures shared by many modules live in plugins, so that each runs once per session
# (a fixture imported into several test modules would run once per module).
pytest_plugins = ["support.nominatim_fixtures", "support.viewing_planet"]

TEMPLATE = "geotool_test_template"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--database-url", default=None, help="admin URL of a PostGIS server")


#: Fixtures that need a Nominatim import (support/nominatim_fixtures.py): a test using one
#: is marked ``nominatim`` automatically, so ``-m "not nominatim"`` leaves them out.
NOMINATIM_FIXTURES = {"nominatim_world", "nominatim_db", "inprocess_geocoder", "address_map_dsn"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if NOMINATIM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.nominatim)


def _unavailable(reason: str) -> None:
    skip_or_fail(f"PostGIS is unavailable: {reason}")


def _libpq(url: str, dbname: str | None = None) -> str:
    return libpq_url(url, dbname or None)


class TestCluster:
    """Creates and drops databases on the session's PostGIS server."""

    template = TEMPLATE  # the database migrated to head once per session

    def __init__(self, admin_url: str, server: PrivateServer | None) -> None:
        self.admin_url = admin_url
        self.server = server

    def url(self, dbname: str) -> str:
        return with_database(self.admin_url, dbname)

    def create(self, dbname: str, template: str | None = None) -> str:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))
            if template:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(dbname), sql.Identifier(template)))
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        if not template:
            with psycopg.connect(_libpq(self.admin_url, dbname), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return self.url(dbname)

    def drop(self, dbname: str) -> None:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PrivateServer]:
    """A private PostgreSQL server in a temporary folder, for this test session."""
    base = Path(tempfile.mkdtemp(prefix="geotool-test-", dir="/tmp"))
    os.chmod(base, 0o755)
    server = PrivateServer(base / "server")
    try:
        server.start()
    except ServerError as exc:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(str(exc))
    yield server
    server.destroy()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[TestCluster]:
    """The session's PostGIS server with a template database migrated to head."""
    external = request.config.getoption("--database-url") or os.environ.get(
        "GEOTOOL_TEST_DATABASE_URL"
    )
    if external:
        c = TestCluster(external, None)
    else:
        server = request.getfixturevalue("pg_server")
        c = TestCluster(server.url("postgres"), server)
    c.create(TEMPLATE)
    migrate.upgrade(c.url(TEMPLATE))
    yield c
    c.drop(TEMPLATE)


@pytest.fixture()
def db_url(cluster: TestCluster) -> Iterator[str]:
    """A fresh database at the newest schema revision, dropped after the test."""
    name = f"geotool_t_{uuid.uuid4().hex[:10]}"
    url = cluster.create(name, template=TEMPLATE)
    yield url
    sa_engines_dispose()
    cluster.drop(name)


@pytest.fixture()
def empty_db_url(cluster: TestCluster) -> Iterator[str]:
    """A fresh database with PostGIS and no geotool tables."""
    name = f"geotool_e_{uuid.uuid4().hex[:10]}"
    url = cluster.create(name)
    yield url
    sa_engines_dispose()
    cluster.drop(name)


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture()
def reference_engine(cluster: TestCluster) -> Iterator[Engine]:
    """A second fresh database at the newest revision, for a reference run to compare with."""
    name = f"geotool_r_{uuid.uuid4().hex[:10]}"
    eng = sa.create_engine(cluster.create(name, template=TEMPLATE))
    yield eng
    eng.dispose()
    cluster.drop(name)


def sa_engines_dispose() -> None:
    """Close pooled connections of geotool's cached engines so databases can be dropped."""
    from geotool.db.engine import dispose_engines

    dispose_engines()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's own geotool home or private server from a test."""
    home = tmp_path_factory.getbasetemp() / "geotool-home"
    monkeypatch.setenv("GEOTOOL_HOME", str(home))
    monkeypatch.setenv("GEOTOOL_SERVER_DIR", str(home / "server"))
    monkeypatch.delenv("GEOTOOL_DATABASE_URL", raising=False)
    monkeypatch.delenv("GEOTOOL_CONFIG", raising=False)
