"""Runs whose process died show as ``died``: the ``runs_status`` view.

The view now lives in sql/db/runs_status.sql (re-applied by ``geotool db upgrade``, like
every function and view); this revision changes no table and is kept so that the chain
of revisions stays the same.

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
