-- explain/concepts_views.sql (schema file): the aggregation views of concept influence
-- (docs/concepts.md), re-created by `geotool db upgrade`. Intervals come from the editable error_intervals
-- table (default [0,25), [25,750), [750,2500) km); an image belongs to the interval that
-- holds its error (the model's own prediction on the explained input, concept_images).
--
-- concept_influence_rows   one row per (run, image, concept, beta) with names and error
-- concept_ci_summary       per model, concept run, concept, beta and error interval:
--                          images, median and mean ci, median tki and size
--                          (the paper's Tables 3, 5 and 6; filter n_images >= 50 / 10)
-- concept_ci_by_country    per model, run, concept, beta and country (through the
--                          images' address vectors): images, median ci, the country's
--                          geometry -- open it in QGIS, filter concept = 'building'

CREATE OR REPLACE VIEW concept_influence_rows AS
SELECT r.id AS run_id, r.model_id, m.name AS model_name, ci.image_id, c.id AS concept_id,
       c.vocabulary, c.name AS concept, ci.beta, ci.tki, ci.size, ci.ci, ci.mask_pixels,
       ci.hit_pixels, im.error_km, im.target_class, im.predicted_class,
       iv.lower_km, iv.upper_km
FROM concept_influence ci
JOIN concept_runs r ON r.id = ci.run_id
JOIN models m ON m.id = r.model_id
JOIN concepts c ON c.id = ci.concept_id
JOIN concept_images im ON im.run_id = ci.run_id AND im.image_id = ci.image_id
LEFT JOIN error_intervals iv ON im.error_km >= iv.lower_km AND im.error_km < iv.upper_km;

CREATE OR REPLACE VIEW concept_ci_summary AS
SELECT run_id, model_id, model_name, concept_id, concept, beta, lower_km, upper_km,
       count(*) AS n_images,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ci) AS median_ci,
       avg(ci) AS mean_ci,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY tki) AS median_tki,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY size) AS median_size
FROM concept_influence_rows
WHERE lower_km IS NOT NULL
GROUP BY run_id, model_id, model_name, concept_id, concept, beta, lower_km, upper_km;

CREATE OR REPLACE VIEW concept_ci_by_country AS
WITH image_country AS (
    SELECT DISTINCT ON (a.image_id) a.image_id, l.id AS location_id,
           coalesce(l.name_en, l.name) AS country, l.country_code, l.geom
    FROM image_addresses a
    JOIN locations l ON l.id = a.location_id
    WHERE l.admin_level = 2 OR l.rank_address = 4 OR l.osm_type = 'C'
    ORDER BY a.image_id, a.position DESC
)
SELECT row_number() OVER (ORDER BY s.run_id, s.concept, s.beta, s.country) AS id, s.*,
       g.geom
FROM (
    SELECT r.run_id, r.model_name, r.concept, r.beta, ic.location_id, ic.country,
           ic.country_code, count(*) AS n_images,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ci) AS median_ci,
           avg(r.ci) AS mean_ci
    FROM concept_influence_rows r
    JOIN image_country ic ON ic.image_id = r.image_id
    GROUP BY r.run_id, r.model_name, r.concept, r.beta, ic.location_id, ic.country,
             ic.country_code
) s
JOIN locations g ON g.id = s.location_id;
