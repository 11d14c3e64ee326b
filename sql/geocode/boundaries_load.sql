-- Load a staged boundary file (temp table boundary_stage, filled by COPY from
-- geotool/geocode/boundaries.py) into locations, boundaries and boundary_parts.
-- Geometries are made valid and reduced to their polygons; rank_address follows
-- Nominatim's usual mapping of admin_level n to rank 2n (capped at 25, areas only).
-- Parameters: source (the file's source name), replace (drop the source's old boundaries
-- first), max_vertices (ST_Subdivide piece size). Returns the source's number of parts.

DELETE FROM boundaries WHERE :replace AND source = :source;

CREATE TEMP TABLE boundary_valid ON COMMIT DROP AS
SELECT s.osm_key, s.source_key, s.name, s.name_en, s.admin_level, s.country_code,
       s.parent_key,
       ST_Multi(ST_CollectionExtract(ST_MakeValid(
           ST_SetSRID(ST_GeomFromWKB(s.wkb), 4326)), 3)) AS geom
FROM boundary_stage s;

DELETE FROM boundary_valid WHERE ST_IsEmpty(geom);

INSERT INTO locations AS l (osm_key, osm_type, osm_id, name, name_en, category, type,
                            admin_level, rank_address, is_area, country_code, geom,
                            centroid, details_source)
SELECT v.osm_key,
       CASE WHEN v.osm_key ~ '^[NWR][0-9]+$' THEN left(v.osm_key, 1) ELSE 'B' END,
       CASE WHEN v.osm_key ~ '^[NWR][0-9]+$' THEN substr(v.osm_key, 2)::bigint END,
       v.name, v.name_en, 'boundary', 'administrative', v.admin_level,
       least(2 * v.admin_level, 25), true, v.country_code, v.geom,
       ST_PointOnSurface(v.geom), 'boundaries:' || :source
FROM boundary_valid v
ON CONFLICT (osm_key) DO UPDATE SET
    name = coalesce(EXCLUDED.name, l.name),
    name_en = coalesce(EXCLUDED.name_en, l.name_en),
    admin_level = EXCLUDED.admin_level,
    rank_address = coalesce(l.rank_address, EXCLUDED.rank_address),
    is_area = true,
    country_code = coalesce(EXCLUDED.country_code, l.country_code),
    geom = EXCLUDED.geom,
    centroid = coalesce(l.centroid, EXCLUDED.centroid),
    details_source = coalesce(l.details_source, EXCLUDED.details_source),
    updated_at = now();

INSERT INTO boundaries AS b (location_id, source, source_key, admin_level, parent_key, area,
                             geom)
SELECT l.id, :source, v.source_key, v.admin_level, v.parent_key, ST_Area(v.geom), v.geom
FROM boundary_valid v JOIN locations l ON l.osm_key = v.osm_key
ON CONFLICT (location_id) DO UPDATE SET
    source = EXCLUDED.source, source_key = EXCLUDED.source_key,
    admin_level = EXCLUDED.admin_level, parent_key = EXCLUDED.parent_key,
    area = EXCLUDED.area, geom = EXCLUDED.geom, loaded_at = now();

DELETE FROM boundary_parts p USING boundaries b
WHERE p.location_id = b.location_id AND b.source = :source;

INSERT INTO boundary_parts (location_id, admin_level, area, geom)
SELECT b.location_id, b.admin_level, b.area, ST_Subdivide(b.geom, :max_vertices)
FROM boundaries b WHERE b.source = :source;

ANALYZE boundary_parts;

SELECT count(*) FROM boundary_parts p JOIN boundaries b ON b.location_id = p.location_id
WHERE b.source = :source;
