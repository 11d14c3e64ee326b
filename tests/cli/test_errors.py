"""Errors and Ctrl-C reach the user as one clear line with what to do, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geotool.cli.app import app

REPO = Path(__file__).resolve().parents[2]


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


# ---------------------------------------------------------- user errors versus bugs
def _geotool(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m geotool ARGS`` in a real process: what a user sees on the terminal."""
    environ = {k: v for k, v in os.environ.items() if k != "GEOTOOL_DEBUG"}
    environ["PYTHONPATH"] = str(REPO) + os.pathsep + environ.get("PYTHONPATH", "")
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "geotool", *args], capture_output=True,
                          text=True, env=environ, timeout=120, check=False)


def test_user_error_is_one_line_and_debug_shows_the_traceback(db_url: str) -> None:
    args = ("build", "--name", "x", "--scheme", "hexagons", "--database-url", db_url)
    plain = _geotool(*args)
    assert plain.returncode == 1
    assert plain.stderr.strip() == (
        "error: --scheme must be semantic, s2 or countries, not 'hexagons'")
    assert "Traceback" not in plain.stderr + plain.stdout

    for debug in (_geotool("--debug", *args), _geotool(*args, env={"GEOTOOL_DEBUG": "1"})):
        assert debug.returncode == 1
        assert "Traceback (most recent call last)" in debug.stderr
        assert "PartitionError: --scheme must be semantic, s2 or countries" in debug.stderr
        assert debug.stderr.rstrip().endswith(
            "error: --scheme must be semantic, s2 or countries, not 'hexagons'")


def test_a_bug_keeps_its_traceback(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A RuntimeError (what PyTorch raises for shape mismatches and out of memory) is a
    bug, not a user error: it is not turned into one quiet line."""

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)")

    monkeypatch.setattr("geotool.cli.build.build_partitioning", broken)
    res = CliRunner().invoke(app, ["build", "--name", "x", "--database-url", db_url])
    assert res.exit_code == 1
    assert isinstance(res.exception, RuntimeError)  # escaped: Python prints its traceback
    assert "error:" not in res.output

    # the same in a real process: the traceback reaches the terminal, exit status 1
    code = ("import sys, geotool.cli.build as b\n"
            "def broken(*a, **k):\n"
            "    raise RuntimeError('mat1 and mat2 shapes cannot be multiplied')\n"
            "b.build_partitioning = broken\n"
            "sys.argv = ['geotool'] + sys.argv[1:]\n"
            "from geotool.cli.app import main\n"
            "main()\n")
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    environ.pop("GEOTOOL_DEBUG", None)
    proc = subprocess.run([sys.executable, "-c", code, "build", "--name", "x",
                           "--database-url", db_url], capture_output=True, text=True,
                          env=environ, timeout=120, check=False)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied")


def test_other_database_errors_are_bugs(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only an unreachable or unmigrated database is the user's to fix; a statement the
    server refuses is geotool's bug and keeps its traceback."""
    import sqlalchemy as sa

    def bad_sql(*_args: object, **_kwargs: object) -> None:
        with sa.create_engine(db_url).connect() as conn:
            conn.execute(sa.text("SELECT 1/0"))

    monkeypatch.setattr("geotool.cli.build.build_partitioning", bad_sql)
    res = CliRunner().invoke(app, ["build", "--name", "x", "--database-url", db_url])
    assert res.exit_code == 1
    assert isinstance(res.exception, sa.exc.DataError)
    assert "error:" not in res.output


def test_verbose_turns_on_logging(db_url: str, tmp_path: Path) -> None:
    release = tmp_path / "m_2.csv"
    release.write_text("class_index,class_label,latitude_mean,longitude_mean\n0,R1,1,2\n")
    args = ("partitions", "import", "ref", str(release), "--database-url", db_url)
    quiet = _geotool(*args)
    assert quiet.returncode == 0, quiet.stderr
    assert "geotool.db.runs" not in quiet.stderr and "SELECT" not in quiet.stderr
    verbose = _geotool("-v", *args)
    assert verbose.returncode == 0, verbose.stderr
    assert "started" in verbose.stderr and "done" in verbose.stderr  # the run's log lines
    assert "SELECT" not in verbose.stderr
    very = _geotool("-vv", *args)
    assert very.returncode == 0, very.stderr
    assert "SELECT" in very.stderr  # -vv: the SQL statements too
