-- After any geonames load: which GeoNames country codes count as inside each country
-- polygon (geonames_countries.codes). A polygon's own alpha-2 code, plus every code that
-- has no polygon of its own (territories a coarse file folds into a neighbour, e.g.
-- French Guiana (GF) and Andorra (AD) inside Natural Earth 1:110m's France) assigned to
-- the polygon that holds most of that code's places.

DROP TABLE IF EXISTS gn_orphan_codes;

CREATE TEMP TABLE gn_orphan_codes ON COMMIT DROP AS
SELECT DISTINCT ON (o.country_code) o.country_code, o.location_id
FROM (
    SELECT p.country_code, cp.location_id, count(*) AS n
    FROM geonames_places p
    JOIN geonames_country_parts cp ON ST_Intersects(cp.geom, p.geog::geometry)
    WHERE p.country_code NOT IN (SELECT iso_a2 FROM geonames_countries
                                 WHERE iso_a2 IS NOT NULL)
    GROUP BY p.country_code, cp.location_id
) o
ORDER BY o.country_code, o.n DESC, o.location_id;

UPDATE geonames_countries c
SET codes = ARRAY(
    SELECT x FROM (SELECT c.iso_a2 AS x WHERE c.iso_a2 IS NOT NULL
                   UNION SELECT b.country_code FROM gn_orphan_codes b
                   WHERE b.location_id = c.location_id) u
    ORDER BY x);
