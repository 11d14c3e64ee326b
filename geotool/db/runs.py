"""Records of pipeline runs: every stage writes its parameters and outcome to ``runs``."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


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
