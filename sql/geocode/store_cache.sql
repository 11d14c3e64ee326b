-- geocode/store_cache.sql: remember answers in geocode_cache under namespace :ns (the
-- geocoder's), keyed by the queried coordinate. Parameter rows: a JSON array of
-- {lat, lon, status ('ok' or 'unplaceable'), ids (location ids, finest first), detail}.
-- A coordinate already cached keeps its first answer.
INSERT INTO geocode_cache (namespace, lat, lon, status, location_ids, detail)
SELECT :ns, r.lat, r.lon, r.status,
       ARRAY(SELECT jsonb_array_elements_text(r.ids)::bigint), r.detail
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS r(lat float8, lon float8, status text, ids jsonb, detail text)
ON CONFLICT DO NOTHING;
