-- The next batch of a dataset's images without an image_geocodes row, for worker <worker>
-- of <workers> (the images whose id is <worker> modulo <workers>): the next <batch_size>
-- images after id <after_id> in id order (an index range scan of the primary key, so a
-- batch costs the same at image 10,000 and at image 4,700,000), of which those not yet
-- geocoded become temp table gn_points (idx = image id, geom, geog) for
-- geonames_locate.sql. <precision>: round coordinates to that many decimals first
-- (NULL: exact). Returns (last image id looked at, images looked at, images to answer);
-- the caller continues after that id and stops when none was looked at.

CREATE TEMP TABLE gn_candidates ON COMMIT DROP AS
SELECT i.id, i.lat, i.lon, i.geom
FROM images i
WHERE i.dataset_id = :dataset_id AND i.id > :after_id AND i.id % :workers = :worker
ORDER BY i.id
LIMIT :batch_size;

CREATE TEMP TABLE gn_points ON COMMIT DROP AS
SELECT q.idx, q.geom, q.geom::geography AS geog
FROM (
    SELECT c.id AS idx,
           CASE WHEN CAST(:precision AS integer) IS NULL THEN c.geom
                ELSE ST_SetSRID(ST_MakePoint(
                         round(c.lon::numeric, CAST(:precision AS integer))::float8,
                         round(c.lat::numeric, CAST(:precision AS integer))::float8), 4326)
           END AS geom
    FROM gn_candidates c
    WHERE NOT EXISTS (SELECT 1 FROM image_geocodes g WHERE g.image_id = c.id)
) q;

SELECT (SELECT max(id) FROM gn_candidates), (SELECT count(*) FROM gn_candidates),
       (SELECT count(*) FROM gn_points);
