-- ingest, step 5 (EMP-16): address vectors shipped with the file, so geocoding can be
-- skipped. Parameters: dataset_id.
-- Locations are upserted by osm_key with only osm_type/osm_id known (attributes stay
-- null until geocoding or a location table fills them). Images of this file that have
-- no image_geocodes row yet get their vector (position 0 = finest) and a geocode row
-- with source 'emp16' ('ok', or 'unplaceable' for an empty vector); images that were
-- already geocoded, by any source, are left alone, which makes re-runs idempotent.
-- Vectors are cleaned as geocoded ones are (geotool.geocode.store.clean_vector):
-- postcodes (locations known as type postcode/postal_code or rank_address 5, e.g. from
-- a location table or an earlier geocoding) are dropped, and a repeated location is kept
-- at its finest position only; positions are then renumbered 0, 1, ...
INSERT INTO locations (osm_key, osm_type, osm_id, details_source)
SELECT k.osm_key, left(k.osm_key, 1), substr(k.osm_key, 2)::bigint, 'emp16'
FROM (
    SELECT DISTINCT a.osm_key
    FROM ingest_staging s, unnest(s.address) AS a(osm_key)
    WHERE s.kind IS NULL
) k
ORDER BY k.osm_key
ON CONFLICT (osm_key) DO NOTHING;

CREATE TEMP TABLE ingest_new_geocodes ON COMMIT DROP AS
SELECT i.id AS image_id,
       ARRAY(SELECT a.osm_key
             FROM unnest(s.address) WITH ORDINALITY AS a(osm_key, ord)
             LEFT JOIN locations l ON l.osm_key = a.osm_key
             WHERE NOT coalesce(l.type IN ('postcode', 'postal_code')
                                OR l.rank_address = 5, false)
             GROUP BY a.osm_key
             ORDER BY min(a.ord)) AS address,
       cardinality(s.address) AS raw_length
FROM ingest_staging s
JOIN images i ON i.dataset_id = :dataset_id AND i.external_id = s.external_id
WHERE s.kind IS NULL
  AND s.address IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM image_geocodes g WHERE g.image_id = i.id);

INSERT INTO image_addresses (image_id, position, location_id)
SELECT n.image_id, a.ord - 1, l.id
FROM ingest_new_geocodes n
CROSS JOIN LATERAL unnest(n.address) WITH ORDINALITY AS a(osm_key, ord)
JOIN locations l ON l.osm_key = a.osm_key
ORDER BY n.image_id, a.ord;

INSERT INTO image_geocodes (image_id, status, source, detail)
SELECT image_id,
       CASE WHEN cardinality(address) > 0 THEN 'ok' ELSE 'unplaceable' END,
       'emp16',
       CASE WHEN cardinality(address) > 0 THEN NULL
            WHEN raw_length > 0 THEN 'only postcodes in h_raw in EMP-16'
            ELSE 'empty h_raw in EMP-16' END
FROM ingest_new_geocodes
ORDER BY image_id;
