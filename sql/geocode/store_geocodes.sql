-- geocode/store_geocodes.sql: finish images: their image_geocodes rows (status, detail)
-- with source :source. Parameter rows: a JSON array of {image_id, status, detail}.
-- An image another run has already finished keeps its row (first writer wins); returns
-- the ids of the images this call finished, whose address rows the caller then writes.
INSERT INTO image_geocodes (image_id, status, source, detail)
SELECT r.image_id, r.status, :source, r.detail
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(image_id bigint, status text, detail text)
ORDER BY r.image_id
ON CONFLICT (image_id) DO NOTHING
RETURNING image_id;
