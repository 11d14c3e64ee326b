-- partition/level_summary.sql: per partitioning of set :id (fine -> coarse), its level,
-- name, tau, number of classes and number of labelled images, for the build's summary.
-- The labelled images of every level are counted in one pass over the set's
-- image_classes rows (cell_ids[k] = the image's cell at level k - 1, NULL = unlabelled).
WITH labelled AS (
    SELECT u.k - 1 AS level, count(u.cell_id) AS n
    FROM image_classes ic
    CROSS JOIN LATERAL unnest(ic.cell_ids) WITH ORDINALITY AS u(cell_id, k)
    WHERE ic.set_id = :id
    GROUP BY u.k
)
SELECT p.level, p.name, p.tau, p.n_classes, coalesce(l.n, 0) AS n_labelled
FROM partitionings p
LEFT JOIN labelled l ON l.level = p.level
WHERE p.set_id = :id
ORDER BY p.level;
