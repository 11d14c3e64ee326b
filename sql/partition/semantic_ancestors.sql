-- partition/semantic_ancestors.sql: cell_ancestors of semantic set <set_id>, the same
-- rows as partition/ancestors.sql (see there) computed from the node -> cell maps
-- (_part_node_cells) instead of the images: every build image anchored at a node carries
-- that node's fine and coarse cell, so a node votes with its number of build images
-- (_hier_node_stats.n). Majority wins, ties to the lowest class index; a fine cell whose
-- images have no coarse class gets ancestor_cell_id NULL.
INSERT INTO cell_ancestors (cell_id, ancestor_partitioning_id, ancestor_cell_id)
WITH pairs AS (
    SELECT pf.id AS fine_pid, pf.level AS fine_level, pc.id AS coarse_pid,
           pc.level AS coarse_level
    FROM partitionings pf
    JOIN partitionings pc ON pc.set_id = pf.set_id AND pc.level > pf.level
    WHERE pf.set_id = :set_id
),
votes AS (
    SELECT p.coarse_pid, f.cell_id AS fine_cell, c.cell_id AS coarse_cell, sum(s.n) AS n
    FROM pairs p
    JOIN _part_node_cells f ON f.level = p.fine_level
    JOIN _hier_node_stats s ON s.node = f.node
    JOIN _part_node_cells c ON c.level = p.coarse_level AND c.node = f.node
    GROUP BY p.coarse_pid, f.cell_id, c.cell_id
),
winner AS (
    SELECT DISTINCT ON (v.fine_cell, v.coarse_pid) v.fine_cell, v.coarse_pid, v.coarse_cell
    FROM votes v JOIN cells cc ON cc.id = v.coarse_cell
    ORDER BY v.fine_cell, v.coarse_pid, v.n DESC, cc.class_index
)
SELECT f.id, p.coarse_pid, w.coarse_cell
FROM pairs p
JOIN cells f ON f.partitioning_id = p.fine_pid
LEFT JOIN winner w ON w.fine_cell = f.id AND w.coarse_pid = p.coarse_pid;
