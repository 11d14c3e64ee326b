-- export/qgis_views.sql: the views the QGIS project of `geotool export qgis` reads through
-- the PostgreSQL provider (docs/viewing.md). Schema file (sql/schema.txt): `geotool db
-- upgrade` drops and re-creates them, then db/viewer_grants.sql grants them again. Each
-- view has a geometry column of one fixed type and SRID, so QGIS needs no scan to learn
-- it, and a unique id (QGIS needs one for a view: its layers name it as key).
-- They read tables only (not other views), so their order in schema.txt is free.
--
-- qgis_predictions        one point per (prediction run, photo) at the hierarchical answer
--                         (mode hier, level 0) or an alignment model's gallery answer
--                         (mode gallery; no label or class): label, probability,
--                         error_km and the paper's ladder class (error_class,
--                         error_rank 0..5);
--                         id = run id * 2^40 + image id
-- qgis_prediction_lines   the same rows as a line from the photo's true position to the
--                         prediction (the predicted end shifted by ±360° when shorter)
-- qgis_concept_countries  per concept run, concept, β and country (the coarsest admin
--                         level-2 place of each explained photo's address): images and
--                         median/mean ci, with the country polygon; id numbers the rows
--                         in (run, concept, beta, country) order

CREATE OR REPLACE VIEW qgis_predictions AS
SELECT (p.prediction_run_id::bigint << 40) + p.image_id AS id, p.prediction_run_id,
       p.image_id, m.name AS model_name, i.external_id, i.split,
       c.label, p.class_index, p.probability, p.lat, p.lon, p.true_lat, p.true_lon,
       p.error_km,
       CASE WHEN p.error_km <= 1 THEN 0 WHEN p.error_km <= 25 THEN 1
            WHEN p.error_km <= 200 THEN 2 WHEN p.error_km <= 750 THEN 3
            WHEN p.error_km <= 2500 THEN 4 ELSE 5 END AS error_rank,
       CASE WHEN p.error_km <= 1 THEN 'street (≤ 1 km)'
            WHEN p.error_km <= 25 THEN 'city (≤ 25 km)'
            WHEN p.error_km <= 200 THEN 'region (≤ 200 km)'
            WHEN p.error_km <= 750 THEN 'country (≤ 750 km)'
            WHEN p.error_km <= 2500 THEN 'continent (≤ 2500 km)'
            ELSE 'beyond 2500 km' END AS error_class,
       p.geom
FROM predictions p
JOIN prediction_runs r ON r.id = p.prediction_run_id
JOIN models m ON m.id = r.model_id
JOIN images i ON i.id = p.image_id
LEFT JOIN cells c ON c.id = p.cell_id
WHERE p.mode IN ('hier', 'gallery') AND p.level = 0;

CREATE OR REPLACE VIEW qgis_prediction_lines AS
SELECT (p.prediction_run_id::bigint << 40) + p.image_id AS id, p.prediction_run_id,
       p.image_id, m.name AS model_name, i.external_id, i.split,
       p.error_km,
       CASE WHEN p.error_km <= 1 THEN 0 WHEN p.error_km <= 25 THEN 1
            WHEN p.error_km <= 200 THEN 2 WHEN p.error_km <= 750 THEN 3
            WHEN p.error_km <= 2500 THEN 4 ELSE 5 END AS error_rank,
       ST_SetSRID(ST_MakeLine(
           ST_MakePoint(p.true_lon, p.true_lat),
           ST_MakePoint(p.lon + CASE WHEN p.lon - p.true_lon > 180 THEN -360
                                     WHEN p.true_lon - p.lon > 180 THEN 360 ELSE 0 END,
                        p.lat)), 4326)::geometry(LineString, 4326) AS geom
FROM predictions p
JOIN prediction_runs r ON r.id = p.prediction_run_id
JOIN models m ON m.id = r.model_id
JOIN images i ON i.id = p.image_id
WHERE p.mode IN ('hier', 'gallery') AND p.level = 0;

CREATE OR REPLACE VIEW qgis_concept_countries AS
WITH image_country AS (
    SELECT DISTINCT ON (a.image_id) a.image_id, l.id AS location_id,
           coalesce(l.name_en, l.name) AS country, l.country_code
    FROM image_addresses a
    JOIN locations l ON l.id = a.location_id
    WHERE l.admin_level = 2 OR l.rank_address = 4 OR l.osm_type = 'C'
    ORDER BY a.image_id, a.position DESC
), per_country AS (
    SELECT ci.run_id, r.model_id, ci.concept_id, ci.beta, ic.location_id, ic.country,
           ic.country_code, count(*) AS n_images,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ci.ci) AS median_ci,
           avg(ci.ci) AS mean_ci
    FROM concept_influence ci
    JOIN concept_runs r ON r.id = ci.run_id
    JOIN image_country ic ON ic.image_id = ci.image_id
    GROUP BY ci.run_id, r.model_id, ci.concept_id, ci.beta, ic.location_id, ic.country,
             ic.country_code
)
SELECT row_number() OVER (ORDER BY s.run_id, c.name, s.beta, s.location_id) AS id,
       s.run_id, m.name AS model_name, c.name AS concept, s.beta, s.location_id,
       s.country, s.country_code, s.n_images, s.median_ci, s.mean_ci,
       ST_Multi(ST_CollectionExtract(l.geom, 3))::geometry(MultiPolygon, 4326) AS geom
FROM per_country s
JOIN models m ON m.id = s.model_id
JOIN concepts c ON c.id = s.concept_id
JOIN locations l ON l.id = s.location_id;
