"""Records of pipeline runs: every stage writes its parameters and outcome to ``runs``."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


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
