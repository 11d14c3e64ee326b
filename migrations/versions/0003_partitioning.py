"""Partitioning additions: the per-build location hierarchy.

(The label functions and the QGIS views over cells that this revision used to create live
in sql/partition/label_functions.sql and sql/partition/qgis_views.sql, re-applied by
``geotool db upgrade``.)

The hierarchy (``hierarchy_edges``, ``hierarchy_nodes``) is stored per partitioning set
(its location columns carry no foreign keys: they are written in bulk in the same
transaction that reads them from ``locations``, and per-row checks tripled the cost):
every build derives its own hierarchy from the images it was asked to use, so two sets
built from different datasets/splits never share (or overwrite) a hierarchy, and
dropping a set drops its hierarchy with it (ON DELETE CASCADE).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hierarchy_edges",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["partitioning_sets.id"],
                                name=op.f("fk_hierarchy_edges_set_id_partitioning_sets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("set_id", "child_id", "parent_id",
                                name=op.f("pk_hierarchy_edges")),
    )
    op.create_table(
        "hierarchy_nodes",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_edge_count", sa.BigInteger(), nullable=True),
        sa.Column("cycle_broken", sa.Boolean(), server_default=sa.text("false"),
                  nullable=False),
        sa.Column("depth", sa.Integer(), nullable=True),
        sa.Column("n_finest", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("n_images", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["partitioning_sets.id"],
                                name=op.f("fk_hierarchy_nodes_set_id_partitioning_sets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("set_id", "location_id", name=op.f("pk_hierarchy_nodes")),
    )


def downgrade() -> None:
    op.drop_table("hierarchy_nodes")
    op.drop_table("hierarchy_edges")
