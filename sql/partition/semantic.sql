-- partition/semantic.sql: one semantic partitioning at threshold <tau> (docs/method.md §3),
-- its cells written once with their statistics, label text and geometry.
--
-- Needs the temporary tables of partition/hierarchy.sql (same transaction).
--   qualifying locations: hierarchy nodes of set <set_id> with count(l) >= <tau> (and,
--       when <areas_only>, a polygonal OSM geometry: ST_Dimension(geom) = 2);
--   classes: the qualifying locations that are the finest qualifying location on H(x)
--       of at least one build image (the anchor nodes of _hier_node_stats);
--   class_index: 0.. in osm_key order (bytewise, COLLATE "C") (stable whatever the
--       insertion order);
--   per cell, from the per-node sums of its anchor nodes (a cell's build images are
--   exactly the build images anchored at the nodes whose finest qualifying location it
--   is): n_images; lat, lon = spherical mean (mean unit vector; exact integer sums of
--   the terms in units of 1e-15, so no dependence on row order); lat_plain, lon_plain =
--   arithmetic means (sums in units of 1e-12 degrees); the same definitions as
--   partition/cell_stats.sql (S2 cells);
--   label: the names on the cell location's hierarchy path, finest first, joined by
--       ', ' — each name is name_en, else name, else the osm_key ("Grand Hall, Main
--       Street, Citta, ...");
--   geom = the location's OSM polygon ('osm') where it has one, otherwise the convex
--       hull of the cell's images (the hull of the nodes' hulls) buffered by 0.001°
--       ('hull');
--   node -> cell map (_part_node_cells, level <level>): every node's finest CLASS on its
--       path; an image's label is the cell of its anchor (for training images that is
--       the finest qualifying location on H(x); validation and test images are placed
--       on the training hierarchy through their own address vectors); the labels of all
--       levels are written at once by partition/semantic_labels.sql.
DROP TABLE IF EXISTS _part_qual;
CREATE TEMP TABLE _part_qual ON COMMIT DROP AS
SELECT h.location_id
FROM hierarchy_nodes h
JOIN locations l ON l.id = h.location_id
WHERE h.set_id = :set_id AND h.n_images >= :tau
  AND (NOT :areas_only OR coalesce(ST_Dimension(l.geom) = 2, false));
ANALYZE _part_qual;

DROP TABLE IF EXISTS _part_class_of;
CREATE TEMP TABLE _part_class_of ON COMMIT DROP AS
SELECT DISTINCT ON (c.node) c.node, c.ancestor AS class_location
FROM _hier_closure c
JOIN _part_qual q ON q.location_id = c.ancestor
ORDER BY c.node, c.dist;
ANALYZE _part_class_of;

INSERT INTO cells (partitioning_id, class_index, location_id, n_images, lat, lon,
                   lat_plain, lon_plain, label, geom, geom_source)
WITH stats AS (
    SELECT o.class_location,
           sum(o.n) AS n,
           (sum(o.sx) / sum(o.n) / 1e15)::float8 AS x,
           (sum(o.sy) / sum(o.n) / 1e15)::float8 AS y,
           (sum(o.sz) / sum(o.n) / 1e15)::float8 AS z,
           (sum(o.slat) / sum(o.n) / 1e12)::float8 AS lat_plain,
           (sum(o.slon) / sum(o.n) / 1e12)::float8 AS lon_plain,
           ST_ConvexHull(ST_Collect(o.hull)) AS hull
    FROM (
        -- node order within a cell from the sorted input (one sort for all cells)
        SELECT k.class_location, s.*
        FROM _hier_node_stats s
        JOIN _part_class_of k ON k.node = s.node
        ORDER BY k.class_location, s.node
    ) o
    GROUP BY o.class_location
),
texts AS (
    SELECT h.node, string_agg(coalesce(l.name_en, l.name, l.osm_key), ', '
                              ORDER BY h.dist) AS label
    FROM _hier_closure h
    JOIN locations l ON l.id = h.ancestor
    WHERE h.node IN (SELECT class_location FROM stats)
    GROUP BY h.node
)
SELECT :partitioning_id,
       (row_number() OVER (ORDER BY l.osm_key COLLATE "C") - 1)::int,
       l.id, s.n,
       degrees(atan2(s.z, sqrt(s.x * s.x + s.y * s.y))),
       degrees(atan2(s.y, s.x)),
       s.lat_plain, s.lon_plain, t.label,
       CASE WHEN coalesce(ST_Dimension(l.geom) = 2, false) THEN l.geom
            ELSE ST_Normalize(ST_Buffer(s.hull, 0.001)) END,
       CASE WHEN coalesce(ST_Dimension(l.geom) = 2, false) THEN 'osm' ELSE 'hull' END
FROM stats s
JOIN locations l ON l.id = s.class_location
LEFT JOIN texts t ON t.node = s.class_location;

-- For every node, the finest class on its path (a node can qualify without being a
-- class when all of its images went to finer classes).
INSERT INTO _part_node_cells (level, node, cell_id)
SELECT DISTINCT ON (c.node) :level, c.node, cl.id
FROM _hier_closure c
JOIN cells cl ON cl.partitioning_id = :partitioning_id AND cl.location_id = c.ancestor
ORDER BY c.node, c.dist;
ANALYZE _part_node_cells;

UPDATE partitionings
SET n_classes = (SELECT count(*) FROM cells WHERE partitioning_id = :partitioning_id)
WHERE id = :partitioning_id;
