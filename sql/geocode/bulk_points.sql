-- geocode/bulk_points.sql: the temp table bulk_points (idx, lat, lon, geom) that the
-- bulk geocoder COPYs a batch of coordinates into, inside a Nominatim database
-- (geotool.geocode.nominatim.bulk.reverse_keys; then geocode/bulk_reverse.sql and
-- geocode/bulk_address.sql). JIT compilation costs seconds per statement here (large
-- estimated costs of the spatial joins) and never pays back on batches of this size.
SET LOCAL jit = off;

CREATE TEMP TABLE bulk_points (
    idx integer PRIMARY KEY,
    lat float8,
    lon float8,
    geom geometry GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
) ON COMMIT DROP;
