-- Bulk reverse geocoding, step 2: the address rows of every result in temp table
-- bulk_result (from geocode/bulk_reverse.sql), as nominatim_api's
-- complete_address_details builds them: the result itself (when named), the
-- place_addressline rows of the result and of its lookup place (isaddress = first row of
-- each rank in Nominatim's preference order: names shared with the result's address tags,
-- an area containing the result's centroid, Nominatim's isaddress, fromarea, distance,
-- rank_search), the country (its admin_level 2 relation, else C:<cc>), and the lookup
-- (parent) place. Result: (idx, keys in address order, finest first, their placex
-- rows, country code) for rows with isaddress, postcodes dropped.

CREATE TEMP TABLE bulk_country_keys ON COMMIT DROP AS
SELECT DISTINCT ON (c.country_code) c.country_code::text AS country_code,
       'R' || c.osm_id AS osm_key
FROM placex c
WHERE c.osm_type = 'R' AND c.class = 'boundary' AND c.type = 'administrative'
  AND c.admin_level = 2 AND c.country_code IS NOT NULL
ORDER BY c.country_code, c.importance DESC NULLS LAST, c.osm_id;

CREATE TEMP TABLE bulk_lines ON COMMIT DROP AS
SELECT r.idx, 0 AS part, 0::bigint AS seq, t.place_id, t.rank_address, true AS isaddress,
       t.osm_type || t.osm_id AS osm_key, t.class, t.type
FROM bulk_result r JOIN placex t ON t.place_id = r.place_id
WHERE r.source = 'placex' AND t.name IS NOT NULL AND t.name <> ''::hstore
UNION ALL
SELECT o.idx, 1, row_number() OVER (PARTITION BY o.idx ORDER BY o.rank_address DESC, o.pref),
       o.place_id, o.rank_address,
       row_number() OVER (PARTITION BY o.idx, o.rank_address ORDER BY o.pref) = 1,
       o.osm_key, o.class, o.type
FROM (
    SELECT r.idx, t.place_id, t.rank_address, t.osm_type || t.osm_id AS osm_key, t.class,
           t.type,
           row_number() OVER (PARTITION BY r.idx ORDER BY
               t.rank_address DESC,
               (a.place_id = r.place_id) DESC,
               CASE WHEN coalesce(avals(t.name) && avals(r.addr), false) THEN 2
                    WHEN a.isaddress THEN 0
                    WHEN a.fromarea AND ST_Contains(t.geometry, r.centroid) THEN 1
                    ELSE -1 END DESC,
               a.fromarea DESC, a.distance DESC, t.rank_search DESC, t.place_id) AS pref
    FROM bulk_result r
    JOIN place_addressline a ON a.place_id IN (r.place_id, r.lookup_id)
    JOIN placex t ON t.place_id = a.address_place_id
    WHERE r.place_id IS NOT NULL
) o
UNION ALL
SELECT r.idx, 2, 0, NULL, 4, true, coalesce(k.osm_key, 'C:' || lower(r.country_code)),
       'place', 'country'
FROM bulk_result r LEFT JOIN bulk_country_keys k ON k.country_code = r.country_code
WHERE r.country_code IS NOT NULL
UNION ALL
SELECT r.idx, 3, 0, t.place_id, t.rank_address, true, t.osm_type || t.osm_id, t.class,
       t.type
FROM bulk_result r JOIN placex t ON t.place_id = r.lookup_id
WHERE r.lookup_id <> r.place_id;

-- One row per point: its keys in address order, the placex row each key came from (NULL
-- for the country row, which Nominatim builds from country_name) and the answer's
-- country code; a point with no address row gets {NULL}.
SELECT r.idx,
       array_agg(l.osm_key ORDER BY l.part <> 0, l.rank_address DESC, l.part, l.seq),
       array_agg(CASE WHEN l.part = 2 THEN NULL ELSE l.place_id END
                 ORDER BY l.part <> 0, l.rank_address DESC, l.part, l.seq),
       lower(r.country_code)
FROM bulk_result r
LEFT JOIN bulk_lines l
  ON l.idx = r.idx AND l.isaddress
 AND NOT (l.class = 'place' AND l.type = 'postcode')
 AND NOT (l.class = 'boundary' AND l.type = 'postal_code')
GROUP BY r.idx, r.country_code;
