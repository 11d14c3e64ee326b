"""The read-only viewer role and the service entries (geotool.db.viewer), on real PostGIS.

A viewer connects through the service entry geotool wrote (its password only in the 0600
pgpass file), may SELECT the viewing relations, and cannot INSERT, UPDATE, DELETE or
CREATE — also after it turns its read-only default off, so the privileges, not just the
session setting, stop it. Views re-created by `db upgrade` stay readable.
"""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.db import migrate
from geotool.db.viewer import (
    UnknownViewerError,
    ViewerExistsError,
    ViewerParams,
    create_viewer,
    drop_viewer,
    read_service,
    write_service,
)
from geotool.errors import InvalidValueError


@pytest.fixture()
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private geotool home (pgpass files) and service file for the test."""
    monkeypatch.setenv("GEOTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "pg_service.conf"))
    return tmp_path


@pytest.fixture()
def viewer(engine: Engine, homes: Path) -> Iterator[str]:
    name = f"viewer_{uuid.uuid4().hex[:8]}"
    create_viewer(engine, ViewerParams(name))
    yield name
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"),
                              {"n": name}).first()
    if exists:
        drop_viewer(engine, ViewerParams(name))


def _connect(name: str) -> psycopg.Connection:
    entry = read_service(name)
    assert entry is not None
    return psycopg.connect(entry.conninfo(), autocommit=True)


def test_viewer_reads_views_and_nothing_else(engine: Engine, viewer: str, homes: Path) -> None:
    entry = read_service(viewer)
    assert entry is not None and entry.user == viewer and entry.passfile is not None
    for path in (homes / "pg_service.conf", entry.passfile):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "password" not in (homes / "pg_service.conf").read_text()
    with _connect(viewer) as conn:
        for relation in ("qgis_cells", "qgis_predictions", "qgis_concept_countries",
                         "prediction_errors", "layer_styles", "qgis_projects", "cells"):
            conn.execute(f"SELECT count(*) FROM {relation}").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM images")
        statements = ("INSERT INTO layer_styles (stylename) VALUES ('x')",
                      "UPDATE qgis_projects SET name = name",
                      "DELETE FROM cells",
                      "CREATE TABLE public.viewer_was_here (id int)")
        for stmt in statements:  # the read-only default stops them first …
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute(stmt)
        conn.execute("SET default_transaction_read_only = off")
        for stmt in statements:  # … and the missing privileges without it
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(stmt)


def test_views_recreated_by_upgrade_stay_readable(engine: Engine, viewer: str,
                                                  db_url: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW qgis_prediction_lines"))
    migrate.upgrade(db_url)  # re-creates the views, then re-grants
    with _connect(viewer) as conn:
        assert conn.execute("SELECT count(*) FROM qgis_prediction_lines").fetchone() == (0,)


def test_existing_name_and_unknown_viewer_are_one_clear_error(engine: Engine, viewer: str,
                                                              homes: Path) -> None:
    with pytest.raises(ViewerExistsError, match="exists already"):
        create_viewer(engine, ViewerParams(viewer))
    with pytest.raises(UnknownViewerError, match="no role"):
        drop_viewer(engine, ViewerParams("nobody_here_" + uuid.uuid4().hex[:6]))
    plain = _plain_role(engine)
    with pytest.raises(UnknownViewerError, match="not a geotool viewer"):
        drop_viewer(engine, ViewerParams(plain))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP ROLE {plain}")
    with pytest.raises(InvalidValueError, match="viewer name"):
        ViewerParams("Robert'); DROP TABLE cells;--").validate()
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "viewer", "create", viewer, "--database-url", url])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "exists already" in lines[0], result.output


def _plain_role(engine: Engine) -> str:
    name = f"plain_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {name} NOLOGIN")
    return name


def test_drop_removes_role_and_service(engine: Engine, viewer: str, homes: Path) -> None:
    entry = read_service(viewer)
    assert entry is not None and entry.passfile is not None
    drop_viewer(engine, ViewerParams(viewer))
    assert read_service(viewer) is None and not entry.passfile.exists()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"),
                            {"n": viewer}).first() is None


def test_service_file_keeps_other_entries(homes: Path, db_url: str) -> None:
    file = homes / "pg_service.conf"
    file.write_text("# mine\n[other]\nhost=example.org\ndbname=x\n")
    write_service("geotool", db_url)
    write_service("geotool", db_url)  # replaced, not duplicated
    text = file.read_text()
    assert text.count("[geotool]") == 1 and "[other]\nhost=example.org" in text
    entry = read_service("geotool")
    assert entry is not None
    with psycopg.connect(entry.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
