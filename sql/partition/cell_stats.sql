-- partition/cell_stats.sql (S2 cells; semantic and country cells: partition/class_cells.sql): per
-- cell of partitioning <partitioning_id> (level <level> of set <set_id>), from the labels
-- (image_classes) of its training images (split <split>):
--   n_images             number of training images labelled with the cell;
--   lat, lon             spherical mean: the average of the images' unit vectors
--                        (x = cos φ cos λ, y = cos φ sin λ, z = sin φ) turned back into
--                        latitude/longitude (atan2), so cells across the antimeridian
--                        average correctly;
--   lat_plain, lon_plain the plain arithmetic mean of latitude and longitude (parity);
-- Sums are exact integer sums of the terms in units of 1e-15 (unit vector) and 1e-12
-- degrees (lat, lon), so the result never depends on row order.
--   geom, geom_source    S2 cells keep their cell polygon ('s2'); a semantic cell takes
--                        its location's OSM polygon where it has one ('osm'), otherwise
--                        the convex hull of its training images buffered by 0.001° so
--                        that it is a polygon that contains them ('hull').
WITH stats AS (
    SELECT ic.cell_ids[:level + 1] AS cell_id,
           count(*) AS n,
           (avg(round(cos(radians(i.lat)) * cos(radians(i.lon)) * 1e15)::int8) / 1e15)::float8
               AS x,
           (avg(round(cos(radians(i.lat)) * sin(radians(i.lon)) * 1e15)::int8) / 1e15)::float8
               AS y,
           (avg(round(sin(radians(i.lat)) * 1e15)::int8) / 1e15)::float8 AS z,
           (avg(round(i.lat * 1e12)::int8) / 1e12)::float8 AS lat_plain,
           (avg(round(i.lon * 1e12)::int8) / 1e12)::float8 AS lon_plain,
           ST_Normalize(ST_Buffer(ST_ConvexHull(
               ST_Collect(i.geom ORDER BY i.lon, i.lat)), 0.001)) AS hull
    FROM image_classes ic
    JOIN images i ON i.id = ic.image_id
    WHERE ic.set_id = :set_id AND ic.cell_ids[:level + 1] IS NOT NULL AND i.split = :split
    GROUP BY 1
)
UPDATE cells c
SET n_images = s.n,
    lat = degrees(atan2(s.z, sqrt(s.x * s.x + s.y * s.y))),
    lon = degrees(atan2(s.y, s.x)),
    lat_plain = s.lat_plain,
    lon_plain = s.lon_plain,
    geom = CASE
        WHEN c.geom_source = 's2' THEN c.geom
        WHEN coalesce(ST_Dimension(l.geom) = 2, false) THEN l.geom
        ELSE s.hull END,
    geom_source = CASE
        WHEN c.geom_source = 's2' THEN 's2'
        WHEN coalesce(ST_Dimension(l.geom) = 2, false) THEN 'osm'
        ELSE 'hull' END
FROM stats s
LEFT JOIN cells c2 ON c2.id = s.cell_id
LEFT JOIN locations l ON l.id = c2.location_id
WHERE c.id = s.cell_id;
