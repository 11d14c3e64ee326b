-- explain/page_photo_dataset.sql: the explained photo's row when it is in the database
-- (same file path, or the same file name stem as external id in the named dataset): its
-- true location and label map for the explain page of an alignment-family model, which
-- has no partitioning set (the classifier's page uses explain/page_photo.sql).
-- Parameters: :path, :stem, :dataset.
SELECT i.lat, i.lon, i.mask_path, i.external_id
FROM images i
WHERE i.path = :path
   OR (i.external_id = :stem AND i.dataset_id = (SELECT id FROM datasets
                                                 WHERE name = :dataset))
ORDER BY (i.path = :path) DESC, i.id
LIMIT 1;
