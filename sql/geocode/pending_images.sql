-- geocode/pending_images.sql: how many images of dataset :d are still to geocode, for a
-- geocoder that answers every image itself (writes_in_database: no coordinates are
-- deduplicated, so the distinct count of pending_count.sql, a sort of the whole
-- dataset, is not needed).
SELECT count(*)
FROM images i
WHERE i.dataset_id = :d
  AND NOT EXISTS (SELECT 1 FROM image_geocodes g WHERE g.image_id = i.id);
