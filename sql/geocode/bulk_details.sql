-- geocode/bulk_details.sql: full details of the places of OSM type :t with ids :ids,
-- read inside a Nominatim database (geotool.geocode.nominatim.bulk.fetch_details): names,
-- class, type, tags, levels, importance, and the geometry as WKT: the polygon where the
-- place has one, simplified by :tol degrees (0: as stored), else its centroid. Several
-- placex rows of one OSM object: the unlinked one of the highest rank.
-- Simplification works part by part (ST_Dump), then unions the parts:
-- ST_SimplifyPreserveTopology on a whole multipolygon can leave one part inside another,
-- an invalid "nested shells" result (seen with Germany's outline on GEOS 3.11).
SELECT DISTINCT ON (osm_id)
       osm_id, name, class, type, extratags, admin_level, rank_address, country_code,
       importance, wikipedia,
       ST_GeometryType(geometry) IN ('ST_Polygon', 'ST_MultiPolygon') AS is_area,
       ST_AsText(CASE
           WHEN ST_GeometryType(geometry) IN ('ST_Polygon', 'ST_MultiPolygon')
               THEN CASE WHEN :tol > 0
                         THEN (SELECT ST_Union(ST_SimplifyPreserveTopology(d.geom, :tol))
                               FROM ST_Dump(geometry) AS d)
                         ELSE geometry END
           ELSE centroid END),
       ST_Y(centroid), ST_X(centroid)
FROM placex
WHERE osm_type = :t AND osm_id = ANY(:ids)
ORDER BY osm_id, linked_place_id IS NOT NULL, rank_address DESC, place_id;
