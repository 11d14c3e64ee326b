-- explain/concepts_verify_report.sql: per concept of one verify run (seen in at least
-- :min_images photos), mean drop beside median ci, and Spearman's rank correlation
-- between them over those concepts (average ranks for ties; NULL when a side is
-- constant): `spearman` correlates median ci with the mean drop, `spearman_vs_control`
-- with the mean drop above the control region's. Highest mean drop first.
WITH s AS (
    SELECT concept, n_images, median_ci, mean_drop, mean_control_drop,
           share_above_control, mean_drop - mean_control_drop AS drop_above_control
    FROM concept_verify_summary
    WHERE verify_run_id = :verify_run_id AND n_images >= :min_images
),
ranked AS (
    SELECT s.*,
           rank() OVER (ORDER BY median_ci)
               + (count(*) OVER (PARTITION BY median_ci) - 1) / 2.0 AS rank_ci,
           rank() OVER (ORDER BY mean_drop)
               + (count(*) OVER (PARTITION BY mean_drop) - 1) / 2.0 AS rank_drop,
           rank() OVER (ORDER BY drop_above_control)
               + (count(*) OVER (PARTITION BY drop_above_control) - 1) / 2.0 AS rank_above
    FROM s
)
SELECT concept, n_images, median_ci, mean_drop, mean_control_drop, share_above_control,
       corr(rank_ci, rank_drop) OVER () AS spearman,
       corr(rank_ci, rank_above) OVER () AS spearman_vs_control
FROM ranked
ORDER BY mean_drop DESC, concept
