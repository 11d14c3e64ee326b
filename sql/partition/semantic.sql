-- partition/semantic.sql: the classes of one semantic partitioning at threshold <tau>
-- (docs/method.md §3); partition/class_cells.sql then writes its cells once with their
-- statistics, label text and geometry.
--
-- Needs the temporary tables of partition/hierarchy.sql (same transaction).
--   qualifying locations: hierarchy nodes of set <set_id> with count(l) >= <tau> (and,
--       when <areas_only>, a polygonal OSM geometry: ST_Dimension(geom) = 2);
--   classes: the qualifying locations that are the finest qualifying location on H(x)
--       of at least one build image (the anchor nodes of _hier_node_stats);
--   class_index: 0.. in osm_key order (bytewise, COLLATE "C") (stable whatever the
--       insertion order);
--   _part_class_of: every node's finest qualifying location (a cell's build images are
--       exactly the build images anchored at the nodes whose finest qualifying location
--       it is: class_cells.sql sums them per cell);
--   _part_node_class: every node's finest CLASS on its path (a node can qualify without
--       being a class when all of its images went to finer classes); an image's label is
--       the cell of its anchor (for training images that is the finest qualifying
--       location on H(x); validation and test images are placed on the training
--       hierarchy through their own address vectors); the labels of all levels are
--       written at once by partition/semantic_labels.sql.
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

DROP TABLE IF EXISTS _part_node_class;
CREATE TEMP TABLE _part_node_class ON COMMIT DROP AS
SELECT DISTINCT ON (c.node) c.node, c.ancestor AS class_location
FROM _hier_closure c
WHERE c.ancestor IN (SELECT k.class_location
                     FROM _part_class_of k JOIN _hier_node_stats s ON s.node = k.node)
ORDER BY c.node, c.dist;
ANALYZE _part_node_class;
