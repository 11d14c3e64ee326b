-- learn/set_classes.sql: the classes of partitioning set <set_name>, as a model keeps
-- them: one row per (level, class_index), fine -> coarse, with the cell's id, a key that
-- survives a rebuild (the location's OSM key for semantic cells, the S2 token for S2
-- cells, the label for imported ones), its label, and its prediction coordinate (the
-- cell's spherical mean; lat_plain/lon_plain beside it for parity).
SELECT p.level, p.name AS partitioning, c.class_index, c.id AS cell_id,
       coalesce(l.osm_key, c.s2_token, c.label, c.id::text) AS key,
       coalesce(c.label, l.osm_key, c.s2_token, '') AS label,
       c.lat, c.lon, c.lat_plain, c.lon_plain, c.n_images
FROM partitioning_sets s
JOIN partitionings p ON p.set_id = s.id
JOIN cells c ON c.partitioning_id = p.id
LEFT JOIN locations l ON l.id = c.location_id
WHERE s.name = :set_name
ORDER BY p.level, c.class_index
