"""Errors and Ctrl-C reach the user as one clear line with what to do, not a traceback."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from geotool.cli.app import app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_database_says_what_to_check() -> None:
    url = f"postgresql://nobody:secret@127.0.0.1:{_closed_port()}/nothing"
    res = CliRunner().invoke(app, ["partitions", "list", "--database-url", url])
    assert res.exit_code == 1
    assert "cannot use the database" in res.output and "GEOTOOL_DATABASE_URL" in res.output
    assert "Traceback" not in res.output and "secret" not in res.output


def test_unmigrated_database_says_to_upgrade(empty_db_url: str) -> None:
    res = CliRunner().invoke(app, ["partitions", "list", "--database-url", empty_db_url])
    assert res.exit_code == 1
    assert "geotool db upgrade" in res.output


def test_ctrl_c_says_how_to_continue(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("geotool.cli.build.build_partitioning", interrupted)
    res = CliRunner().invoke(app, ["build", "--name", "x", "--database-url", db_url])
    assert res.exit_code == 130
    assert "Ctrl-C" in res.output and "same command again" in res.output
    assert "Traceback" not in res.output
