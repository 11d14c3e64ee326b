"""``geotool runs``: the recent runs of every stage and how each ended.

A run whose process was killed outright (SIGKILL, power loss) shows as ``died``: the
``runs_status`` view sees that its session's advisory lock is gone.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from geotool.cli.common import DatabaseUrlOption, friendly_errors, out, uncut_table
from geotool.db.engine import get_engine
from geotool.db.runs import recent_runs

STATUS_STYLE = {"done": "green", "running": "cyan", "failed": "red", "interrupted": "yellow",
                "died": "bold red"}


def run_detail(summary: dict[str, Any], params: dict[str, Any]) -> Any:
    """The detail column: the error of a failed run, else what it ran on — the name it
    made (build, train) or the model it used (predict, concepts, concepts-verify)."""
    if summary.get("error"):
        return summary["error"]
    if params.get("name"):
        return params["name"]
    if params.get("model"):
        return f"model {params['model']}"
    return ""


@friendly_errors
def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs to list.")] = 20,
    stage: Annotated[str | None, typer.Option(
        help="Only runs of this stage (ingest, geocode, build, ...).")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List the most recent runs (newest first) with stage, dataset, status and duration.

    Status is running, done, failed, interrupted (Ctrl-C) or died (the process was
    killed; run the same command again to continue).

    Example: geotool runs --limit 10 --stage geocode
    """
    table = uncut_table("id", "stage", "dataset", "status", "started", "seconds", "detail")
    for run in recent_runs(get_engine(database_url), limit, stage):
        seconds = ("-" if run.finished_at is None
                   else f"{(run.finished_at - run.started_at).total_seconds():,.1f}")
        detail = run_detail(run.summary, run.params)
        style = STATUS_STYLE.get(run.status, "")
        table.add_row(str(run.id), run.stage, run.dataset or "-",
                      f"[{style}]{run.status}[/]" if style else run.status,
                      str(run.started_at)[:19], seconds,
                      detail if isinstance(detail, str) else json.dumps(detail))
    out.print(table)
