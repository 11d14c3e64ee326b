-- geocode/store_addresses.sql: the address vectors of the images :ids (just finished by
-- geocode/store_geocodes.sql), replacing any they had. Parameter rows: a JSON array of
-- {i: image id, p: position (0 = finest), l: location id}.
DELETE FROM image_addresses WHERE image_id = ANY(:ids);

INSERT INTO image_addresses (image_id, position, location_id)
SELECT r.i, r.p, r.l
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(i bigint, p smallint, l bigint);
