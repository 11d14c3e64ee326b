-- learn/prediction_views.sql (schema file): the evaluation views over predictions.
-- Users query these directly; `geotool evaluate` reads geotool_run_ladder(run, strict).
-- Alignment answers (mode 'gallery', migration 0014) are coordinates without a cell: they
-- have no class accuracy (top1/top5 NULL) and their semantic accuracy is judged by the
-- photo's place polygons, as S2 cells' is.
--
-- prediction_errors: one row per stored prediction (run, image, mode, level) with the
-- model, the photo's dataset and split, the error in km, the photo's true cell at that
-- level (image_classes of the model's set; NULL when the photo has no class there) and
-- whether the predicted class is the true one (top1_correct; NULL for an alignment
-- answer, which has no class) or among the first five of the stored top-k (top5_correct;
-- NULL for 'hier' and 'gallery' rows, which keep no class top-k, and for runs with
-- top_k < 5, whose stored list cannot say: "top-5" would silently mean top-k).
CREATE OR REPLACE VIEW prediction_errors AS
SELECT pr.model_id, m.name AS model, p.prediction_run_id, pr.crops, pr.combine,
       i.dataset_id, i.split, p.image_id, p.mode, p.level, p.cell_id, p.class_index,
       p.probability, p.lat, p.lon, p.true_lat, p.true_lon, p.error_km,
       ic.cell_ids[p.level + 1] AS true_cell_id, tc.class_index AS true_class_index,
       CASE WHEN p.cell_id IS NULL THEN NULL
            ELSE coalesce(p.cell_id = ic.cell_ids[p.level + 1], false) END AS top1_correct,
       CASE WHEN p.topk_class_index IS NULL OR pr.top_k < 5 THEN NULL
            ELSE coalesce(tc.class_index = ANY (p.topk_class_index[1:5]), false)
       END AS top5_correct
FROM predictions p
JOIN prediction_runs pr ON pr.id = p.prediction_run_id
JOIN models m ON m.id = pr.model_id
JOIN images i ON i.id = p.image_id
LEFT JOIN image_classes ic ON ic.set_id = m.set_id AND ic.image_id = p.image_id
LEFT JOIN cells tc ON tc.id = ic.cell_ids[p.level + 1];

-- cell_semantic_places: for every cell of a semantic set, the country, state and city it
-- lies in by the set's own hierarchy: the nearest ancestor-or-self (hierarchy_nodes of
-- the set) of each tier (geotool_semantic_tier). Cells without a location (S2) have no row.
CREATE OR REPLACE VIEW cell_semantic_places AS
WITH RECURSIVE up AS (
    SELECT c.id AS cell_id, p.set_id, c.location_id, 0 AS depth
    FROM cells c JOIN partitionings p ON p.id = c.partitioning_id
    WHERE c.location_id IS NOT NULL
    UNION ALL
    SELECT up.cell_id, up.set_id, n.parent_id, up.depth + 1
    FROM up JOIN hierarchy_nodes n ON n.set_id = up.set_id AND n.location_id = up.location_id
    WHERE n.parent_id IS NOT NULL AND up.depth < 100
),
tiered AS (
    SELECT up.cell_id, up.location_id, up.depth,
           geotool_semantic_tier(l.rank_address, l.admin_level) AS tier
    FROM up JOIN locations l ON l.id = up.location_id
)
SELECT cell_id,
       (array_agg(location_id ORDER BY depth) FILTER (WHERE tier = 'country'))[1] AS country_id,
       (array_agg(location_id ORDER BY depth) FILTER (WHERE tier = 'state'))[1] AS state_id,
       (array_agg(location_id ORDER BY depth) FILTER (WHERE tier = 'city'))[1] AS city_id
FROM tiered
GROUP BY cell_id;

-- image_semantic_places: the photo's country, state and city from its address vector
-- (the finest entry of each tier). Photos without an address vector have no row.
CREATE OR REPLACE VIEW image_semantic_places AS
SELECT a.image_id,
       (array_agg(a.location_id ORDER BY a.position) FILTER (WHERE t.tier = 'country'))[1]
           AS country_id,
       (array_agg(a.location_id ORDER BY a.position) FILTER (WHERE t.tier = 'state'))[1]
           AS state_id,
       (array_agg(a.location_id ORDER BY a.position) FILTER (WHERE t.tier = 'city'))[1]
           AS city_id
FROM image_addresses a
JOIN locations l ON l.id = a.location_id
CROSS JOIN LATERAL (SELECT geotool_semantic_tier(l.rank_address, l.admin_level) AS tier) t
GROUP BY a.image_id;

-- geotool_prediction_semantic(run): per prediction of prediction run <run>, is the
-- predicted cell in the photo's country / state / city? NULL where the photo has no
-- place of that tier. A semantic cell is judged by the hierarchy (cell_semantic_places);
-- a cell without a location (S2) and an alignment answer (no cell) by whether the
-- predicted coordinate lies inside the photo's place polygon. The photos' places are gathered for this run's photos only
-- (image_semantic_places over all photos would read every address vector).
CREATE OR REPLACE FUNCTION geotool_prediction_semantic(run integer)
RETURNS TABLE (prediction_run_id integer, image_id bigint, mode text, level smallint,
               country_correct boolean, state_correct boolean, city_correct boolean)
LANGUAGE sql STABLE AS $$
    WITH photos AS (
        SELECT a.image_id,
               (array_agg(a.location_id ORDER BY a.position)
                    FILTER (WHERE t.tier = 'country'))[1] AS country_id,
               (array_agg(a.location_id ORDER BY a.position)
                    FILTER (WHERE t.tier = 'state'))[1] AS state_id,
               (array_agg(a.location_id ORDER BY a.position)
                    FILTER (WHERE t.tier = 'city'))[1] AS city_id
        FROM image_addresses a
        JOIN locations l ON l.id = a.location_id
        CROSS JOIN LATERAL (SELECT geotool_semantic_tier(l.rank_address, l.admin_level)
                            AS tier) t
        WHERE a.image_id IN (SELECT q.image_id FROM predictions q
                             WHERE q.prediction_run_id = run)
        GROUP BY a.image_id
    )
    SELECT p.prediction_run_id, p.image_id, p.mode, p.level,
           CASE WHEN ph.country_id IS NULL THEN NULL
                WHEN c.location_id IS NOT NULL
                    THEN coalesce(csp.country_id = ph.country_id, false)
                ELSE coalesce(ST_Covers(lc.geom, p.geom), false) END,
           CASE WHEN ph.state_id IS NULL THEN NULL
                WHEN c.location_id IS NOT NULL
                    THEN coalesce(csp.state_id = ph.state_id, false)
                ELSE coalesce(ST_Covers(ls.geom, p.geom), false) END,
           CASE WHEN ph.city_id IS NULL THEN NULL
                WHEN c.location_id IS NOT NULL
                    THEN coalesce(csp.city_id = ph.city_id, false)
                ELSE coalesce(ST_Covers(lt.geom, p.geom), false) END
    FROM predictions p
    LEFT JOIN cells c ON c.id = p.cell_id
    LEFT JOIN photos ph ON ph.image_id = p.image_id
    LEFT JOIN cell_semantic_places csp ON csp.cell_id = p.cell_id
    LEFT JOIN locations lc ON lc.id = ph.country_id AND c.location_id IS NULL
    LEFT JOIN locations ls ON ls.id = ph.state_id AND c.location_id IS NULL
    LEFT JOIN locations lt ON lt.id = ph.city_id AND c.location_id IS NULL
    WHERE p.prediction_run_id = run
$$;

-- prediction_semantic: geotool_prediction_semantic for every prediction run.
CREATE OR REPLACE VIEW prediction_semantic AS
SELECT s.* FROM prediction_runs r CROSS JOIN LATERAL geotool_prediction_semantic(r.id) s;

-- geotool_run_ladder(run, strict): the accuracy ladder of prediction run <run> per
-- dataset, split, mode ('flat' = argmax of that level's head, 'hier' = the hierarchical
-- prediction) and level: accuracy at 1 / 25 / 200 / 750 / 2500 km (distance <= r, or < r
-- when strict), mean and median error, GeoScore (mean of 5000 exp(-d / 1492.7)), top-1 and
-- top-5 class accuracy, and semantic accuracy (shares over the photos that have a place
-- of that tier). Distances and semantics are aggregated separately, then joined.
-- Means of float8 are summed as numeric (exact, so independent of the order the rows
-- arrive in, which moves with the plan and the heap): the same predictions always give
-- the same bits.
CREATE OR REPLACE FUNCTION geotool_run_ladder(run integer, strict boolean DEFAULT false)
RETURNS TABLE (model_id integer, model text, prediction_run_id integer, crops smallint,
               combine text, dataset_id integer, split text, mode text, level smallint,
               n_images bigint, acc_1km double precision, acc_25km double precision,
               acc_200km double precision, acc_750km double precision,
               acc_2500km double precision, mean_km double precision,
               median_km double precision, geoscore double precision,
               top1 double precision, top5 double precision,
               country double precision, state double precision, city double precision)
LANGUAGE sql STABLE AS $$
    WITH dist AS (
        SELECT e.model_id, e.model, e.prediction_run_id, e.crops, e.combine, e.dataset_id,
               e.split, e.mode, e.level, count(*) AS n_images,
               avg(geotool_within(e.error_km, 1, strict)::int)::float8 AS acc_1km,
               avg(geotool_within(e.error_km, 25, strict)::int)::float8 AS acc_25km,
               avg(geotool_within(e.error_km, 200, strict)::int)::float8 AS acc_200km,
               avg(geotool_within(e.error_km, 750, strict)::int)::float8 AS acc_750km,
               avg(geotool_within(e.error_km, 2500, strict)::int)::float8 AS acc_2500km,
               avg(e.error_km::numeric)::float8 AS mean_km,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY e.error_km) AS median_km,
               avg((5000.0 * exp(-e.error_km / 1492.7))::numeric)::float8 AS geoscore,
               avg(e.top1_correct::int)::float8 AS top1,
               avg(e.top5_correct::int)::float8 AS top5
        FROM prediction_errors e
        WHERE e.prediction_run_id = run
        GROUP BY e.model_id, e.model, e.prediction_run_id, e.crops, e.combine,
                 e.dataset_id, e.split, e.mode, e.level
    ),
    sem AS (
        SELECT i.dataset_id, i.split, s.mode, s.level,
               avg(s.country_correct::int)::float8 AS country,
               avg(s.state_correct::int)::float8 AS state,
               avg(s.city_correct::int)::float8 AS city
        FROM geotool_prediction_semantic(run) s
        JOIN images i ON i.id = s.image_id
        GROUP BY i.dataset_id, i.split, s.mode, s.level
    )
    SELECT d.model_id, d.model, d.prediction_run_id, d.crops, d.combine, d.dataset_id,
           d.split, d.mode, d.level, d.n_images, d.acc_1km, d.acc_25km, d.acc_200km,
           d.acc_750km, d.acc_2500km, d.mean_km, d.median_km, d.geoscore, d.top1, d.top5,
           s.country, s.state, s.city
    FROM dist d
    LEFT JOIN sem s ON s.dataset_id = d.dataset_id AND s.split = d.split
                   AND s.mode = d.mode AND s.level = d.level
$$;

-- evaluation_ladder: the ladder of every prediction run, with the reference code's "<=".
CREATE OR REPLACE VIEW evaluation_ladder AS
SELECT l.* FROM prediction_runs r CROSS JOIN LATERAL geotool_run_ladder(r.id, false) l
