-- partition_semantic_labels.sql: the image labels of semantic set <set_id>, all
-- <n_levels> partitionings at once: one image_classes row per image whose anchor
-- (_hier_build_anchor, _hier_other_anchor: partition_hierarchy.sql) has a class in at
-- least one partitioning; cell_ids[k] = the anchor's cell at level k - 1
-- (_part_node_cells, partition_semantic.sql), NULL where the image has no class at that
-- level.
INSERT INTO image_classes (set_id, image_id, cell_ids)
WITH node_cells AS (
    -- level order within a node from the sorted input (one sort for all nodes; an
    -- ORDER BY inside array_agg would sort every node's three rows separately)
    SELECT node, array_agg(cell_id) AS cell_ids
    FROM (
        SELECT n.node, lv.level, m.cell_id
        FROM (SELECT DISTINCT node FROM _part_node_cells) n
        CROSS JOIN generate_series(0, :n_levels - 1) AS lv(level)
        LEFT JOIN _part_node_cells m ON m.node = n.node AND m.level = lv.level
        ORDER BY n.node, lv.level
    ) o
    GROUP BY node
)
SELECT :set_id, a.image_id, nc.cell_ids
FROM (
    SELECT image_id, location_id FROM _hier_build_anchor
    UNION ALL
    SELECT image_id, location_id FROM _hier_other_anchor
) a
JOIN node_cells nc ON nc.node = a.location_id;
