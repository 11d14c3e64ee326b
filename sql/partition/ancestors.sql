-- partition/ancestors.sql: for every cell of set <set_id>, its ancestor cell in every
-- coarser partitioning of the set (the matrix hierarchical prediction needs), from the
-- votes in _part_votes (partition/ancestor_votes.sql for S2 sets,
-- partition/semantic_ancestor_votes.sql for semantic sets; same transaction): the
-- majority wins, ties to the lowest class index. A fine cell without votes for a coarse
-- partitioning (its images have no class there) gets a row with ancestor_cell_id NULL.
INSERT INTO cell_ancestors (cell_id, ancestor_partitioning_id, ancestor_cell_id)
WITH pairs AS (
    SELECT pf.id AS fine_pid, pc.id AS coarse_pid
    FROM partitionings pf
    JOIN partitionings pc ON pc.set_id = pf.set_id AND pc.level > pf.level
    WHERE pf.set_id = :set_id
),
winner AS (
    SELECT DISTINCT ON (v.fine_cell, v.coarse_pid) v.fine_cell, v.coarse_pid, v.coarse_cell
    FROM _part_votes v JOIN cells cc ON cc.id = v.coarse_cell
    ORDER BY v.fine_cell, v.coarse_pid, v.n DESC, cc.class_index
)
SELECT f.id, p.coarse_pid, w.coarse_cell
FROM pairs p
JOIN cells f ON f.partitioning_id = p.fine_pid
LEFT JOIN winner w ON w.fine_cell = f.id AND w.coarse_pid = p.coarse_pid;
