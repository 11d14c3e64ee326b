-- Replace the country polygons of the geonames geocoder with the staged ones (temp table
-- gn_stage_countries: iso_a3, iso_a2, name, wkb; filled by geonames_files.py). Polygons of
-- one alpha-3 code are merged; geometries are made valid and reduced to polygons. Each
-- country is a location '<prefix>:<iso_a3>' (admin_level 2, rank 4, its polygon as geom)
-- and a geonames_countries row cut into ST_Subdivide pieces for point-in-polygon tests.
-- Parameters: source (file name), prefix (key prefix, 'ne'), max_vertices.
-- Returns (countries, pieces).

DELETE FROM geonames_countries;

CREATE TEMP TABLE gn_country_valid ON COMMIT DROP AS
SELECT s.iso_a3, min(s.iso_a2) AS iso_a2, min(s.name) AS name,
       ST_Multi(ST_Union(ST_CollectionExtract(ST_MakeValid(
           ST_SetSRID(ST_GeomFromWKB(s.wkb), 4326)), 3))) AS geom
FROM gn_stage_countries s
GROUP BY s.iso_a3;

DELETE FROM gn_country_valid WHERE ST_IsEmpty(geom);

INSERT INTO locations AS l (osm_key, osm_type, name, name_en, category, type, admin_level,
                            rank_address, is_area, country_code, place, geom, centroid,
                            details_source)
SELECT :prefix || ':' || v.iso_a3, 'G', v.name, v.name, 'boundary', 'administrative', 2, 4,
       true, lower(v.iso_a2), 'country', v.geom, ST_PointOnSurface(v.geom),
       'geonames:' || :source
FROM gn_country_valid v
ORDER BY v.iso_a3
ON CONFLICT (osm_key) DO UPDATE SET
    name = EXCLUDED.name, name_en = EXCLUDED.name_en, admin_level = 2, rank_address = 4,
    is_area = true, country_code = EXCLUDED.country_code, geom = EXCLUDED.geom,
    centroid = EXCLUDED.centroid, details_source = EXCLUDED.details_source,
    updated_at = now();

INSERT INTO geonames_countries (location_id, key, iso_a3, iso_a2, name, codes, source, area,
                                geom)
SELECT l.id, l.osm_key, v.iso_a3, v.iso_a2, v.name,
       CASE WHEN v.iso_a2 IS NULL THEN '{}'::text[] ELSE ARRAY[v.iso_a2] END, :source,
       ST_Area(v.geom), v.geom
FROM gn_country_valid v
JOIN locations l ON l.osm_key = :prefix || ':' || v.iso_a3;

INSERT INTO geonames_country_parts (location_id, area, geom)
SELECT c.location_id, c.area, ST_Subdivide(c.geom, :max_vertices)
FROM geonames_countries c;

ANALYZE geonames_country_parts;

SELECT (SELECT count(*) FROM geonames_countries), (SELECT count(*) FROM geonames_country_parts);
