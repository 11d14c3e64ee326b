-- partition/countries.sql: the classes of the country partitioning of set <set_id> for
-- pre-training (the paper's Appendix C: countries, the USA split into states), one level,
-- from the set's own hierarchy; partition/class_cells.sql then writes the cells of the
-- classes with at least <min_images> images.
--
-- Needs the temporary tables of partition/hierarchy.sql (same transaction).
--   a node's country class: its root in the hierarchy (depth 0, usually a country); when
--       the root's country_code is one of <split_countries> (lower case, default 'us')
--       and the node lies below it, its ancestor at depth 1 (the state) instead;
--   _part_class_of = _part_node_class: every node mapped to its country class (a node's
--       images are labelled with it when it is a class).
DROP TABLE IF EXISTS _part_class_of;
CREATE TEMP TABLE _part_class_of ON COMMIT DROP AS
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
ANALYZE _part_class_of;

DROP TABLE IF EXISTS _part_node_class;
CREATE TEMP TABLE _part_node_class ON COMMIT DROP AS
SELECT node, class_location FROM _part_class_of;
ANALYZE _part_node_class;
