-- ingest --locations, step 2: upsert locations from the staged GeoFeather table.
-- New keys are inserted; existing rows are refreshed only when they came from EMP-16
-- themselves (details_source null, 'emp16' or 'emp16-locations'), never when a geocoder
-- filled them. Geometries are stored as given, in EPSG:4326; the centroid is the
-- table's latitude_center/longitude_center, else the geometry's point on surface.
-- A key listed twice keeps its first row.
INSERT INTO locations (osm_key, osm_type, osm_id, name, name_en, category, type,
                       admin_level, rank_address, is_area, country_code, wikidata,
                       wikipedia, population, place, importance, geom, centroid,
                       details_source)
SELECT DISTINCT ON (s.osm_key)
       s.osm_key, s.osm_type, s.osm_id, s.name, s.name_en, s.category, s.type,
       s.admin_level, s.rank_address, s.is_area, s.country_code, s.wikidata,
       s.wikipedia, s.population, s.place, s.importance,
       g.geom,
       CASE WHEN s.lat IS NOT NULL AND s.lon IS NOT NULL
            THEN ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
            ELSE ST_PointOnSurface(g.geom) END,
       'emp16-locations'
FROM ingest_locations s
CROSS JOIN LATERAL (
    SELECT ST_SetSRID(ST_Force2D(ST_GeomFromWKB(s.geom_wkb)), 4326) AS geom
) g
ORDER BY s.osm_key, s.row_no
ON CONFLICT (osm_key) DO UPDATE
SET name = EXCLUDED.name, name_en = EXCLUDED.name_en, category = EXCLUDED.category,
    type = EXCLUDED.type, admin_level = EXCLUDED.admin_level,
    rank_address = EXCLUDED.rank_address, is_area = EXCLUDED.is_area,
    country_code = EXCLUDED.country_code, wikidata = EXCLUDED.wikidata,
    wikipedia = EXCLUDED.wikipedia, population = EXCLUDED.population,
    place = EXCLUDED.place, importance = EXCLUDED.importance, geom = EXCLUDED.geom,
    centroid = EXCLUDED.centroid, details_source = EXCLUDED.details_source,
    updated_at = now()
WHERE coalesce(locations.details_source, 'emp16') IN ('emp16', 'emp16-locations');
