"""Run records: done / failed / interrupted from the context manager, and ``died`` for a
process killed outright (the advisory lock of its session is gone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from geotool.db.runs import recorded_run


def _status(engine: sa.Engine, run_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT status FROM runs_status WHERE id = :i"),
                                {"i": run_id}).scalar_one())


def test_recorded_run_outcomes(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with recorded_run(engine, "test", {"a": 1}) as run:
        assert _status(engine, run.id) == "running"
        run.summary["n"] = 3
    assert _status(engine, run.id) == "done"
    with pytest.raises(ValueError), recorded_run(engine, "test", {}) as failing:
        raise ValueError("boom")
    assert _status(engine, failing.id) == "failed"
    with pytest.raises(KeyboardInterrupt), recorded_run(engine, "test", {}) as stopped:
        raise KeyboardInterrupt
    assert _status(engine, stopped.id) == "interrupted"
    with engine.connect() as conn:
        summary = conn.execute(sa.text("SELECT summary FROM runs WHERE id = :i"),
                               {"i": run.id}).scalar_one()
    assert summary == {"n": 3}


def test_killed_run_shows_as_died(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(db_url)
    ready = tmp_path / "ready"
    script = (
        "import sys, time, pathlib, sqlalchemy as sa\n"
        "from geotool.db.runs import recorded_run\n"
        "e = sa.create_engine(sys.argv[1])\n"
        "with recorded_run(e, 'test', {}) as r:\n"
        "    pathlib.Path(sys.argv[2]).write_text(str(r.id))\n"
        "    time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, db_url, str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() or not ready.read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        run_id = int(ready.read_text())
        assert _status(engine, run_id) == "running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30  # the server notices the dead client's socket
    while _status(engine, run_id) != "died":
        assert time.monotonic() < deadline, "run still shows as running after SIGKILL"
        time.sleep(0.2)
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT status FROM runs WHERE id = :i"),
                           {"i": run_id}).scalar_one()
    assert raw == "running"  # the table is not rewritten by readers
