-- geocode/pending_count.sql: how many images of dataset :d are still to geocode, and at
-- how many distinct query coordinates (:precision decimals; see pending_points.sql).
SELECT count(*),
       count(DISTINCT (geotool_query_coordinate(i.lat, CAST(:precision AS integer)),
                       geotool_query_coordinate(i.lon, CAST(:precision AS integer))))
FROM images i
WHERE i.dataset_id = :d
  AND NOT EXISTS (SELECT 1 FROM image_geocodes g WHERE g.image_id = i.id);
