"""An upgrade from the first revision to the newest keeps every row, and ends with the
same schema as a fresh database.

Rows go in at the revision that introduces their table (0001: datasets, images,
locations, address vectors, geocodes, partitioning sets, partitionings, cells, labels,
models, runs...; 0002: the geocode cache; 0003: the hierarchy; 0004: boundaries; 0007:
training; 0008: predictions; 0009: concepts; 0010: data keys; 0013: geonames; 0015: QGIS's
layer styles and projects; 0016: concept verification; 0014: galleries, their cached
embeddings, an alignment answer and its concepts), the database is upgraded one
revision at a time, and every table's row count is compared with what went in. (0008
and 0009 replace ``predictions`` and ``concepts``/``concept_influence`` of 0001, which no
release ever wrote: those get rows only after their new shape exists.)
A ``labels_<set>`` view made at 0004 on the old ``image_labels`` table must not block
0005, which turns that table into a view.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from geotool.db import migrate

POLY = "ST_GeomFromText('POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))', 4326)"

# revision -> statements run right after upgrading to it
DATA: dict[str, list[str]] = {
    "0001": [
        "INSERT INTO datasets (id, name) VALUES (1, 'd')",
        "INSERT INTO images (id, dataset_id, external_id, split, lat, lon) VALUES "
        "(1, 1, 'a', 'train', 1.0, 1.0), (2, 1, 'b', 'train', 1.5, 1.5), "
        "(3, 1, 'c', 'val', 0.5, 0.5)",
        "INSERT INTO locations (id, osm_key, osm_type, osm_id, name, admin_level, "
        "rank_address, geom, centroid) VALUES "
        f"(1, 'R1', 'R', 1, 'Land', 2, 4, {POLY}, ST_SetSRID(ST_MakePoint(1, 1), 4326)), "
        "(2, 'N2', 'N', 2, 'Town', NULL, 16, NULL, ST_SetSRID(ST_MakePoint(1, 1), 4326))",
        "INSERT INTO image_addresses (image_id, position, location_id) VALUES "
        "(1, 0, 2), (1, 1, 1), (2, 0, 1), (3, 0, 1)",
        "INSERT INTO image_geocodes (image_id, status, source) VALUES "
        "(1, 'ok', 's'), (2, 'ok', 's'), (3, 'ok', 's')",
        "INSERT INTO rejected_rows (dataset_id, source, line_no, reason) VALUES (1, 'f', 7, 'x')",
        "INSERT INTO runs (id, stage, dataset_id, status) VALUES (1, 'ingest', 1, 'ok')",
        "INSERT INTO partitioning_sets (id, name, scheme, dataset_id) "
        "VALUES (1, 's', 'semantic', 1)",
        "INSERT INTO partitionings (id, set_id, level, name, tau) VALUES "
        "(1, 1, 0, 'fine', 1), (2, 1, 1, 'coarse', 2)",
        "INSERT INTO cells (id, partitioning_id, class_index, location_id, n_images, lat, lon, "
        f"geom) VALUES (1, 1, 0, 2, 1, 1, 1, {POLY}), (2, 1, 1, 1, 1, 1.5, 1.5, {POLY}), "
        f"(3, 2, 0, 1, 2, 1.2, 1.2, {POLY})",
        "INSERT INTO cell_ancestors (cell_id, ancestor_partitioning_id, ancestor_cell_id) "
        "VALUES (1, 2, 3), (2, 2, 3)",
        "INSERT INTO image_labels (partitioning_id, image_id, cell_id) VALUES "
        "(1, 1, 1), (1, 2, 2), (2, 1, 3), (2, 2, 3), (2, 3, 3)",
        "INSERT INTO models (id, name, set_id, arch) VALUES (1, 'm', 1, 'resnet')",
    ],
    "0002": ["INSERT INTO geocode_cache (namespace, lat, lon, status, location_ids) VALUES "
             "('ns', 1, 1, 'ok', ARRAY[2, 1]::bigint[])"],
    "0003": [
        "INSERT INTO hierarchy_edges (set_id, child_id, parent_id, n) VALUES (1, 2, 1, 1)",
        "INSERT INTO hierarchy_nodes (set_id, location_id, parent_id, depth) VALUES "
        "(1, 1, NULL, 0), (1, 2, 1, 1)",
    ],
    "0004": [
        "INSERT INTO boundaries (location_id, source, source_key, admin_level, area, geom) "
        f"VALUES (1, 'b', 'k', 2, 4, {POLY})",
        "INSERT INTO boundary_parts (location_id, admin_level, area, geom) "
        f"VALUES (1, 2, 4, {POLY})",
        # what a build made before 0005: a label view over the image_labels table
        "CREATE VIEW labels_s AS SELECT * FROM image_labels",
    ],
    "0007": [
        "UPDATE models SET set_name = 's', status = 'trained', run_id = 1",
        "INSERT INTO training_metrics (model_id, step, split, metric, epoch, images_seen, value) "
        "VALUES (1, 10, 'val', 'loss', 1, 100, 0.5)",
        "INSERT INTO bad_images (image_id, run_id, reason) VALUES (3, 1, 'corrupt')",
        "INSERT INTO shard_index (image_id, shard_path, byte_offset, length) "
        "VALUES (1, 'x.msg', 0, 10)",
    ],
    "0008": [
        "INSERT INTO prediction_runs (id, model_id, crops, combine, top_k, resize, image_size) "
        "VALUES (1, 1, 1, 'mean', 5, 256, 224)",
        "INSERT INTO predictions (prediction_run_id, image_id, mode, level, cell_id, "
        "class_index, probability, lat, lon, true_lat, true_lon, error_km) VALUES "
        "(1, 3, 'flat', 0, 1, 0, 0.9, 1, 1, 0.5, 0.5, 78.6), "
        "(1, 3, 'flat', 1, 3, 0, 0.8, 1.2, 1.2, 0.5, 0.5, 110.0), "
        "(1, 3, 'hier', 0, 1, 0, 0.9, 1, 1, 0.5, 0.5, 78.6)",
        "INSERT INTO prediction_failures (prediction_run_id, image_id, reason) "
        "VALUES (1, 2, 'unreadable')",
    ],
    "0009": [
        "INSERT INTO concept_runs (id, model_id, dataset_id, split, params_key, params) "
        "VALUES (1, 1, 1, 'val', 'k', '{}')",
        "INSERT INTO concept_images (run_id, image_id, status, error_km) "
        "VALUES (1, 3, 'ok', 78.6)",
        "INSERT INTO concept_influence (run_id, image_id, concept_id, beta, tki, size, ci, "
        "mask_pixels, hit_pixels) VALUES (1, 3, 2, 0, 0.5, 0.25, 2.0, 10, 5)",
    ],
    "0010": ["UPDATE locations SET data_key = 'world-1'"],
    "0013": [
        "INSERT INTO locations (id, osm_key, osm_type, name, admin_level, rank_address) "
        "VALUES (3, 'gn-a1:XX.01', 'G', 'Province', 4, 8), (4, 'gn:9', 'G', 'Village', NULL, "
        "16), (5, 'ne:XXX', 'G', 'Xland', 2, 4)",
        "INSERT INTO geonames_admins (key, level, country_code, name, source, location_id) "
        "VALUES ('gn-a1:XX.01', 1, 'XX', 'Province', 'f', 3)",
        "INSERT INTO geonames_places (key, geonameid, name, lat, lon, country_code, "
        "admin1_code, source, location_id, admin1_location_id) "
        "VALUES ('gn:9', 9, 'Village', 1, 1, 'XX', '01', 'f', 4, 3)",
        "INSERT INTO geonames_countries (location_id, key, iso_a3, iso_a2, codes, source, "
        f"area, geom) VALUES (5, 'ne:XXX', 'XXX', 'XX', ARRAY['XX'], 'f', 4, ST_Multi({POLY}))",
        f"INSERT INTO geonames_country_parts (location_id, area, geom) VALUES (5, 4, {POLY})",
    ],
    "0016": [
        "INSERT INTO concept_verify_runs (id, concept_run_id, params_key, params) "
        "VALUES (1, 1, 'k', '{}')",
        "INSERT INTO concept_occlusion (verify_run_id, image_id, concept_id, pixels, "
        "target_class, p_base, p_occluded, p_control, control_dy, control_dx) "
        "VALUES (1, 3, 2, 10, 0, 0.9, 0.5, 0.8, 3, -2)",
    ],
    "0015": [
        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
        "f_geometry_column, stylename, styleqml, useasdefault) VALUES (current_database(), "
        "'public', 'qgis_cells', 'geom', 's', XMLPARSE(DOCUMENT '<qgis/>'), true)",
        "INSERT INTO qgis_projects (name, metadata, content) VALUES ('p', '{}', '\\x00')",
    ],
    "0014": [
        "INSERT INTO galleries (id, name, source, source_ref, content_sha256, n_points) "
        "VALUES (1, 'g', 'csv', 'g.csv', 'h', 2)",
        "INSERT INTO gallery_points (gallery_id, idx, lat, lon) VALUES (1, 0, 1, 1), "
        "(1, 1, 0.5, 0.5)",
        "INSERT INTO gallery_embedding_sets (checkpoint_sha256, gallery_sha256, model_id, "
        "n_points, dim, seconds) VALUES ('c', 'h', 1, 2, 1, 0.1)",
        "INSERT INTO gallery_embeddings (checkpoint_sha256, gallery_sha256, chunk, n_rows, "
        "data) VALUES ('c', 'h', 0, 2, '\\x0000803f0000803f'::bytea)",
        "INSERT INTO prediction_runs (id, model_id, crops, combine, top_k, resize, "
        "image_size, family, gallery_id) VALUES (2, 1, 1, 'mean', 2, 256, 224, 'align', 1)",
        "INSERT INTO predictions (prediction_run_id, image_id, mode, level, probability, lat, "
        "lon, true_lat, true_lon, error_km, gallery_index, topk_gallery_index, "
        "topk_probability) VALUES (2, 1, 'gallery', 0, 0.6, 1, 1, 1, 1, 0, 0, ARRAY[0, 1], "
        "ARRAY[0.6, 0.4]::real[])",
        "INSERT INTO concepts (id, vocabulary, value, name) VALUES (2001, 'align:t', 0, 'sky')",
        "INSERT INTO prediction_concepts (prediction_run_id, image_id, side, concept_ids, "
        "scores) VALUES (2, 1, 'image', ARRAY[2001], ARRAY[1.0]::real[])",
    ],
}

# tables whose rows the history replaces on purpose (see the module docstring)
REPLACED = {"predictions": "0008", "concepts": "0009", "concept_influence": "0009"}


def _counts(conn: sa.Connection) -> dict[str, int]:
    tables = conn.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v') "
        "AND c.relname NOT IN ('spatial_ref_sys', 'alembic_version', 'geometry_columns', "
        "'geography_columns') AND c.relname NOT LIKE 'labels\\_%'")).scalars().all()
    return {t: int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one())
            for t in tables}


def _schema(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Tables and columns, constraints, indexes, views (with definitions), functions
    (with bodies) and triggers of the current schema, in a comparable form."""
    queries = {
        "columns": "SELECT table_name, column_name, data_type, udt_name, is_nullable, "
                   "column_default, is_generated, generation_expression, is_identity "
                   "FROM information_schema.columns WHERE table_schema = current_schema() "
                   "AND table_name NOT IN ('spatial_ref_sys', 'geometry_columns', "
                   "'geography_columns') AND table_name NOT LIKE 'labels\\_%'",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                       "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
                   "WHERE schemaname = current_schema()",
        "views": "SELECT c.relname, c.relkind::text, pg_get_viewdef(c.oid) FROM pg_class c "
                 "WHERE c.relnamespace = current_schema()::regnamespace "
                 "AND c.relkind IN ('v', 'm') AND c.relname NOT IN "
                 "('geometry_columns', 'geography_columns') "
                 "AND c.relname NOT LIKE 'labels\\_%'",
        "functions": "SELECT p.proname, pg_get_function_identity_arguments(p.oid), "
                     "md5(pg_get_functiondef(p.oid)) FROM pg_proc p "
                     "WHERE p.pronamespace = current_schema()::regnamespace "
                     "AND p.proname LIKE 'geotool\\_%'",
        "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) "
                    "FROM pg_trigger WHERE NOT tgisinternal",
    }
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return {k: sorted(tuple(r) for r in conn.execute(sa.text(q)))
                    for k, q in queries.items()}
    finally:
        eng.dispose()


def test_upgrade_from_first_revision_keeps_every_row(empty_db_url: str, db_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[0] == "0001" and revisions[-1] == migrate.head_revision()
    eng = sa.create_engine(empty_db_url)
    expected: dict[str, int] = {}
    try:
        for rev in revisions:
            assert migrate.upgrade(empty_db_url, rev) == rev
            for table in [t for t, r in REPLACED.items() if r == rev]:
                expected.pop(table, None)
            with eng.begin() as conn:
                for stmt in DATA.get(rev, []):
                    conn.execute(sa.text(stmt))
                counts = _counts(conn)
            # (a view exists at the newest revision only: its count is checked there)
            expected.update({t: max(expected.get(t, 0), n) for t, n in counts.items()})
        with eng.connect() as conn:
            final = _counts(conn)
            labels = conn.execute(sa.text(
                "SELECT partitioning_id, image_id, cell_id FROM image_labels "
                "ORDER BY 1, 2")).all()
            label_view = conn.execute(sa.text(
                "SELECT image_id, class_0, class_1 FROM labels_s ORDER BY 1")).all()
            error_km = conn.execute(sa.text(
                "SELECT error_km FROM predictions WHERE mode <> 'gallery' ORDER BY level")
            ).scalars().all()
            status = conn.execute(sa.text("SELECT status FROM runs_status")).scalar_one()
    finally:
        eng.dispose()
    # every table of the newest schema has rows, and none lost any on the way
    empty = sorted(t for t, n in final.items() if n == 0)
    assert empty == [], f"tables without test rows: {empty}"
    assert {t: final.get(t) for t in expected} == expected
    assert final["image_classes"] == 3
    assert labels == [(1, 1, 1), (1, 2, 2), (2, 1, 3), (2, 2, 3), (2, 3, 3)]
    assert label_view == [(1, 0, 0), (2, 1, 0), (3, None, 0)]
    assert error_km == [78.6, 78.6, 110.0]
    assert status == "ok"
    # the upgraded database and a fresh one have the same schema
    upgraded, fresh = _schema(empty_db_url), _schema(db_url)
    for kind in fresh:
        assert upgraded[kind] == fresh[kind], kind
