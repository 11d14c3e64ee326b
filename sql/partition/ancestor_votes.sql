-- partition/ancestor_votes.sql: the votes for the ancestors of the cells of set <set_id>
-- from the labels in image_classes (S2 sets; semantic sets vote with
-- partition/semantic_ancestor_votes.sql); partition/ancestors.sql then writes the rows.
--
-- The ancestor is the coarse cell that the fine cell's training images (split <split>)
-- carry. For a semantic set this is exactly the fine class's nearest ancestor-or-self
-- on the hierarchy that is a coarse class (every training image of a fine class goes to
-- that same coarse class, since nothing between them qualifies); for S2 it is the
-- coarse cell that contains the fine cell (cells nest). Should the images disagree
-- (imported sets), the majority wins (partition/ancestors.sql).
--   _part_votes (coarse_pid, fine_cell, coarse_cell, n): n training images carry both
--       cells, for every pair of a finer and a coarser partitioning of the set.
DROP TABLE IF EXISTS _part_votes;
CREATE TEMP TABLE _part_votes ON COMMIT DROP AS
SELECT pc.id AS coarse_pid, ic.cell_ids[pf.level + 1] AS fine_cell,
       ic.cell_ids[pc.level + 1] AS coarse_cell, count(*) AS n
FROM partitionings pf
JOIN partitionings pc ON pc.set_id = pf.set_id AND pc.level > pf.level
JOIN image_classes ic ON ic.set_id = :set_id
JOIN images i ON i.id = ic.image_id AND i.split = :split
WHERE pf.set_id = :set_id
  AND ic.cell_ids[pf.level + 1] IS NOT NULL
  AND ic.cell_ids[pc.level + 1] IS NOT NULL
GROUP BY 1, 2, 3;
ANALYZE _part_votes;
