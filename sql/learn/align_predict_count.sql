-- learn/align_predict_count.sql (step file): how many photos of dataset <ds> (split
-- <split>, all when NULL) there are, and how many alignment prediction run <run> has
-- already answered or recorded as unreadable, and of those how many as unreadable (what
-- `geotool predict` counts for its --retry-failed hint) (geotool.learn.align.predict).
SELECT count(*),
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM predictions p
                                      WHERE p.prediction_run_id = :run AND p.image_id = i.id
                                      AND p.mode = 'gallery' AND p.level = 0)
                        OR EXISTS (SELECT 1 FROM prediction_failures f
                                   WHERE f.prediction_run_id = :run AND f.image_id = i.id)),
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM prediction_failures f
                                      WHERE f.prediction_run_id = :run AND f.image_id = i.id))
FROM images i
WHERE i.dataset_id = :ds AND (CAST(:split AS text) IS NULL OR i.split = :split)
