-- geocode/functions.sql (schema file): SQL functions of geocoding.
--
-- geotool_query_coordinate(x, decimals): the coordinate geotool queries a geocoder with
--     for latitude or longitude x: rounded to <decimals> places (geotool geocode
--     --precision), or x itself when decimals is NULL. Photos whose rounded coordinates
--     agree share one query. One expression, so the planner inlines it.
CREATE OR REPLACE FUNCTION geotool_query_coordinate(x double precision, decimals integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN decimals IS NULL THEN x ELSE round(x::numeric, decimals)::float8 END
$$;
