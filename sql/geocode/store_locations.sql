-- geocode/store_locations.sql: upsert geocoder answers into locations by osm_key
-- (geotool.geocode.store.upsert_locations); returns (id, osm_key) of every row written.
-- Parameter rows: a JSON array of objects with the locations columns listed in the
-- recordset below: wkt is the geometry as WKT, clat/clon the centroid (null: none),
-- details_source marks full details, data_key names the data the answer comes from.
--
-- A stored row is "from other data" when the answer carries a data key that differs from
-- the row's: the answer then replaces the row's attributes, geometry and details_source
-- (nulls included, so the details step fetches the new data's polygon): the row it is
-- merged with ("kept") is all NULL. Otherwise a non-null value replaces the stored one
-- and a null never erases one, so a later details fetch only adds to a reverse answer.
-- Rows are written in osm_key order (two writers lock them in the same order).
INSERT INTO locations (osm_key, osm_type, osm_id, name, name_en, category, type,
                       admin_level, rank_address, is_area, country_code, wikidata,
                       wikipedia, population, place, importance, geom, centroid,
                       details_source, data_key)
SELECT r.osm_key, r.osm_type, r.osm_id, r.name, r.name_en, r.category, r.type,
       r.admin_level, r.rank_address, r.is_area, r.country_code, r.wikidata,
       r.wikipedia, r.population, r.place, r.importance,
       ST_GeomFromText(r.wkt, 4326),
       ST_SetSRID(ST_MakePoint(r.clon, r.clat), 4326),
       r.details_source, r.data_key
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    osm_key text, osm_type text, osm_id bigint, name text, name_en text, category text,
    type text, admin_level smallint, rank_address smallint, is_area boolean,
    country_code text, wikidata text, wikipedia text, population bigint, place text,
    importance float8, wkt text, clat float8, clon float8, details_source text,
    data_key text)
ORDER BY r.osm_key
ON CONFLICT (osm_key) DO UPDATE SET
    (osm_type, osm_id, name, name_en, category, type, admin_level, rank_address, is_area,
     country_code, wikidata, wikipedia, population, place, importance, geom, centroid,
     details_source)
    = (SELECT coalesce(EXCLUDED.osm_type, (k).osm_type), coalesce(EXCLUDED.osm_id, (k).osm_id),
              coalesce(EXCLUDED.name, (k).name), coalesce(EXCLUDED.name_en, (k).name_en),
              coalesce(EXCLUDED.category, (k).category), coalesce(EXCLUDED.type, (k).type),
              coalesce(EXCLUDED.admin_level, (k).admin_level),
              coalesce(EXCLUDED.rank_address, (k).rank_address),
              coalesce(EXCLUDED.is_area, (k).is_area),
              coalesce(EXCLUDED.country_code, (k).country_code),
              coalesce(EXCLUDED.wikidata, (k).wikidata),
              coalesce(EXCLUDED.wikipedia, (k).wikipedia),
              coalesce(EXCLUDED.population, (k).population),
              coalesce(EXCLUDED.place, (k).place),
              coalesce(EXCLUDED.importance, (k).importance),
              coalesce(EXCLUDED.geom, (k).geom), coalesce(EXCLUDED.centroid, (k).centroid),
              coalesce(EXCLUDED.details_source, (k).details_source)
       FROM (SELECT CASE WHEN EXCLUDED.data_key IS NOT NULL
                              AND EXCLUDED.data_key IS DISTINCT FROM locations.data_key
                         THEN NULL ELSE locations END AS k) AS kept),
    data_key = coalesce(EXCLUDED.data_key, locations.data_key),
    updated_at = now()
RETURNING id, osm_key
;
