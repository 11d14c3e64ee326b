-- explain/concepts_true_classes.sql: the true class (class_index at partitioning level :level) of
-- each image in :image_ids under the partitioning set model :model_id was trained on
-- (models.set_id), from image_classes. Images without a class at that level are absent.
SELECT ic.image_id, c.class_index
FROM models m
JOIN image_classes ic ON ic.set_id = m.set_id
JOIN cells c ON c.id = ic.cell_ids[CAST(:level AS int) + 1]
WHERE m.id = :model_id AND ic.image_id = ANY(CAST(:image_ids AS bigint[]))
