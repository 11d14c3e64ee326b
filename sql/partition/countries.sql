-- partition/countries.sql: the country partitioning of set <set_id> for pre-training
-- (the paper's Appendix C: countries, the USA split into states, classes with at least
-- <min_images> images), one level, built from the set's own hierarchy.
--
-- Needs the temporary tables of partition/hierarchy.sql (same transaction).
--   a node's country class: its root in the hierarchy (depth 0, usually a country); when
--       the root's country_code is one of <split_countries> (lower case, default 'us')
--       and the node lies below it, its ancestor at depth 1 (the state) instead;
--   classes: country classes holding at least <min_images> build images;
--   class_index, n_images, lat/lon (spherical mean), lat_plain/lon_plain, label, geom
--       and geom_source: the same definitions as partition/semantic.sql;
--   _part_node_cells (level 0): every node mapped to its country class when that is a
--       class; partition/semantic_labels.sql then writes the image labels.
DROP TABLE IF EXISTS _country_of;
CREATE TEMP TABLE _country_of ON COMMIT DROP AS
WITH roots AS (
    SELECT c.node, c.ancestor AS root, c.dist
    FROM _hier_closure c
    JOIN hierarchy_nodes h ON h.set_id = :set_id AND h.location_id = c.ancestor
    WHERE h.parent_id IS NULL
)
SELECT r.node,
       CASE WHEN lower(coalesce(l.country_code, '')) = ANY(CAST(:split_countries AS text[]))
                 AND r.dist >= 1
            THEN (SELECT c.ancestor FROM _hier_closure c
                  WHERE c.node = r.node AND c.dist = r.dist - 1)
            ELSE r.root END AS class_location
FROM roots r
JOIN locations l ON l.id = r.root;
ANALYZE _country_of;

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
        SELECT k.class_location, s.*
        FROM _hier_node_stats s
        JOIN _country_of k ON k.node = s.node
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
SELECT 0, k.node, cl.id
FROM _country_of k
JOIN cells cl ON cl.partitioning_id = :partitioning_id AND cl.location_id = k.class_location;
ANALYZE _part_node_cells;

UPDATE partitionings
SET n_classes = (SELECT count(*) FROM cells WHERE partitioning_id = :partitioning_id)
WHERE id = :partitioning_id;
