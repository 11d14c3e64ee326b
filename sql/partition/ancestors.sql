-- partition/ancestors.sql: for every cell of set <set_id>, its ancestor cell in every
-- coarser partitioning of the set (the matrix hierarchical prediction needs), from the
-- labels in image_classes (S2 sets; semantic sets use partition/semantic_ancestors.sql).
--
-- The ancestor is the coarse cell that the fine cell's training images (split <split>)
-- carry. For a semantic set this is exactly the fine class's nearest ancestor-or-self
-- on the hierarchy that is a coarse class (every training image of a fine class goes to
-- that same coarse class, since nothing between them qualifies); for S2 it is the
-- coarse cell that contains the fine cell (cells nest). Should the images disagree
-- (imported sets), the majority wins, ties to the lowest class index. A fine cell whose
-- images have no coarse class gets a row with ancestor_cell_id NULL.
INSERT INTO cell_ancestors (cell_id, ancestor_partitioning_id, ancestor_cell_id)
WITH pairs AS (
    SELECT pf.id AS fine_pid, pf.level AS fine_level, pc.id AS coarse_pid,
           pc.level AS coarse_level
    FROM partitionings pf
    JOIN partitionings pc ON pc.set_id = pf.set_id AND pc.level > pf.level
    WHERE pf.set_id = :set_id
),
votes AS (
    SELECT p.coarse_pid, ic.cell_ids[p.fine_level + 1] AS fine_cell,
           ic.cell_ids[p.coarse_level + 1] AS coarse_cell, count(*) AS n
    FROM pairs p
    JOIN image_classes ic ON ic.set_id = :set_id
    JOIN images i ON i.id = ic.image_id AND i.split = :split
    WHERE ic.cell_ids[p.fine_level + 1] IS NOT NULL
      AND ic.cell_ids[p.coarse_level + 1] IS NOT NULL
    GROUP BY 1, 2, 3
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
