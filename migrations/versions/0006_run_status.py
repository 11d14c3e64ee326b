"""Runs whose process died show as ``died``: the ``runs_status`` view.

A stage's run holds a session-level advisory lock (class 1734700915, object = run id)
for as long as its process lives (``geotool.db.runs.recorded_run``). A row still marked
``running`` whose lock nobody holds belonged to a process that was killed (SIGKILL, power
loss, a lost connection): the view reports it as ``died``. The table itself is not
changed, so a run that is merely slow is never rewritten by a reader.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RUNS_STATUS_VIEW = """
CREATE VIEW runs_status AS
SELECT r.id, r.stage, r.dataset_id, r.params, r.summary, r.started_at, r.finished_at,
       CASE
           WHEN r.status = 'running' AND NOT EXISTS (
               SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted
                 AND l.classid::bigint = 1734700915 AND l.objid::bigint = r.id
                 AND l.objsubid = 2)
           THEN 'died'
           ELSE r.status
       END AS status
FROM runs r
"""


def upgrade() -> None:
    op.execute(RUNS_STATUS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS runs_status")
