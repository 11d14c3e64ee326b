-- partition/class_cells.sql: the cells of one hierarchy-based partitioning (semantic or
-- countries) <partitioning_id>, level <level>, from the class map its scheme's file made
-- (partition/semantic.sql, partition/countries.sql; same transaction, after
-- partition/hierarchy.sql):
--   _part_class_of (node, class_location): the class each node's build images count for;
--   _part_node_class (node, class_location): the class each node's images are labelled
--       with (equal to _part_class_of for countries).
-- Per class with at least <min_images> build images (0: no minimum), one cell:
--   class_index: 0.. in osm_key order (bytewise, COLLATE "C") (stable whatever the
--       insertion order);
--   n_images, from the per-node sums (_hier_node_stats) of its nodes; lat, lon =
--       spherical mean (mean unit vector; exact integer sums of the terms in units of
--       1e-15, so no dependence on row order); lat_plain, lon_plain = arithmetic means
--       (sums in units of 1e-12 degrees); the same definitions as partition/cell_stats.sql
--       (S2 cells);
--   label: the names on the cell location's hierarchy path, finest first, joined by
--       ', ' — each name is name_en, else name, else the osm_key ("Grand Hall, Main
--       Street, Citta, ...");
--   geom = the location's OSM polygon ('osm') where it has one, otherwise the convex
--       hull of the cell's images (the hull of the nodes' hulls) buffered by 0.001°
--       ('hull').
-- Then the node -> cell map of this level (_part_node_cells; partition/semantic_labels.sql
-- writes the labels of all levels from it) and the partitioning's class count.
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
    HAVING sum(o.n) >= :min_images
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

INSERT INTO _part_node_cells (level, node, cell_id)
SELECT :level, m.node, cl.id
FROM _part_node_class m
JOIN cells cl ON cl.partitioning_id = :partitioning_id AND cl.location_id = m.class_location;
ANALYZE _part_node_cells;

UPDATE partitionings
SET n_classes = (SELECT count(*) FROM cells WHERE partitioning_id = :partitioning_id)
WHERE id = :partitioning_id;
