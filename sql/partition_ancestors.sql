-- partition_ancestors.sql: for every cell of set <set_id>, its ancestor cell in every
-- coarser partitioning of the set (the matrix hierarchical prediction needs).
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
    SELECT pf.id AS fine_pid, pc.id AS coarse_pid
    FROM partitionings pf
    JOIN partitionings pc ON pc.set_id = pf.set_id AND pc.level > pf.level
    WHERE pf.set_id = :set_id
),
votes AS (
    SELECT p.coarse_pid, lf.cell_id AS fine_cell, lc.cell_id AS coarse_cell, count(*) AS n
    FROM pairs p
    JOIN image_labels lf ON lf.partitioning_id = p.fine_pid
    JOIN images i ON i.id = lf.image_id AND i.split = :split
    JOIN image_labels lc ON lc.partitioning_id = p.coarse_pid AND lc.image_id = lf.image_id
    GROUP BY p.coarse_pid, lf.cell_id, lc.cell_id
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
