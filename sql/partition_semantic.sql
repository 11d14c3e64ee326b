-- partition_semantic.sql: one semantic partitioning at threshold <tau> (ARCHITECTURE §1).
--
-- Needs the temporary tables of partition_hierarchy.sql (same transaction).
--   qualifying locations: hierarchy nodes of set <set_id> with count(l) >= <tau> (and,
--       when <areas_only>, a polygonal OSM geometry: ST_Dimension(geom) = 2);
--   classes: the qualifying locations that are the finest qualifying location on H(x)
--       of at least one build image (the anchor nodes of _hier_node_stats);
--   class_index: 0.. in osm_key order (bytewise, COLLATE "C") (stable whatever the insertion order);
--   node -> cell map (_part_node_cells, level <level>): every node's finest CLASS on its
--       path; an image's label is the cell of its anchor (for training images that is
--       the finest qualifying location on H(x); validation and test images are placed
--       on the training hierarchy through their own address vectors); the labels of all
--       levels are written at once by partition_semantic_labels.sql.
-- Cell statistics and geometry come from partition_semantic_stats.sql.
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

INSERT INTO cells (partitioning_id, class_index, location_id, n_images, lat, lon)
SELECT :partitioning_id, (row_number() OVER (ORDER BY l.osm_key COLLATE "C") - 1)::int, l.id, 0, 0, 0
FROM (
    SELECT DISTINCT k.class_location
    FROM _hier_node_stats s
    JOIN _part_class_of k ON k.node = s.node
) cls
JOIN locations l ON l.id = cls.class_location;

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
