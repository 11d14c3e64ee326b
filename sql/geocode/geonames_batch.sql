-- The next batch of a dataset's images without an image_geocodes row, in id order after
-- <after_id>, as temp table gn_points (idx = image id, geom, geog) for geonames_locate.sql.
-- <precision>: round coordinates to that many decimals first (NULL: exact). Worker
-- <worker> of <workers> takes only the images whose id is <worker> modulo <workers>.
-- Returns (last image id of the batch, number of images).

CREATE TEMP TABLE gn_points ON COMMIT DROP AS
SELECT q.idx, q.geom, q.geom::geography AS geog
FROM (
    SELECT i.id AS idx,
           CASE WHEN CAST(:precision AS integer) IS NULL THEN i.geom
                ELSE ST_SetSRID(ST_MakePoint(
                         round(i.lon::numeric, CAST(:precision AS integer))::float8,
                         round(i.lat::numeric, CAST(:precision AS integer))::float8), 4326)
           END AS geom
    FROM images i
    WHERE i.dataset_id = :dataset_id AND i.id > :after_id
      AND i.id % :workers = :worker
      AND NOT EXISTS (SELECT 1 FROM image_geocodes g WHERE g.image_id = i.id)
    ORDER BY i.id
    LIMIT :batch_size
) q;

SELECT max(idx), count(*) FROM gn_points;
