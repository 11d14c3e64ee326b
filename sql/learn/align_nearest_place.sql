-- learn/align_nearest_place.sql (step file): the names of the geocoded places nearest to
-- the coordinate (<lat>, <lon>), for "near Pemozo, Nachail": place = the nearest location
-- of the 'city' tier (geotool_semantic_tier), else of the 'state' tier; country = the
-- nearest location of the 'country' tier (a polygon holding the point is at distance 0).
-- English names where known. NULLs where the database holds no such location.
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
SELECT coalesce(
         (SELECT coalesce(l.name_en, l.name) FROM locations l, pt
          WHERE l.geom IS NOT NULL AND geotool_semantic_tier(l.rank_address, l.admin_level) = 'city'
          ORDER BY l.geom <-> pt.g LIMIT 1),
         (SELECT coalesce(l.name_en, l.name) FROM locations l, pt
          WHERE l.geom IS NOT NULL AND geotool_semantic_tier(l.rank_address, l.admin_level) = 'state'
          ORDER BY l.geom <-> pt.g LIMIT 1)) AS place,
       (SELECT coalesce(l.name_en, l.name) FROM locations l, pt
        WHERE l.geom IS NOT NULL AND geotool_semantic_tier(l.rank_address, l.admin_level) = 'country'
        ORDER BY l.geom <-> pt.g LIMIT 1) AS country
