"""The private PostgreSQL/PostGIS server: create, stop, restart, reuse, and clear errors."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.db.server import PrivateServer, ServerError, find_pg_bin


@pytest.fixture()
def server_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="geotool-srv-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base / "server"
    PrivateServer(base / "server").destroy()
    shutil.rmtree(base, ignore_errors=True)


def _pids(server: PrivateServer) -> int:
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


def test_up_down_reuse(server_dir: Path, pg_server: PrivateServer) -> None:
    server = PrivateServer(server_dir)
    assert not server.running()
    server.start()
    assert server.running()
    first_pid = _pids(server)
    server.start()  # already running: a no-op, same process
    assert _pids(server) == first_pid
    server.create_database("geotool")
    with psycopg.connect(server.dsn("geotool")) as conn:
        conn.execute("CREATE TABLE keep (x int)")
        conn.execute("INSERT INTO keep VALUES (42)")
        conn.commit()
        postgis = conn.execute("SELECT postgis_version()").fetchone()
    assert postgis is not None
    port = server.port
    # `db down` ends the clients' connections from the server's side; once a client has
    # read that and closed, the server's end lingers in TIME_WAIT on its port for a minute.
    # `db up` must still take the same port (saved URLs name it): before SO_REUSEADDR in
    # the port check the server moved to another one (issue 17).
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    time.sleep(0.3)  # the postmaster has forked a backend for each
    server.stop()
    assert not server.running()
    for client in clients:
        client.settimeout(10)
        while client.recv(4096):  # read to the server's FIN, then close: no RST
            pass
        client.close()
    # a second object on the same folder reuses the cluster, its data and its port
    again = PrivateServer(server_dir)
    again.start()
    assert again.port == port
    with psycopg.connect(again.dsn("geotool")) as conn:
        row = conn.execute("SELECT x FROM keep").fetchone()
    assert row == (42,)
    if os.geteuid() == 0:
        owner = (server.data_dir / "PG_VERSION").stat().st_uid
        assert owner != 0, "the cluster must not be owned by root"
    assert stat.S_IMODE(server.state_file.stat().st_mode) == 0o600


def test_password_required(pg_server: PrivateServer) -> None:
    bad = pg_server.dsn().replace(f"password={pg_server.password}", "password=wrong")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(bad, connect_timeout=3)


def test_missing_initdb_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("GEOTOOL_PG_BIN", str(tmp_path))
    monkeypatch.setattr("geotool.db.server.PG_BIN_CANDIDATES", [])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="apt-get install postgresql"):
        find_pg_bin()


def test_missing_postgis_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    share = tmp_path / "share"
    (share / "extension").mkdir(parents=True)
    (fake_bin / "initdb").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "pg_config").write_text(f"#!/bin/sh\necho {share}\n")
    for f in fake_bin.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("GEOTOOL_PG_BIN", str(fake_bin))
    with pytest.raises(ServerError, match="postgis"):
        PrivateServer(tmp_path / "srv").init()


def test_cli_db_commands(server_dir: Path, monkeypatch: pytest.MonkeyPatch,
                         pg_server: PrivateServer) -> None:
    monkeypatch.setenv("GEOTOOL_SERVER_DIR", str(server_dir))
    runner = CliRunner()
    res = runner.invoke(app, ["db", "up"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["db", "upgrade"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["db", "status"])
    assert res.exit_code == 0, res.output
    assert "running:        True" in res.output
    from geotool.db.migrate import head_revision

    assert f"schema:         {head_revision()}" in res.output
    res = runner.invoke(app, ["db", "url"])
    assert res.exit_code == 0 and "127.0.0.1" in res.output
    res = runner.invoke(app, ["db", "downgrade", "base"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["db", "down"])
    assert res.exit_code == 0, res.output
    assert not PrivateServer(server_dir).running()

