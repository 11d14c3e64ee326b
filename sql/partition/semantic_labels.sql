-- partition/semantic_labels.sql: the image labels of semantic set <set_id>, all
-- <n_levels> partitionings at once: one image_classes row per image whose anchor
-- (_hier_build_anchor, _hier_other_anchor: partition/hierarchy.sql) has a class in at
-- least one partitioning; cell_ids[k] = the anchor's cell at level k - 1
-- (_part_node_cells, partition/class_cells.sql), NULL where the image has no class at that
-- level.
INSERT INTO image_classes (set_id, image_id, cell_ids)
WITH per_node AS (
    -- level order within a node from the sorted input (one sort for all nodes; an
    -- ORDER BY inside array_agg would sort every node's rows separately)
    SELECT node, array_agg(level) AS levels, array_agg(cell_id) AS cells
    FROM (SELECT node, level, cell_id FROM _part_node_cells ORDER BY node, level) o
    GROUP BY node
),
node_cells AS (
    -- a node with a class at every level has its array already; the others get NULL at
    -- the levels where they have none
    SELECT node,
           CASE WHEN cardinality(levels) = :n_levels THEN cells
                ELSE (SELECT array_agg(u.cell_id ORDER BY g.k)
                      FROM generate_series(0, :n_levels - 1) AS g(k)
                      LEFT JOIN unnest(levels, cells) AS u(level, cell_id) ON u.level = g.k)
           END AS cell_ids
    FROM per_node
)
SELECT :set_id, a.image_id, nc.cell_ids
FROM (
    SELECT image_id, location_id FROM _hier_build_anchor
    UNION ALL
    SELECT image_id, location_id FROM _hier_other_anchor
) a
JOIN node_cells nc ON nc.node = a.location_id;
