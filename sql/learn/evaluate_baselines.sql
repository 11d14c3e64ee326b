-- learn/evaluate_baselines.sql: the baselines of the accuracy ladder for partitioning set
-- <set_id> on the photos of dataset <dataset_id>, split <split> — only those prediction run
-- <run> answered when <run> is not NULL, so the baselines and the model rows are over the
-- same photos (a killed run, or failed photos, cover fewer) — per level, with the same
-- measures as geotool_run_ladder (distance <= r, or < r when <strict>):
--   'most frequent class'      every photo gets the level's class with the most training
--                              images (ties: lowest class index);
--   'random class (expected)'  the expected value of a uniformly random class: per photo
--                              the mean over all classes of the level (no median);
--   'oracle'                   every photo gets its own true class's mean coordinate, the
--                              partitioning's quantisation limit. Over the photos that HAVE
--                              a class at that level, for every measure (n_images says how
--                              many): an unlabelled photo has no true class to place it at,
--                              and counting it as a miss in the accuracies but skipping it
--                              in mean/median/GeoScore mixed two photo sets in one row.
-- Means are summed as numeric (exact): the result does not depend on the order the rows
-- arrive in (plan, heap), so the same data always give the same bits.
WITH imgs AS (
    SELECT i.id, i.lat, i.lon, ic.cell_ids
    FROM images i
    LEFT JOIN image_classes ic ON ic.set_id = :set_id AND ic.image_id = i.id
    WHERE i.dataset_id = :dataset_id AND i.split = :split
      AND (CAST(:run AS integer) IS NULL
           OR EXISTS (SELECT 1 FROM predictions p WHERE p.prediction_run_id = :run
                      AND p.image_id = i.id AND p.mode = 'flat' AND p.level = 0))
),
levels AS (
    SELECT p.id AS partitioning_id, p.level, count(c.id) AS n_classes
    FROM partitionings p JOIN cells c ON c.partitioning_id = p.id
    WHERE p.set_id = :set_id
    GROUP BY p.id, p.level
),
frequent AS (
    SELECT DISTINCT ON (c.partitioning_id) c.partitioning_id, c.id AS cell_id, c.lat, c.lon
    FROM cells c JOIN levels l ON l.partitioning_id = c.partitioning_id
    ORDER BY c.partitioning_id, c.n_images DESC, c.class_index
),
frequent5 AS (
    SELECT c.partitioning_id,
           (array_agg(c.id ORDER BY c.n_images DESC, c.class_index))[1:5] AS cell_ids
    FROM cells c JOIN levels l ON l.partitioning_id = c.partitioning_id
    GROUP BY c.partitioning_id
),
per_image AS (
    SELECT 'most frequent class' AS baseline, l.level, im.id AS image_id,
           geotool_haversine(f.lat, f.lon, im.lat, im.lon) AS error_km,
           coalesce(im.cell_ids[l.level + 1] = f.cell_id, false)::int::float8 AS top1,
           coalesce(im.cell_ids[l.level + 1] = ANY (f5.cell_ids), false)::int::float8 AS top5
    FROM imgs im CROSS JOIN levels l
    JOIN frequent f ON f.partitioning_id = l.partitioning_id
    JOIN frequent5 f5 ON f5.partitioning_id = l.partitioning_id
    UNION ALL
    SELECT 'oracle', l.level, im.id, geotool_haversine(c.lat, c.lon, im.lat, im.lon),
           1.0::float8, 1.0::float8
    FROM imgs im CROSS JOIN levels l
    JOIN cells c ON c.id = im.cell_ids[l.level + 1]
),
point_baselines AS (
    SELECT baseline, level, count(*) AS n_images,
           avg(geotool_within(error_km, 1, :strict)::int)::float8 AS acc_1km,
           avg(geotool_within(error_km, 25, :strict)::int)::float8 AS acc_25km,
           avg(geotool_within(error_km, 200, :strict)::int)::float8 AS acc_200km,
           avg(geotool_within(error_km, 750, :strict)::int)::float8 AS acc_750km,
           avg(geotool_within(error_km, 2500, :strict)::int)::float8 AS acc_2500km,
           avg(error_km::numeric)::float8 AS mean_km,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY error_km) AS median_km,
           avg((5000.0 * exp(-error_km / 1492.7))::numeric)::float8 AS geoscore,
           avg(top1) AS top1, avg(top5) AS top5
    FROM per_image GROUP BY baseline, level
),
random_per_image AS (
    SELECT l.level, l.n_classes, im.id,
           avg(geotool_within(x.d, 1, :strict)::int) AS a1,
           avg(geotool_within(x.d, 25, :strict)::int) AS a25,
           avg(geotool_within(x.d, 200, :strict)::int) AS a200,
           avg(geotool_within(x.d, 750, :strict)::int) AS a750,
           avg(geotool_within(x.d, 2500, :strict)::int) AS a2500,
           avg(x.d::numeric) AS mean_d, avg((5000.0 * exp(-x.d / 1492.7))::numeric) AS gs
    FROM imgs im CROSS JOIN levels l
    JOIN cells c ON c.partitioning_id = l.partitioning_id
    CROSS JOIN LATERAL (SELECT geotool_haversine(c.lat, c.lon, im.lat, im.lon) AS d) x
    WHERE :with_random
    GROUP BY l.level, l.n_classes, im.id
),
random_baseline AS (
    SELECT 'random class (expected)' AS baseline, level, count(*) AS n_images,
           avg(a1)::float8, avg(a25)::float8, avg(a200)::float8, avg(a750)::float8,
           avg(a2500)::float8, avg(mean_d)::float8, NULL::float8, avg(gs)::float8,
           1.0 / n_classes, least(5, n_classes)::float8 / n_classes
    FROM random_per_image GROUP BY level, n_classes
)
SELECT * FROM point_baselines
UNION ALL
SELECT * FROM random_baseline
ORDER BY 1, 2
