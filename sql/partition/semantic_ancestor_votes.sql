-- partition/semantic_ancestor_votes.sql: the votes for the ancestors of the cells of
-- semantic set <set_id>, the same as partition/ancestor_votes.sql (see there) counted from
-- the node -> cell maps (_part_node_cells) instead of the images: every build image
-- anchored at a node carries that node's fine and coarse cell, so a node votes with its
-- number of build images (_hier_node_stats.n). partition/ancestors.sql then writes the
-- rows.
DROP TABLE IF EXISTS _part_votes;
CREATE TEMP TABLE _part_votes ON COMMIT DROP AS
SELECT pc.id AS coarse_pid, f.cell_id AS fine_cell, c.cell_id AS coarse_cell, sum(s.n) AS n
FROM partitionings pf
JOIN partitionings pc ON pc.set_id = pf.set_id AND pc.level > pf.level
JOIN _part_node_cells f ON f.level = pf.level
JOIN _hier_node_stats s ON s.node = f.node
JOIN _part_node_cells c ON c.level = pc.level AND c.node = f.node
WHERE pf.set_id = :set_id
GROUP BY pc.id, f.cell_id, c.cell_id;
ANALYZE _part_votes;
