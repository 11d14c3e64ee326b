"""Records of pipeline runs: every stage writes its parameters and outcome to ``runs``.

A stage records its run with :func:`recorded_run`, a context manager that inserts the
``runs`` row (status ``running``), and on the way out sets ``done``, ``failed`` (an
exception) or ``interrupted`` (Ctrl-C). A process that is killed outright (SIGKILL, power
loss) cannot write anything; so while the run is alive its own database session holds a
session-level advisory lock keyed by the run's id, which PostgreSQL releases when that
session ends. The ``runs_status`` view (``sql/db/runs_status.sql``) shows a ``running``
row whose lock nobody holds as ``died``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: First key of the two-key advisory locks that mark live runs (the second is the run id).
#: Also written in the ``runs_status`` view (sql/db/runs_status.sql); change both together.
RUN_LOCK_CLASS = 1734700915

log = logging.getLogger(__name__)


def start_run(conn: Connection, stage: str, params: dict[str, Any],
              dataset_id: int | None = None) -> int:
    row = conn.execute(
        sa.text("INSERT INTO runs (stage, dataset_id, params) "
                "VALUES (:stage, :dataset_id, CAST(:params AS jsonb)) RETURNING id"),
        {"stage": stage, "dataset_id": dataset_id, "params": json.dumps(params, default=str)},
    ).one()
    return int(row[0])


def finish_run(conn: Connection, run_id: int, status: str = "done",
               summary: dict[str, Any] | None = None) -> None:
    conn.execute(
        sa.text("UPDATE runs SET status = :status, summary = CAST(:summary AS jsonb), "
                "finished_at = now() WHERE id = :id"),
        {"id": run_id, "status": status, "summary": json.dumps(summary or {}, default=str)},
    )


def record_stop(engine: Engine, run_id: int, exc: BaseException,
                summary: dict[str, Any] | None = None) -> None:
    """Mark a run that ended by ``exc``: ``interrupted`` for Ctrl-C, else ``failed``.

    Best effort: when the database itself is what failed, recording cannot work either,
    and the original error is the one the caller must see, so errors here are dropped.
    """
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    detail = {**(summary or {}), "error": str(exc) or type(exc).__name__}
    with contextlib.suppress(Exception), engine.begin() as conn:
        finish_run(conn, run_id, status, detail)


@dataclass
class RunRecord:
    """The live run handed out by :func:`recorded_run`.

    ``summary`` is written to the row when the run ends (whichever way it ends); the stage
    fills it as it goes.
    """

    id: int
    summary: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def recorded_run(engine: Engine, stage: str, params: dict[str, Any],
                 dataset_id: int | None = None) -> Iterator[RunRecord]:
    """Record one run of ``stage``: ``running`` now, then done / failed / interrupted.

    The row is committed at once (so other sessions see the run while it works) and a
    dedicated connection holds the run's advisory lock until the block ends, which is
    how a killed process is told apart from a running one (``runs_status.status``).
    """
    with engine.begin() as conn:
        run_id = start_run(conn, stage, params, dataset_id)
    record = RunRecord(run_id)
    log.info("run %d (%s) started", run_id, stage)
    with engine.connect() as lock_conn:
        lock_conn.execute(sa.text("SELECT pg_advisory_lock(:c, :r)"),
                          {"c": RUN_LOCK_CLASS, "r": run_id})
        lock_conn.commit()
        try:
            yield record
        except BaseException as exc:
            record_stop(engine, run_id, exc, record.summary)
            log.info("run %d (%s) ended: %s", run_id, stage, type(exc).__name__)
            raise
        else:
            with engine.begin() as conn:
                finish_run(conn, run_id, "done", record.summary)
            log.info("run %d (%s) done", run_id, stage)
        finally:
            with contextlib.suppress(Exception):
                lock_conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :r)"),
                                  {"c": RUN_LOCK_CLASS, "r": run_id})
                lock_conn.commit()


@dataclass(frozen=True)
class RunStatus:
    """One row of ``runs_status``: a run with its status as seen now (``died`` included)."""

    id: int
    stage: str
    dataset: str | None
    status: str
    started_at: Any
    finished_at: Any
    params: dict[str, Any]
    summary: dict[str, Any]


def recent_runs(engine: Engine, limit: int = 20, stage: str | None = None) -> list[RunStatus]:
    """The ``limit`` most recent runs (newest first), optionally of one ``stage``."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT r.id, r.stage, d.name, r.status, r.started_at, r.finished_at, r.params, "
            "       r.summary "
            "FROM runs_status r LEFT JOIN datasets d ON d.id = r.dataset_id "
            "WHERE CAST(:stage AS text) IS NULL OR r.stage = :stage "
            "ORDER BY r.id DESC LIMIT :limit"), {"stage": stage, "limit": limit}).all()
    return [RunStatus(int(r[0]), str(r[1]), r[2], str(r[3]), r[4], r[5], dict(r[6] or {}),
                      dict(r[7] or {})) for r in rows]
