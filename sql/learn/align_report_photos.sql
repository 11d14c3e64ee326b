-- learn/align_report_photos.sql (step file): per photo of alignment prediction run <run>,
-- the concept scores of side <side> (concept ids and scores, best first), whether the
-- answer is within <radius> km, and the photo's region: its country (address vector,
-- English name where known) or, when <partitioning> is given, its true cell in that
-- partitioning (label). NULL region: the photo has none (geotool.learn.align.report).
SELECT pc.image_id, pc.concept_ids, pc.scores, p.error_km, p.error_km <= :radius AS correct,
       CASE WHEN CAST(:partitioning AS text) IS NULL THEN
           (SELECT coalesce(l.name_en, l.name, l.osm_key)
            FROM image_addresses a JOIN locations l ON l.id = a.location_id
            WHERE a.image_id = pc.image_id
              AND geotool_semantic_tier(l.rank_address, l.admin_level) = 'country'
            ORDER BY a.position LIMIT 1)
       ELSE
           (SELECT coalesce(c.label, c.s2_token, c.id::text)
            FROM image_classes ic
            JOIN partitionings pt ON pt.set_id = ic.set_id AND pt.name = :partitioning
            JOIN cells c ON c.id = ic.cell_ids[pt.level + 1]
            WHERE ic.image_id = pc.image_id)
       END AS region
FROM prediction_concepts pc
JOIN predictions p ON p.prediction_run_id = pc.prediction_run_id
                  AND p.image_id = pc.image_id AND p.mode = 'gallery' AND p.level = 0
WHERE pc.prediction_run_id = :run AND pc.side = :side
ORDER BY pc.image_id
