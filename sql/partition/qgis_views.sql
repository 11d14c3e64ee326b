-- partition/qgis_views.sql (schema file): the QGIS layers over cells.
--
-- Materialized (so they carry a unique key and a GiST index that QGIS uses); every build
-- refreshes them (partition/refresh_views.sql). Dropped and re-created here, which also
-- fills them.
-- qgis_cells          one MultiPolygon per cell, with its set, partitioning and label;
-- qgis_cell_centres   the cells' prediction coordinates (spherical mean) as points.
DROP MATERIALIZED VIEW IF EXISTS qgis_cells CASCADE;
CREATE MATERIALIZED VIEW qgis_cells AS
SELECT c.id, s.name AS set_name, s.scheme, p.name AS partitioning, p.level, p.tau,
       c.class_index, c.label, c.n_images, c.lat, c.lon, c.geom_source, c.s2_token,
       l.osm_key,
       ST_Multi(ST_CollectionExtract(c.geom, 3))::geometry(MultiPolygon, 4326) AS geom
FROM cells c
JOIN partitionings p ON p.id = c.partitioning_id
JOIN partitioning_sets s ON s.id = p.set_id
LEFT JOIN locations l ON l.id = c.location_id;
CREATE UNIQUE INDEX ix_qgis_cells_id ON qgis_cells (id);
CREATE INDEX ix_qgis_cells_geom ON qgis_cells USING gist (geom);

DROP MATERIALIZED VIEW IF EXISTS qgis_cell_centres CASCADE;
CREATE MATERIALIZED VIEW qgis_cell_centres AS
SELECT c.id, s.name AS set_name, p.name AS partitioning, p.level, c.class_index,
       c.label, c.n_images,
       ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geometry(Point, 4326) AS geom
FROM cells c
JOIN partitionings p ON p.id = c.partitioning_id
JOIN partitioning_sets s ON s.id = p.set_id;
CREATE UNIQUE INDEX ix_qgis_cell_centres_id ON qgis_cell_centres (id);
CREATE INDEX ix_qgis_cell_centres_geom ON qgis_cell_centres USING gist (geom);
