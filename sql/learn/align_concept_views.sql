-- learn/align_concept_views.sql (schema file): the concept scores of alignment answers
-- (prediction_concepts, migration 0014) for SQL users and QGIS.
--
-- align_prediction_concepts: one row per (prediction run, photo, side, concept): the
-- concept's rank (1 = the best) and score. side 'image': the photo's embedding;
-- 'location': the embedding of the gallery point the model answered.
--
-- align_concepts_by_country: per prediction run, side, the photo's country (its address
-- vector, image_semantic_places) and concept: the photos, the mean score (a concept not
-- stored for a photo, under --concepts-top, counts as 0), the share of photos where it
-- ranks first, and the country's polygon.
--
-- align_concepts_by_cell: the same per cell of every partitioning the photos have a
-- class in (image_classes: the photo's true cell at each level of each set), with the
-- cell's geometry.
CREATE OR REPLACE VIEW align_prediction_concepts AS
SELECT pc.prediction_run_id, pr.model_id, m.name AS model, pc.image_id, pc.side,
       u.rank::int AS rank, u.concept_id, c.name AS concept, u.score
FROM prediction_concepts pc
JOIN prediction_runs pr ON pr.id = pc.prediction_run_id
JOIN models m ON m.id = pr.model_id
CROSS JOIN LATERAL unnest(pc.concept_ids, pc.scores) WITH ORDINALITY AS u(concept_id, score, rank)
JOIN concepts c ON c.id = u.concept_id;

CREATE OR REPLACE VIEW align_concepts_by_country AS
WITH photos AS (
    SELECT pc.prediction_run_id, pc.side, pc.image_id, pc.concept_ids, pc.scores,
           sp.country_id
    FROM prediction_concepts pc
    JOIN image_semantic_places sp ON sp.image_id = pc.image_id
    WHERE sp.country_id IS NOT NULL
),
sizes AS (
    SELECT prediction_run_id, side, country_id, count(*) AS n_photos
    FROM photos GROUP BY prediction_run_id, side, country_id
),
scores AS (
    SELECT p.prediction_run_id, p.side, p.country_id, u.concept_id,
           sum(u.score) AS total, count(*) FILTER (WHERE u.rank = 1) AS n_first
    FROM photos p
    CROSS JOIN LATERAL unnest(p.concept_ids, p.scores) WITH ORDINALITY AS u(concept_id, score, rank)
    GROUP BY p.prediction_run_id, p.side, p.country_id, u.concept_id
)
SELECT s.prediction_run_id, pr.model_id, m.name AS model, s.side, s.country_id,
       coalesce(l.name_en, l.name) AS country, s.concept_id, c.name AS concept,
       z.n_photos, s.total / z.n_photos AS mean_score,
       s.n_first::float8 / z.n_photos AS share_first, l.geom
FROM scores s
JOIN sizes z USING (prediction_run_id, side, country_id)
JOIN prediction_runs pr ON pr.id = s.prediction_run_id
JOIN models m ON m.id = pr.model_id
JOIN concepts c ON c.id = s.concept_id
JOIN locations l ON l.id = s.country_id;

CREATE OR REPLACE VIEW align_concepts_by_cell AS
WITH photos AS (
    SELECT pc.prediction_run_id, pc.side, pc.image_id, pc.concept_ids, pc.scores, cl.cell_id
    FROM prediction_concepts pc
    JOIN image_classes ic ON ic.image_id = pc.image_id
    CROSS JOIN LATERAL unnest(ic.cell_ids) AS cl(cell_id)
    WHERE cl.cell_id IS NOT NULL
),
sizes AS (
    SELECT prediction_run_id, side, cell_id, count(*) AS n_photos
    FROM photos GROUP BY prediction_run_id, side, cell_id
),
scores AS (
    SELECT p.prediction_run_id, p.side, p.cell_id, u.concept_id,
           sum(u.score) AS total, count(*) FILTER (WHERE u.rank = 1) AS n_first
    FROM photos p
    CROSS JOIN LATERAL unnest(p.concept_ids, p.scores) WITH ORDINALITY AS u(concept_id, score, rank)
    GROUP BY p.prediction_run_id, p.side, p.cell_id, u.concept_id
)
SELECT s.prediction_run_id, pr.model_id, m.name AS model, s.side, pt.name AS partitioning,
       ce.id AS cell_id, ce.label AS cell, s.concept_id, c.name AS concept, z.n_photos,
       s.total / z.n_photos AS mean_score, s.n_first::float8 / z.n_photos AS share_first,
       ce.geom
FROM scores s
JOIN sizes z USING (prediction_run_id, side, cell_id)
JOIN prediction_runs pr ON pr.id = s.prediction_run_id
JOIN models m ON m.id = pr.model_id
JOIN concepts c ON c.id = s.concept_id
JOIN cells ce ON ce.id = s.cell_id
JOIN partitionings pt ON pt.id = ce.partitioning_id
