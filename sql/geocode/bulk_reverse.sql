-- Bulk reverse geocoding, step 1: the place Nominatim's `reverse` (zoom 18, max rank 30,
-- layers address + poi) would return for every point of temp table bulk_points
-- (idx, geom), run inside a Nominatim database. Set-based rewrite of the rules in
-- nominatim_api/reverse.py (see geotool/geocode/nominatim/bulk.py for the list):
--   a. streets/addresses/POIs within 0.006 + 0.001 degrees, closest first, refined by a
--      house number near the closest street or a POI node inside the closest building,
--      or replaced by a closer address interpolation line;
--   b. else the highest-ranked addressable area containing the point, refined by a place
--      node inside it within that rank's reverse_place_diameter;
--   c. else a place node in the country (by country_osm_grid), the country's rank-4
--      place, or the country_name entry.
-- Place nodes and areas are searched among the 50 highest-ranked candidates only, as
-- reverse.py does. Ties that Nominatim leaves to the database's row order are broken by
-- rules that do not depend on import order (docs/geocoding.md, "Known differences"):
-- equal distance by smaller area, then OSM type and id descending (a way before a node,
-- the newer object first), then class and type (one OSM object with two main tags has
-- two placex rows); equal rank by distance (place nodes) or OSM type and id (areas).
-- Result: temp table bulk_result (idx, place_id, lookup_id, source, country_code,
-- centroid, addr) where source is 'placex', 'osmline' or 'country'.

-- a. Each point's smallest candidate distance first, by a nearest-neighbour index scan
-- (one row per point), then only the candidates within that distance + 0.001 (Nominatim's
-- fuzz) are kept, with points (centroid, closest point) and no geometries: the temporary
-- rows grow with the number of points, not with the density of the data around them.
-- Both scans read `candidates`, the placex rows reverse.py considers for a street, an
-- address or a POI (its _find_closest_street_or_pois); NOT MATERIALIZED inlines it into
-- each scan, so the index scans stay as if the filter were written out in both.
CREATE TEMP TABLE bulk_near ON COMMIT DROP AS
WITH candidates AS NOT MATERIALIZED (
    SELECT t.*
    FROM placex t
    WHERE t.indexed_status = 0
      AND t.linked_place_id IS NULL
      AND ((coalesce(NULL, t.rank_address) BETWEEN 26 AND 29)
           OR (t.rank_address = 30 AND (t.address IS NULL OR NOT t.address ? '_inherited')
               AND (t.housenumber IS NOT NULL OR t.name ? 'addr:housename'))
           OR (coalesce(NULL, t.rank_search) = 30 AND t.class NOT IN ('place', 'building')
               AND ST_GeometryType(t.geometry) NOT IN ('ST_LineString',
                                                       'ST_MultiLineString')))
)
SELECT p.idx, c.place_id, c.osm_type, c.rank_address, c.rank_search, c.housenumber,
       c.parent_place_id, c.centroid, c.closest, c.distance,
       row_number() OVER (PARTITION BY p.idx
                          ORDER BY c.distance, c.area, c.osm_type DESC, c.osm_id DESC,
                                   c.class, c.type) AS nth
FROM bulk_points p
CROSS JOIN LATERAL (
    SELECT ST_Distance(t.geometry, p.geom) AS distance
    FROM candidates t
    WHERE ST_DWithin(t.geometry, p.geom, 0.007)
      AND (ST_GeometryType(t.geometry) NOT IN ('ST_Polygon', 'ST_MultiPolygon')
           OR ST_Distance(t.centroid, p.geom) < 0.007)
    ORDER BY t.geometry <-> p.geom
    LIMIT 1
) m
CROSS JOIN LATERAL (
    SELECT t.place_id, t.osm_type, t.osm_id, t.class, t.type, t.rank_address,
           t.rank_search, t.housenumber, t.parent_place_id,
           CASE WHEN ST_GeometryType(t.geometry) IN ('ST_LineString', 'ST_MultiLineString')
                THEN ST_ClosestPoint(t.geometry, p.geom) ELSE t.centroid END AS centroid,
           CASE WHEN t.rank_search <= 27 THEN ST_ClosestPoint(t.geometry, p.geom) END
               AS closest,
           ST_Distance(t.geometry, p.geom) AS distance,
           ST_Area(t.geometry) AS area
    FROM candidates t
    WHERE ST_DWithin(t.geometry, p.geom, least(m.distance + 0.001, 0.007))
      AND (ST_GeometryType(t.geometry) NOT IN ('ST_Polygon', 'ST_MultiPolygon')
           OR ST_Distance(t.centroid, p.geom) < 0.007)
) c
WHERE c.distance < m.distance + 0.001;

ANALYZE bulk_near;

CREATE TEMP TABLE bulk_first ON COMMIT DROP AS
SELECT n.idx, n.place_id, n.osm_type, n.rank_address, n.rank_search, n.housenumber,
       n.distance, n.closest, n.rank_address <= 27 AS is_street
FROM bulk_near n
WHERE n.nth = 1;

ANALYZE bulk_first;

-- The building a POI node may lie in: the object first by (distance, area) — the first
-- row — unless that one is a street or a node.
CREATE TEMP TABLE bulk_best_area ON COMMIT DROP AS
SELECT f.idx, f.place_id
FROM bulk_first f
WHERE f.rank_search > 27 AND f.osm_type <> 'N';

-- A house number close to the closest street replaces the street; a POI node inside the
-- closest building replaces the building.
CREATE TEMP TABLE bulk_choice ON COMMIT DROP AS
WITH h AS (
    SELECT DISTINCT ON (f.idx) f.idx, n.place_id, n.distance
    FROM bulk_first f JOIN bulk_near n ON n.idx = f.idx AND n.nth > 1
    WHERE f.is_street AND f.closest IS NOT NULL
      AND n.housenumber IS NOT NULL AND n.parent_place_id = f.place_id
      AND ST_Distance(n.centroid, f.closest) < 0.001
    ORDER BY f.idx, ST_Distance(n.centroid, f.closest), n.nth
), poi AS (
    SELECT DISTINCT ON (f.idx) f.idx, n.place_id
    FROM bulk_first f
    JOIN bulk_near n ON n.idx = f.idx AND n.nth > 1
    JOIN bulk_best_area b ON b.idx = f.idx
    JOIN placex g ON g.place_id = b.place_id
    WHERE NOT f.is_street AND f.osm_type <> 'N' AND f.rank_search > 27 AND f.distance = 0
      AND n.osm_type = 'N' AND n.rank_search > 27
      AND ST_CoveredBy(n.centroid, g.geometry)
      AND (f.housenumber IS NULL OR f.housenumber = n.housenumber)
    ORDER BY f.idx, n.nth
)
SELECT f.idx,
       coalesce(h.place_id, poi.place_id, f.place_id) AS place_id,
       CASE WHEN h.place_id IS NOT NULL THEN h.distance
            WHEN f.is_street THEN 0.001
            ELSE f.distance END AS search_distance,
       CASE WHEN f.is_street THEN f.place_id END AS parent_street
FROM bulk_first f
LEFT JOIN h ON h.idx = f.idx
LEFT JOIN poi ON poi.idx = f.idx;

ANALYZE bulk_choice;

CREATE TEMP TABLE bulk_result (
    idx integer PRIMARY KEY, place_id bigint, lookup_id bigint, source text,
    country_code text, centroid geometry, addr hstore
) ON COMMIT DROP;

-- Address interpolation lines closer than the result (or near the closest street); with
-- no street or POI at all they are searched within 0.006 degrees.
INSERT INTO bulk_result (idx, place_id, lookup_id, source, country_code, centroid, addr)
SELECT p.idx, i.place_id, coalesce(i.parent_place_id, i.place_id), 'osmline',
       i.country_code,
       CASE WHEN i.endnumber = i.startnumber THEN ST_Centroid(i.linegeo)
            ELSE ST_LineInterpolatePoint(i.linegeo, round(i.position / i.fac) * i.fac) END,
       i.address
FROM bulk_points p LEFT JOIN bulk_choice c ON c.idx = p.idx
CROSS JOIN LATERAL (
    SELECT o.place_id, o.parent_place_id, o.country_code, o.linegeo, o.startnumber,
           o.endnumber, o.address,
           CASE WHEN ST_GeometryType(o.linegeo) IN ('ST_LineString', 'ST_MultiLineString')
                THEN ST_LineLocatePoint(o.linegeo, p.geom) ELSE 0 END AS position,
           o.step::float8 / nullif(o.endnumber - o.startnumber, 0) AS fac
    FROM location_property_osmline o
    WHERE ST_DWithin(o.linegeo, p.geom, coalesce(c.search_distance, 0.006))
      AND o.startnumber IS NOT NULL
      AND (c.parent_street IS NULL OR o.parent_place_id = c.parent_street)
    ORDER BY ST_Distance(o.linegeo, p.geom)
    LIMIT 1
) i
WHERE coalesce(c.search_distance, 0.006) > 0;

INSERT INTO bulk_result (idx, place_id, lookup_id, source, country_code, centroid, addr)
SELECT c.idx, t.place_id,
       CASE WHEN t.rank_search > 27 THEN coalesce(t.parent_place_id, t.place_id)
            ELSE coalesce(t.linked_place_id, t.place_id) END,
       'placex', t.country_code,
       CASE WHEN ST_GeometryType(t.geometry) IN ('ST_LineString', 'ST_MultiLineString')
            THEN ST_ClosestPoint(t.geometry, p.geom) ELSE t.centroid END,
       t.address
FROM bulk_choice c JOIN placex t ON t.place_id = c.place_id
JOIN bulk_points p ON p.idx = c.idx
ON CONFLICT (idx) DO NOTHING;

-- b. Addressable areas, then place nodes inside the area found. As in reverse.py, only
-- the 50 highest-ranked candidates by bounding box are filtered by exact containment
-- (areas) or distance and containment (place nodes); equal ranks at that cut, where
-- Nominatim takes the database's row order, are ordered by distance, then OSM type and
-- id (stable across re-imports).
CREATE TEMP TABLE bulk_area ON COMMIT DROP AS
SELECT p.idx, a.place_id, a.rank_search
FROM bulk_points p
CROSS JOIN LATERAL (
    SELECT c.place_id, c.rank_search
    FROM (
        SELECT t.place_id, t.rank_search, t.osm_type, t.osm_id, t.geometry
        FROM placex t
        WHERE t.rank_search BETWEEN 5 AND 30
          AND t.rank_address NOT IN (5, 11)
          AND t.geometry && p.geom
          AND ST_GeometryType(t.geometry) IN ('ST_Polygon', 'ST_MultiPolygon')
          AND t.rank_address BETWEEN 4 AND 25 AND t.name IS NOT NULL
          AND t.indexed_status = 0 AND t.linked_place_id IS NULL
        ORDER BY t.rank_search DESC, t.osm_type, t.osm_id
        LIMIT 50
    ) c
    WHERE ST_Contains(c.geometry, p.geom)
    ORDER BY c.rank_search DESC, c.osm_type, c.osm_id
    LIMIT 1
) a
WHERE NOT EXISTS (SELECT 1 FROM bulk_result r WHERE r.idx = p.idx);

INSERT INTO bulk_result (idx, place_id, lookup_id, source, country_code, centroid, addr)
SELECT a.idx, coalesce(node.place_id, t.place_id),
       coalesce(node.lookup_id, t.linked_place_id, t.place_id), 'placex',
       coalesce(node.country_code, t.country_code), coalesce(node.centroid, t.centroid),
       CASE WHEN node.place_id IS NULL THEN t.address ELSE node.address END
FROM bulk_area a JOIN placex t ON t.place_id = a.place_id
JOIN bulk_points p ON p.idx = a.idx
LEFT JOIN LATERAL (
    SELECT n.place_id, coalesce(n.linked_place_id, n.place_id) AS lookup_id,
           n.country_code, n.centroid, n.address
    FROM (
        SELECT n.place_id, n.linked_place_id, n.country_code, n.centroid, n.address,
               n.geometry, n.rank_search, n.osm_id, ST_Distance(n.geometry, p.geom) AS distance
        FROM placex n
        WHERE n.rank_search > a.rank_search AND n.rank_search <= 30
          AND n.indexed_status = 0
          AND n.rank_address BETWEEN 4 AND 25 AND n.name IS NOT NULL
          AND n.linked_place_id IS NULL AND n.osm_type = 'N'
          AND ST_Buffer(n.geometry, reverse_place_diameter(n.rank_search)) && p.geom
        ORDER BY n.rank_search DESC, distance, n.osm_id
        LIMIT 50
    ) n
    WHERE a.rank_search < 30
      AND n.distance < reverse_place_diameter(n.rank_search)
      AND ST_Contains(t.geometry, n.geometry)
    ORDER BY n.rank_search DESC, n.distance, n.osm_id
    LIMIT 1
) node ON true;

-- c. The country: a place node in it, its rank-4 place, or its country_name entry.
CREATE TEMP TABLE bulk_country ON COMMIT DROP AS
SELECT p.idx, array_agg(DISTINCT g.country_code::text) AS codes
FROM bulk_points p JOIN country_osm_grid g ON ST_Contains(g.geometry, p.geom)
WHERE NOT EXISTS (SELECT 1 FROM bulk_result r WHERE r.idx = p.idx)
GROUP BY p.idx;

INSERT INTO bulk_result (idx, place_id, lookup_id, source, country_code, centroid, addr)
SELECT c.idx, found.place_id, coalesce(found.linked_place_id, found.place_id),
       'placex', found.country_code, found.centroid, found.address
FROM bulk_country c JOIN bulk_points p ON p.idx = c.idx
CROSS JOIN LATERAL (
    SELECT * FROM (
        (SELECT n.place_id, n.linked_place_id, n.country_code, n.centroid, n.address, 0 AS pass
         FROM (
             SELECT n.place_id, n.linked_place_id, n.country_code, n.centroid, n.address,
                    n.rank_search, n.osm_id, ST_Distance(n.geometry, p.geom) AS distance
             FROM placex n
             WHERE n.rank_search > 4 AND n.rank_search <= 30 AND n.indexed_status = 0
               AND n.country_code = ANY (c.codes)
               AND n.rank_address BETWEEN 4 AND 25 AND n.name IS NOT NULL
               AND n.linked_place_id IS NULL AND n.osm_type = 'N'
               AND ST_Buffer(n.geometry, reverse_place_diameter(n.rank_search)) && p.geom
             ORDER BY n.rank_search DESC, distance, n.osm_id
             LIMIT 50
         ) n
         WHERE n.distance < reverse_place_diameter(n.rank_search)
         ORDER BY n.rank_search DESC, n.distance, n.osm_id
         LIMIT 1)
        UNION ALL
        (SELECT n.place_id, n.linked_place_id, n.country_code, n.centroid, n.address, 1
         FROM placex n
         WHERE n.country_code = ANY (c.codes) AND n.rank_address = 4 AND n.rank_search = 4
           AND n.linked_place_id IS NULL
         ORDER BY ST_Distance(n.geometry, p.geom)
         LIMIT 1)
    ) options ORDER BY pass LIMIT 1
) found;

INSERT INTO bulk_result (idx, place_id, lookup_id, source, country_code, centroid, addr)
SELECT c.idx, NULL, NULL, 'country', (SELECT min(x) FROM unnest(c.codes) x), NULL, NULL
FROM bulk_country c
ON CONFLICT (idx) DO NOTHING;
