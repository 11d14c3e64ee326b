"""Labels stored as one row per (partitioning set, image): ``image_classes``.

Until 0004 a build wrote one ``image_labels`` row per image and partitioning, each with
three foreign keys checked row by row: at 1 M images and three partitionings that was
3 M inserts and more than half of the build time. Now a build writes one row per
labelled image, ``image_classes(set_id, image_id, cell_ids)``, where ``cell_ids[k]`` is
the image's cell in the partitioning of level k - 1 (fine -> coarse; NULL = unlabelled
at that level; images unlabelled at every level have no row).

The rows carry no foreign keys (no per-row checks); the cascades they gave are kept by
triggers instead:
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
(``partitioning_id, image_id, cell_id``; one row per labelled image and partitioning).
``geotool_labels`` and ``geotool_create_label_view`` read ``image_classes`` directly;
existing ``labels_<set>`` views are recreated. Existing labels are carried over (and
back on downgrade).

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

IMAGE_LABELS_VIEW = """
CREATE VIEW image_labels AS
SELECT p.id AS partitioning_id, ic.image_id, ic.cell_ids[p.level + 1] AS cell_id
FROM image_classes ic
JOIN partitionings p ON p.set_id = ic.set_id
WHERE ic.cell_ids[p.level + 1] IS NOT NULL
"""

CASCADE_TRIGGERS = """
CREATE FUNCTION geotool_image_classes_set_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
-- ON DELETE CASCADE of set_id in image_classes, hierarchy_edges and hierarchy_nodes,
-- done by trigger (no per-row foreign-key checks when a build writes them).
BEGIN
    DELETE FROM image_classes WHERE set_id = OLD.id;
    DELETE FROM hierarchy_edges WHERE set_id = OLD.id;
    DELETE FROM hierarchy_nodes WHERE set_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER image_classes_set_deleted AFTER DELETE ON partitioning_sets
FOR EACH ROW EXECUTE FUNCTION geotool_image_classes_set_deleted();

CREATE FUNCTION geotool_image_classes_images_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
-- ON DELETE CASCADE of image_classes.image_id, once per DELETE statement on images.
BEGIN
    DELETE FROM image_classes ic USING gone_images g WHERE ic.image_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER image_classes_images_deleted AFTER DELETE ON images
REFERENCING OLD TABLE AS gone_images
FOR EACH STATEMENT EXECUTE FUNCTION geotool_image_classes_images_deleted();

CREATE FUNCTION geotool_image_classes_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
-- TRUNCATE ... CASCADE of the tables the dropped foreign keys pointed to.
BEGIN
    IF TG_TABLE_NAME = 'partitioning_sets' THEN
        TRUNCATE image_classes, hierarchy_edges, hierarchy_nodes;
    ELSE
        TRUNCATE image_classes;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER image_classes_sets_truncated AFTER TRUNCATE ON partitioning_sets
FOR EACH STATEMENT EXECUTE FUNCTION geotool_image_classes_truncated();
CREATE TRIGGER image_classes_images_truncated AFTER TRUNCATE ON images
FOR EACH STATEMENT EXECUTE FUNCTION geotool_image_classes_truncated();
"""

LABELS_FUNCTION = """
CREATE OR REPLACE FUNCTION geotool_labels(set_name text, want_split text DEFAULT NULL)
RETURNS TABLE (image_id bigint, external_id text, path text, lat double precision,
               lon double precision, split text, classes integer[])
LANGUAGE sql STABLE AS $$
    -- One row per image of the set's dataset (optionally one split); classes[k] is the
    -- class index in the partitioning of level k-1 (fine -> coarse), NULL = unlabelled.
    SELECT i.id, i.external_id, i.path, i.lat, i.lon, i.split,
           array_agg(c.class_index ORDER BY p.level)
    FROM partitioning_sets s
    JOIN partitionings p ON p.set_id = s.id
    JOIN images i ON i.dataset_id = s.dataset_id
    LEFT JOIN image_classes ic ON ic.set_id = s.id AND ic.image_id = i.id
    LEFT JOIN cells c ON c.id = ic.cell_ids[p.level + 1]
    WHERE s.name = set_name AND (want_split IS NULL OR i.split = want_split)
    GROUP BY i.id
    ORDER BY i.id
$$
"""

LABEL_VIEW_FUNCTION = """
CREATE OR REPLACE FUNCTION geotool_create_label_view(the_set_id integer) RETURNS text
LANGUAGE plpgsql AS $$
-- (Re)creates the view labels_<set name>: one row per image of the set's dataset with
-- image_id, external_id, path, lat, lon, split and class_<level> (class index in the
-- partitioning of that level, fine -> coarse; NULL = unlabelled). Returns its name.
DECLARE
    set_row record;
    p record;
    cols text := '';
    joins text := '';
    view_name text;
BEGIN
    SELECT * INTO set_row FROM partitioning_sets WHERE id = the_set_id;
    view_name := 'labels_' || set_row.name;
    FOR p IN SELECT level FROM partitionings WHERE set_id = the_set_id ORDER BY level LOOP
        cols := cols || format(', c%s.class_index AS class_%s', p.level, p.level);
        joins := joins || format(
            ' LEFT JOIN cells c%1$s ON c%1$s.id = ic.cell_ids[%2$s]', p.level, p.level + 1);
    END LOOP;
    EXECUTE format('DROP VIEW IF EXISTS %I', view_name);
    EXECUTE format(
        'CREATE VIEW %I AS SELECT i.id AS image_id, i.external_id, i.path, i.lat, i.lon,'
        ' i.split%s FROM images i LEFT JOIN image_classes ic ON ic.set_id = %s'
        ' AND ic.image_id = i.id%s WHERE i.dataset_id = %s',
        view_name, cols, the_set_id, joins, set_row.dataset_id);
    RETURN view_name;
END
$$
"""

# The 0003 versions, restored by downgrade.
OLD_LABELS_FUNCTION = """
CREATE OR REPLACE FUNCTION geotool_labels(set_name text, want_split text DEFAULT NULL)
RETURNS TABLE (image_id bigint, external_id text, path text, lat double precision,
               lon double precision, split text, classes integer[])
LANGUAGE sql STABLE AS $$
    -- One row per image of the set's dataset (optionally one split); classes[k] is the
    -- class index in the partitioning of level k-1 (fine -> coarse), NULL = unlabelled.
    SELECT i.id, i.external_id, i.path, i.lat, i.lon, i.split,
           array_agg(c.class_index ORDER BY p.level)
    FROM partitioning_sets s
    JOIN partitionings p ON p.set_id = s.id
    JOIN images i ON i.dataset_id = s.dataset_id
    LEFT JOIN image_labels il ON il.partitioning_id = p.id AND il.image_id = i.id
    LEFT JOIN cells c ON c.id = il.cell_id
    WHERE s.name = set_name AND (want_split IS NULL OR i.split = want_split)
    GROUP BY i.id
    ORDER BY i.id
$$
"""

OLD_LABEL_VIEW_FUNCTION = """
CREATE OR REPLACE FUNCTION geotool_create_label_view(the_set_id integer) RETURNS text
LANGUAGE plpgsql AS $$
-- (Re)creates the view labels_<set name>: one row per image of the set's dataset with
-- image_id, external_id, path, lat, lon, split and class_<level> (class index in the
-- partitioning of that level, fine -> coarse; NULL = unlabelled). Returns its name.
DECLARE
    set_row record;
    p record;
    cols text := '';
    joins text := '';
    view_name text;
BEGIN
    SELECT * INTO set_row FROM partitioning_sets WHERE id = the_set_id;
    view_name := 'labels_' || set_row.name;
    FOR p IN SELECT id, level FROM partitionings WHERE set_id = the_set_id ORDER BY level LOOP
        cols := cols || format(', c%s.class_index AS class_%s', p.level, p.level);
        joins := joins || format(
            ' LEFT JOIN image_labels l%1$s ON l%1$s.partitioning_id = %2$s'
            ' AND l%1$s.image_id = i.id LEFT JOIN cells c%1$s ON c%1$s.id = l%1$s.cell_id',
            p.level, p.id);
    END LOOP;
    EXECUTE format('DROP VIEW IF EXISTS %I', view_name);
    EXECUTE format(
        'CREATE VIEW %I AS SELECT i.id AS image_id, i.external_id, i.path, i.lat, i.lon,'
        ' i.split%s FROM images i%s WHERE i.dataset_id = %s',
        view_name, cols, joins, set_row.dataset_id);
    RETURN view_name;
END
$$
"""

# Drop the labels_<set> views that exist (they depend on the label storage); the ids of
# their sets are kept in a temporary table to recreate them afterwards.
DROP_LABEL_VIEWS = """
CREATE TEMP TABLE _geotool_label_views ON COMMIT DROP AS
SELECT s.id FROM partitioning_sets s
JOIN pg_views v ON v.schemaname = current_schema() AND v.viewname = 'labels_' || s.name;
DO $$ DECLARE s record; BEGIN
    FOR s IN SELECT ps.name FROM partitioning_sets ps JOIN _geotool_label_views v USING (id)
    LOOP EXECUTE format('DROP VIEW %I', 'labels_' || s.name); END LOOP;
END $$;
"""

RECREATE_LABEL_VIEWS = """
SELECT geotool_create_label_view(id) FROM _geotool_label_views;
DROP TABLE _geotool_label_views;
"""


def upgrade() -> None:
    op.execute(DROP_LABEL_VIEWS)
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
    op.execute(IMAGE_LABELS_VIEW)
    op.execute(CASCADE_TRIGGERS)
    op.create_index("ix_cell_ancestors_ancestor_cell_id", "cell_ancestors",
                    ["ancestor_cell_id"], unique=False)
    for table in HIERARCHY_TABLES:
        op.drop_constraint(f"fk_{table}_set_id_partitioning_sets", table, type_="foreignkey")
    op.execute(LABELS_FUNCTION)
    op.execute(LABEL_VIEW_FUNCTION)
    op.execute(RECREATE_LABEL_VIEWS)


def downgrade() -> None:
    op.drop_index("ix_cell_ancestors_ancestor_cell_id", table_name="cell_ancestors")
    op.execute(DROP_LABEL_VIEWS)
    op.execute("CREATE TEMP TABLE _geotool_old_labels ON COMMIT DROP AS "
               "SELECT partitioning_id, image_id, cell_id FROM image_labels")
    op.execute("DROP VIEW image_labels")
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
    op.execute("INSERT INTO image_labels SELECT * FROM _geotool_old_labels")
    op.execute("DROP TABLE _geotool_old_labels")
    for table in HIERARCHY_TABLES:
        op.create_foreign_key(f"fk_{table}_set_id_partitioning_sets", table,
                              "partitioning_sets", ["set_id"], ["id"], ondelete="CASCADE")
    op.execute("DROP TRIGGER image_classes_images_truncated ON images")
    op.execute("DROP TRIGGER image_classes_sets_truncated ON partitioning_sets")
    op.execute("DROP FUNCTION geotool_image_classes_truncated()")
    op.execute("DROP TRIGGER image_classes_images_deleted ON images")
    op.execute("DROP TRIGGER image_classes_set_deleted ON partitioning_sets")
    op.execute("DROP FUNCTION geotool_image_classes_images_deleted()")
    op.execute("DROP FUNCTION geotool_image_classes_set_deleted()")
    op.drop_table("image_classes")
    op.execute(OLD_LABELS_FUNCTION)
    op.execute(OLD_LABEL_VIEW_FUNCTION)
    op.execute(RECREATE_LABEL_VIEWS)
