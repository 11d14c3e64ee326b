-- explain/concepts_report.sql: median and mean ci per concept and error interval for one
-- concept run and beta (the paper's Table 3 rows before ranking). The intervals are
-- bound arrays (:lower_km, :upper_km, same length) so the report can use others than
-- the error_intervals table; concepts seen in fewer than :min_images images are left out.
WITH intervals AS (
    SELECT lo, hi FROM unnest(CAST(:lower_km AS float8[]), CAST(:upper_km AS float8[]))
                       AS t(lo, hi)
)
SELECT iv.lo AS lower_km, iv.hi AS upper_km, r.concept, count(*) AS n_images,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ci) AS median_ci,
       avg(r.ci) AS mean_ci
FROM concept_influence_rows r
JOIN intervals iv ON r.error_km >= iv.lo AND r.error_km < iv.hi
WHERE r.run_id = :run_id AND r.beta = :beta
GROUP BY iv.lo, iv.hi, r.concept
HAVING count(*) >= :min_images
ORDER BY iv.lo, median_ci DESC, r.concept
