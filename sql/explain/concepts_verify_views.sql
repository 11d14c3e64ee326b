-- explain/concepts_verify_views.sql (schema file): the occlusion check of concept
-- influence beside ci (geotool concepts verify, geotool/explain/verify.py;
-- docs/concepts.md), re-created by `geotool db upgrade`.
--
-- concept_verify_rows     one row per (verify run, image, concept): the probability drop
--                         of the explained class when the concept is occluded, the drop
--                         for the control region (same size, shifted), and the photo's
--                         undilated (β = 0) ci, tki and size from the concept run
-- concept_verify_summary  per verify run and concept: photos, median and mean ci, mean
--                         and median drop, mean control drop, and the share of photos
--                         where the concept's drop exceeds the control's

DROP VIEW IF EXISTS concept_verify_summary;
DROP VIEW IF EXISTS concept_verify_rows;

CREATE VIEW concept_verify_rows AS
SELECT o.verify_run_id, v.concept_run_id, r.model_id, o.image_id, o.concept_id,
       c.name AS concept, o.pixels, o.target_class, o.p_base, o.p_occluded, o.p_control,
       o.p_base - o.p_occluded AS drop, o.p_base - o.p_control AS control_drop,
       f.ci, f.tki, f.size
FROM concept_occlusion o
JOIN concept_verify_runs v ON v.id = o.verify_run_id
JOIN concept_runs r ON r.id = v.concept_run_id
JOIN concepts c ON c.id = o.concept_id
JOIN concept_influence f ON f.run_id = v.concept_run_id AND f.image_id = o.image_id
                        AND f.concept_id = o.concept_id AND f.beta = 0;

CREATE VIEW concept_verify_summary AS
SELECT verify_run_id, concept_run_id, model_id, concept_id, concept,
       count(*) AS n_images,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ci) AS median_ci,
       avg(ci) AS mean_ci,
       avg(drop) AS mean_drop,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY drop) AS median_drop,
       avg(control_drop) AS mean_control_drop,
       avg(CASE WHEN drop > control_drop THEN 1.0 ELSE 0.0 END) AS share_above_control
FROM concept_verify_rows
GROUP BY verify_run_id, concept_run_id, model_id, concept_id, concept;
