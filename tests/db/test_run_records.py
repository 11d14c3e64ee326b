"""Every stage records its run the same way: a real ``geotool build`` killed with SIGKILL
shows as ``died`` in ``geotool runs``; a failing ``partitions import`` ends ``failed``
and leaves the set it was replacing, and no stale ``labels_<name>`` view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.partition_data import load_world, polygon_world
from typer.testing import CliRunner

from geotool.cli.app import app
from geotool.partition.build import BuildParams, build_partitioning
from geotool.partition.reference_import import ReferenceParams, import_reference

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _runs(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(str(r[0]), str(r[1])) for r in conn.execute(sa.text(
            "SELECT stage, status FROM runs_status ORDER BY id"))]


def _views(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            "SELECT viewname FROM pg_views WHERE viewname LIKE 'labels\\_%'")).scalars())


def test_killed_build_shows_as_died(engine: Engine, db_url: str) -> None:
    with engine.begin() as conn:
        load_world(conn, polygon_world())
    # Hold the lock every build takes, so the real build waits inside its transaction,
    # with its run row committed as running, until it is killed.
    blocker = engine.connect()
    blocker.execute(sa.text("SELECT pg_advisory_lock(hashtext('geotool_build'))"))
    blocker.commit()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "geotool", "build", "--name", "semp",
                             "--tau", "3", "--database-url", db_url], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _runs(engine) != [("build", "running")]:
            assert proc.poll() is None, "geotool build ended before it could be killed"
            assert time.monotonic() < deadline, _runs(engine)
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30  # the server notices the dead client's socket
    while _runs(engine) != [("build", "died")]:
        assert time.monotonic() < deadline, f"after SIGKILL: {_runs(engine)}"
        time.sleep(0.2)
    blocker.execute(sa.text("SELECT pg_advisory_unlock(hashtext('geotool_build'))"))
    blocker.close()  # (back to the pool: the session lives on, so unlock first)

    res = runner.invoke(app, ["runs", "--database-url", db_url])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if " build " in line)
    assert "died" in row and " d " in row  # stage, dataset and status of the killed run

    # the same command again finishes, and is listed first
    res = runner.invoke(app, ["build", "--name", "semp", "--tau", "3", "--database-url", db_url])
    assert res.exit_code == 0, res.output
    assert _runs(engine) == [("build", "died"), ("build", "done")]
    res = runner.invoke(app, ["runs", "--stage", "build", "--limit", "1",
                              "--database-url", db_url])
    assert res.exit_code == 0 and "done" in res.output and "died" not in res.output


def _semp_release(folder: Path, duplicate: bool = False) -> list[Path]:
    folder.mkdir(exist_ok=True)
    coarse = folder / "m_1.csv"
    coarse.write_text("class_index,class_label,latitude_mean,longitude_mean\n0,R1,5,5\n")
    fine = folder / "m_2.csv"
    rows = ["0,R2,5,2", "1,R3,5,7"] + (["1,R9,6,7"] if duplicate else [])
    fine.write_text("class_index,class_label,latitude_mean,longitude_mean\n"
                    + "\n".join(rows) + "\n")
    return [coarse, fine]


def test_failed_import_ends_failed_and_keeps_the_old_set(engine: Engine, db_url: str,
                                                          tmp_path: Path) -> None:
    with engine.begin() as conn:
        load_world(conn, polygon_world())
    build_partitioning(engine, BuildParams(name="semp", taus=(3,)))
    assert _views(engine) == {"labels_semp"}

    # unreadable release file: one line, exit 1, the run failed, the old set untouched
    bad = tmp_path / "m_5.csv"
    bad.write_text("class,label\n0,R1\n")
    res = runner.invoke(app, ["partitions", "import", "semp", str(bad),
                              "--database-url", db_url])
    assert res.exit_code == 1 and "is not a SemP m_<n>.csv" in res.output
    assert "Traceback" not in res.output
    assert _runs(engine) == [("build", "done"), ("build", "failed")]

    # a failure inside the replacing transaction (a class index twice): rolled back whole
    files = _semp_release(tmp_path / "dup", duplicate=True)
    with pytest.raises(sa.exc.IntegrityError):
        import_reference(engine, ReferenceParams("semp", tuple(files)))
    assert _runs(engine)[-1] == ("build", "failed")
    assert _views(engine) == {"labels_semp"}
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT scheme FROM partitioning_sets WHERE name = 'semp'")).scalar_one() == "semantic"
        error = conn.execute(sa.text(
            "SELECT summary->>'error' FROM runs ORDER BY id DESC LIMIT 1")).scalar_one()
    assert "duplicate key" in error

    # a good import replaces the built set, and its label view goes with it
    res = runner.invoke(app, ["partitions", "import", "semp", *map(str, _semp_release(
        tmp_path / "good")), "--database-url", db_url])
    assert res.exit_code == 0, res.output
    assert _views(engine) == set()
    assert _runs(engine)[-1] == ("build", "done")
    with engine.connect() as conn:
        scheme, params = conn.execute(sa.text(
            "SELECT scheme, params FROM partitioning_sets WHERE name = 'semp'")).one()
        summary = conn.execute(sa.text(
            "SELECT summary FROM runs ORDER BY id DESC LIMIT 1")).scalar_one()
    assert scheme == "imported" and json.dumps(params)
    assert summary["set_id"] > 0
