-- ingest, step 4 (--skip-invalid or a clean file): rejected_rows for this file mirror
-- the latest ingest of it. Parameters: dataset_id, source (the file's absolute path).
-- Rows of earlier runs whose line is no longer refused are deleted; the others are
-- inserted or refreshed in place, so running the same file twice gives the same rows.
DELETE FROM rejected_rows r
WHERE r.dataset_id = :dataset_id
  AND r.source = :source
  AND NOT EXISTS (
      SELECT 1 FROM ingest_staging s WHERE s.kind IS NOT NULL AND s.line_no = r.line_no
  );

INSERT INTO rejected_rows (dataset_id, source, line_no, external_id, reason, raw)
SELECT :dataset_id, :source, line_no, external_id, reason, raw
FROM ingest_staging
WHERE kind IS NOT NULL
ORDER BY line_no
ON CONFLICT (dataset_id, source, line_no) DO UPDATE
SET external_id = EXCLUDED.external_id, reason = EXCLUDED.reason, raw = EXCLUDED.raw
WHERE (rejected_rows.external_id, rejected_rows.reason, rejected_rows.raw)
      IS DISTINCT FROM (EXCLUDED.external_id, EXCLUDED.reason, EXCLUDED.raw);
