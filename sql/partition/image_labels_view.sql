-- partition/image_labels_view.sql (schema file): the labels as one row per
-- (partitioning, image).
--
-- image_labels (partitioning_id, image_id, cell_id): one row per labelled image and
-- partitioning, read from image_classes (one row per set and image; cell_ids[k] = the
-- image's cell at level k - 1, NULL = unlabelled at that level).
CREATE OR REPLACE VIEW image_labels AS
SELECT p.id AS partitioning_id, ic.image_id, ic.cell_ids[p.level + 1] AS cell_id
FROM image_classes ic
JOIN partitionings p ON p.set_id = ic.set_id
WHERE ic.cell_ids[p.level + 1] IS NOT NULL;
