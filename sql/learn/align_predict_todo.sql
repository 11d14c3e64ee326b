-- learn/align_predict_todo.sql (step file): the photos of dataset <ds> (split <split>, or
-- all when NULL) that alignment prediction run <run> has neither answered (mode
-- 'gallery') nor recorded as unreadable, after photo id <after>, in id order, <limit> at
-- a time (geotool.learn.align.predict).
SELECT i.id, i.path, i.lat, i.lon FROM images i
WHERE i.dataset_id = :ds AND (CAST(:split AS text) IS NULL OR i.split = :split)
  AND i.id > :after
  AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.prediction_run_id = :run
                  AND p.image_id = i.id AND p.mode = 'gallery' AND p.level = 0)
  AND NOT EXISTS (SELECT 1 FROM prediction_failures f WHERE f.prediction_run_id = :run
                  AND f.image_id = i.id)
ORDER BY i.id LIMIT :limit
