-- geocode/pending_points.sql: the coordinates of dataset :d still to geocode (images
-- without an image_geocodes row) at :precision decimals (NULL: exact;
-- geotool_query_coordinate), each with the ids of its images and, when geocode_cache
-- holds an answer for it under namespace :ns (NULL: no cache), that answer. In (lat, lon)
-- order; streamed by geotool.geocode.store.iter_pending_points.
SELECT q.qlat, q.qlon, q.ids, c.status, c.location_ids, c.detail
FROM (
    SELECT geotool_query_coordinate(i.lat, CAST(:precision AS integer)) AS qlat,
           geotool_query_coordinate(i.lon, CAST(:precision AS integer)) AS qlon,
           array_agg(i.id ORDER BY i.id) AS ids
    FROM images i
    WHERE i.dataset_id = :d
      AND NOT EXISTS (SELECT 1 FROM image_geocodes g WHERE g.image_id = i.id)
    GROUP BY 1, 2
) q
LEFT JOIN geocode_cache c ON c.namespace = :ns AND c.lat = q.qlat AND c.lon = q.qlon
ORDER BY q.qlat, q.qlon;
