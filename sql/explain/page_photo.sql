-- explain/page_photo.sql: the explained photo's row when it is in the database (same
-- file path, or the same file name stem as external id in the model's dataset): its true
-- location and label map for the explain page. Parameters: :path, :stem, :set_name.
SELECT i.lat, i.lon, i.mask_path, i.external_id
FROM images i
WHERE i.path = :path
   OR (i.external_id = :stem AND i.dataset_id = (SELECT dataset_id FROM partitioning_sets
                                                 WHERE name = :set_name))
ORDER BY (i.path = :path) DESC, i.id
LIMIT 1;
