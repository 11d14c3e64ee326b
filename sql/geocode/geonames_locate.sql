-- The geonames geocoder's answer for every point of temp table gn_points (idx, geom,
-- geog), as temp table gn_answer:
--   country_id   the country polygon containing the point (geonames_country_parts,
--                GiST; where pieces of two countries overlap, the smaller country), else
--                the nearest one within <coast_m> metres (on_coast); NULL: outside every
--                polygon and farther than that (at sea) -> unplaceable;
--   place_id, admin1_id, admin2_id, dist_m
--                the nearest GeoNames place of that country (its alpha-2 code is one of
--                the polygon's codes) within <admin_m> metres, by a nearest-neighbour
--                scan of the places' geography index (great-circle distance on the
--                sphere; equal distances: the smaller place id), with its admin areas'
--                locations.
-- Whether the place itself enters the address (dist_m <= city_m) is geonames_write's /
-- the caller's decision.

CREATE TEMP TABLE gn_answer ON COMMIT DROP AS
SELECT p.idx, c.location_id AS country_id, c.on_coast, n.location_id AS place_id,
       n.admin1_location_id AS admin1_id, n.admin2_location_id AS admin2_id, n.dist_m
FROM gn_points p
LEFT JOIN LATERAL (
    SELECT k.location_id, k.codes
    FROM geonames_country_parts cp
    JOIN geonames_countries k ON k.location_id = cp.location_id
    WHERE ST_Intersects(cp.geom, p.geom)
    ORDER BY cp.area, cp.location_id
    LIMIT 1
) inside ON true
LEFT JOIN LATERAL (
    -- outside every polygon: the nearest country within <coast_m> metres (of the 3
    -- pieces nearest in degrees, by great-circle distance), for coasts a coarse polygon
    -- misses; farther out the point stays unplaceable
    SELECT k.location_id, k.codes
    FROM (
        SELECT cp.location_id, ST_Distance(cp.geom::geography, p.geog, false) AS d
        FROM geonames_country_parts cp
        WHERE inside.location_id IS NULL
        ORDER BY cp.geom <-> p.geom
        LIMIT 3
    ) near
    JOIN geonames_countries k ON k.location_id = near.location_id
    WHERE near.d <= :coast_m
    ORDER BY near.d, near.location_id
    LIMIT 1
) coast ON true
CROSS JOIN LATERAL (
    SELECT coalesce(inside.location_id, coast.location_id) AS location_id,
           coalesce(inside.codes, coast.codes) AS codes,
           inside.location_id IS NULL AND coast.location_id IS NOT NULL AS on_coast
) c
LEFT JOIN LATERAL (
    -- the index scan yields places nearest first; of the first few, the smallest distance
    -- then the smallest id wins (a tie never depends on the index's order)
    SELECT k.location_id, k.admin1_location_id, k.admin2_location_id, k.dist_m
    FROM (
        SELECT g.id, g.location_id, g.admin1_location_id, g.admin2_location_id,
               g.geog <-> p.geog AS dist_m
        FROM geonames_places g
        WHERE c.codes IS NOT NULL
          AND g.country_code = ANY(c.codes)
          AND ST_DWithin(g.geog, p.geog, :admin_m, false)
        ORDER BY g.geog <-> p.geog
        LIMIT 3
    ) k
    ORDER BY k.dist_m, k.id
    LIMIT 1
) n ON true;
