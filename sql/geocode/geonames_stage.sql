-- Staging tables of one `geotool geonames load` (geotool/geocode/geonames_files.py COPYs
-- the checked rows of the file into them; geonames_load.sql moves them into place).
-- Temporary: dropped at the end of the load's transaction.

CREATE TEMP TABLE gn_stage_places (
    key text, geonameid bigint, name text, asciiname text, alternatenames text,
    lat float8, lon float8, feature_class text, feature_code text, country_code text,
    admin1_code text, admin2_code text, population bigint, admin1_key text, admin2_key text
) ON COMMIT DROP;

CREATE TEMP TABLE gn_stage_admins (
    key text, level smallint, country_code text, name text, asciiname text, geonameid bigint
) ON COMMIT DROP;
