-- learn/predict_ancestors.sql: the ancestor matrix the hierarchical prediction needs, for
-- partitioning set <set_name>: per coarser level, each FINE (level 0) class's ancestor
-- class index at that level (NULL: the fine class has none there), from cell_ancestors.
-- Indexed by fine class for every level (the reference code indexed its third level by
-- middle classes).
SELECT pc.level, fc.class_index AS fine_class, ac.class_index AS ancestor_class
FROM partitioning_sets s
JOIN partitionings pf ON pf.set_id = s.id AND pf.level = 0
JOIN cells fc ON fc.partitioning_id = pf.id
JOIN cell_ancestors ca ON ca.cell_id = fc.id
JOIN partitionings pc ON pc.id = ca.ancestor_partitioning_id
LEFT JOIN cells ac ON ac.id = ca.ancestor_cell_id
WHERE s.name = :set_name
ORDER BY pc.level, fc.class_index
