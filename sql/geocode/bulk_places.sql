-- geocode/bulk_places.sql: the attributes of the placex rows :ids that bulk answers named
-- (one row each), read inside a Nominatim database; the one rule for a location's
-- category, type, rank, admin level and country code is
-- geotool.geocode.nominatim.records.record_from_parts.
SELECT place_id, osm_type, osm_id, name, class, type, extratags, admin_level,
       rank_address, country_code
FROM placex
WHERE place_id = ANY(:ids);
