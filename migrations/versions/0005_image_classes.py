"""Labels stored as one row per (partitioning set, image): ``image_classes``.

Until 0004 a build wrote one ``image_labels`` row per image and partitioning, each with
three foreign keys checked row by row: at 1 M images and three partitionings that was
3 M inserts and more than half of the build time. Now a build writes one row per
labelled image, ``image_classes(set_id, image_id, cell_ids)``, where ``cell_ids[k]`` is
the image's cell in the partitioning of level k - 1 (fine -> coarse; NULL = unlabelled
at that level; images unlabelled at every level have no row).

The rows carry no foreign keys (no per-row checks); the cascades they gave are kept by
triggers instead (sql/partition/image_classes_cascades.sql):
- deleting a partitioning set (directly, or through its dataset) deletes its rows, and
  its hierarchy_edges and hierarchy_nodes rows, whose set_id foreign keys are dropped
  for the same reason (a build writes ~0.2 rows per image there);
- deleting images deletes their rows (one statement-level trigger per DELETE);
- truncating partitioning_sets or images (e.g. TRUNCATE datasets CASCADE) truncates
  the dependent tables.
Cells are only ever deleted with their set, so ``cell_ids`` cannot dangle.

Also an index on ``cell_ancestors.ancestor_cell_id``: without it, deleting a set (every
rebuild) checked that foreign key with one scan of ``cell_ancestors`` per deleted cell.

``image_labels`` stays readable with the same columns as before, as a view
(``partitioning_id, image_id, cell_id``; one row per labelled image and partitioning;
sql/partition/image_labels_view.sql). ``geotool_labels`` and
``geotool_create_label_view`` (sql/partition/label_functions.sql) read ``image_classes``
directly; ``geotool db upgrade`` re-creates the ``labels_<set>`` views it dropped before
migrating. Existing labels are carried over (and back on downgrade).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HIERARCHY_TABLES = ("hierarchy_edges", "hierarchy_nodes")


def upgrade() -> None:
    op.create_table(
        "image_classes",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("cell_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.PrimaryKeyConstraint("set_id", "image_id", name=op.f("pk_image_classes")),
    )
    op.execute(
        "INSERT INTO image_classes (set_id, image_id, cell_ids) "
        "SELECT s.set_id, s.image_id, array_agg(il.cell_id ORDER BY p.level) "
        "FROM (SELECT DISTINCT p.set_id, il.image_id FROM image_labels il "
        "      JOIN partitionings p ON p.id = il.partitioning_id) s "
        "JOIN partitionings p ON p.set_id = s.set_id "
        "LEFT JOIN image_labels il ON il.partitioning_id = p.id AND il.image_id = s.image_id "
        "GROUP BY s.set_id, s.image_id"
    )
    op.drop_index("ix_image_labels_cell_id", table_name="image_labels")
    op.drop_table("image_labels")
    op.create_index("ix_cell_ancestors_ancestor_cell_id", "cell_ancestors",
                    ["ancestor_cell_id"], unique=False)
    for table in HIERARCHY_TABLES:
        op.drop_constraint(f"fk_{table}_set_id_partitioning_sets", table, type_="foreignkey")


def downgrade() -> None:
    op.drop_index("ix_cell_ancestors_ancestor_cell_id", table_name="cell_ancestors")
    # the view of the same name (sql/partition/image_labels_view.sql) gives way to the table
    op.execute("DROP VIEW IF EXISTS image_labels CASCADE")
    op.create_table(
        "image_labels",
        sa.Column("partitioning_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("cell_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"],
                                name=op.f("fk_image_labels_cell_id_cells"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"],
                                name=op.f("fk_image_labels_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["partitioning_id"], ["partitionings.id"],
                                name=op.f("fk_image_labels_partitioning_id_partitionings"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partitioning_id", "image_id", name=op.f("pk_image_labels")),
    )
    op.create_index("ix_image_labels_cell_id", "image_labels", ["cell_id"], unique=False)
    op.execute(
        "INSERT INTO image_labels (partitioning_id, image_id, cell_id) "
        "SELECT p.id, ic.image_id, ic.cell_ids[p.level + 1] FROM image_classes ic "
        "JOIN partitionings p ON p.set_id = ic.set_id "
        "WHERE ic.cell_ids[p.level + 1] IS NOT NULL"
    )
    for table in HIERARCHY_TABLES:
        op.create_foreign_key(f"fk_{table}_set_id_partitioning_sets", table,
                              "partitioning_sets", ["set_id"], ["id"], ondelete="CASCADE")
    op.drop_table("image_classes")
