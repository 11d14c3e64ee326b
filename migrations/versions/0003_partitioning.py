"""Partitioning additions: the per-build location hierarchy, the label function and the
QGIS views over cells (materialized, so they carry a unique key and a GiST index that QGIS
uses; every build refreshes them).

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

LABELS_FUNCTION = """
CREATE FUNCTION geotool_labels(set_name text, want_split text DEFAULT NULL)
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

LABEL_VIEW_FUNCTION = """
CREATE FUNCTION geotool_create_label_view(the_set_id integer) RETURNS text
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

QGIS_CELLS = """
CREATE MATERIALIZED VIEW qgis_cells AS
SELECT c.id, s.name AS set_name, s.scheme, p.name AS partitioning, p.level, p.tau,
       c.class_index, c.label, c.n_images, c.lat, c.lon, c.geom_source, c.s2_token,
       l.osm_key,
       ST_Multi(ST_CollectionExtract(c.geom, 3))::geometry(MultiPolygon, 4326) AS geom
FROM cells c
JOIN partitionings p ON p.id = c.partitioning_id
JOIN partitioning_sets s ON s.id = p.set_id
LEFT JOIN locations l ON l.id = c.location_id
"""

QGIS_CENTRES = """
CREATE MATERIALIZED VIEW qgis_cell_centres AS
SELECT c.id, s.name AS set_name, p.name AS partitioning, p.level, c.class_index,
       c.label, c.n_images,
       ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geometry(Point, 4326) AS geom
FROM cells c
JOIN partitionings p ON p.id = c.partitioning_id
JOIN partitioning_sets s ON s.id = p.set_id
"""


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
    op.execute(LABELS_FUNCTION)
    op.execute(LABEL_VIEW_FUNCTION)
    op.execute(QGIS_CELLS)
    op.execute(QGIS_CENTRES)
    for view in ("qgis_cells", "qgis_cell_centres"):
        op.execute(f"CREATE UNIQUE INDEX ix_{view}_id ON {view} (id)")
        op.execute(f"CREATE INDEX ix_{view}_geom ON {view} USING gist (geom)")


def downgrade() -> None:
    op.execute(
        "DO $$ DECLARE s record; BEGIN FOR s IN SELECT name FROM partitioning_sets LOOP "
        "EXECUTE format('DROP VIEW IF EXISTS %I', 'labels_' || s.name); END LOOP; END $$"
    )
    op.execute("DROP MATERIALIZED VIEW IF EXISTS qgis_cell_centres")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS qgis_cells")
    op.execute("DROP FUNCTION IF EXISTS geotool_labels(text, text)")
    op.execute("DROP FUNCTION IF EXISTS geotool_create_label_view(integer)")
    op.drop_table("hierarchy_nodes")
    op.drop_table("hierarchy_edges")
