-- ingest, step 3: move the valid staged rows into images. Parameters: dataset_id.
-- Rows already stored (same id, coordinate and split) keep their id; their path,
-- mask_path and author follow the file (the first statement, whose row count is the
-- "updated" figure). New rows are inserted in file order so ids are deterministic
-- (the second statement, whose row count is the "loaded" figure).
UPDATE images i
SET path = s.path, mask_path = s.mask_path, author = s.author
FROM ingest_staging s
WHERE s.kind IS NULL
  AND i.dataset_id = :dataset_id
  AND i.external_id = s.external_id
  AND (i.path, i.mask_path, i.author) IS DISTINCT FROM (s.path, s.mask_path, s.author);

INSERT INTO images (dataset_id, external_id, split, lat, lon, path, mask_path, author)
SELECT :dataset_id, external_id, split, lat, lon, path, mask_path, author
FROM ingest_staging
WHERE kind IS NULL
ORDER BY line_no
ON CONFLICT (dataset_id, external_id) DO NOTHING;
