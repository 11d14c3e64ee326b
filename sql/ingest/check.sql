-- ingest, step 2: the checks that need the whole file or the database.
-- Parameters: dataset_id.
-- (a) An id that occurs more than once in the file: the first occurrence (lowest line)
--     stays, every later one is refused and names the line of the first.
-- (b) An id already stored in the dataset with a different coordinate or split is
--     refused: address vectors and labels depend on the coordinate, so a silent change
--     would corrupt later stages. (Same coordinate and split = "already present".)
CREATE INDEX ON ingest_staging (external_id);

ANALYZE ingest_staging;

WITH firsts AS (
    SELECT external_id, min(line_no) AS first_line
    FROM ingest_staging
    WHERE kind IS NULL
    GROUP BY external_id
    HAVING count(*) > 1
)
UPDATE ingest_staging s
SET kind = 'duplicate_id',
    reason = 'id ' || s.external_id || ' occurs again (first on line '
             || f.first_line || ')'
FROM firsts f
WHERE s.kind IS NULL
  AND s.external_id = f.external_id
  AND s.line_no <> f.first_line;

UPDATE ingest_staging s
SET kind = 'conflict',
    reason = 'id ' || s.external_id || ' is already in the dataset with ('
             || i.lat || ', ' || i.lon || ', ' || i.split || '), not ('
             || s.lat || ', ' || s.lon || ', ' || s.split || ')'
FROM images i
WHERE s.kind IS NULL
  AND i.dataset_id = :dataset_id
  AND i.external_id = s.external_id
  AND (i.lat <> s.lat OR i.lon <> s.lon OR i.split <> s.split);
