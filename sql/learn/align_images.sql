-- learn/align_images.sql: the photos of dataset <dataset> in <split> that an alignment
-- model (family 'align') learns: image id, external id, where its pixels are (a file path,
-- or a msgpack shard record from shard_index; the shard wins when both exist), its
-- coordinate and its concept mask (synthetic planet). Ordered by image id, so the arrays
-- (geotool.learn.align.data) are the same every run.
SELECT i.id AS image_id, i.external_id, i.path, si.shard_path, si.byte_offset, si.length,
       i.lat, i.lon, i.mask_path
FROM images i
JOIN datasets d ON d.id = i.dataset_id
LEFT JOIN shard_index si ON si.image_id = i.id
WHERE d.name = :dataset AND i.split = :split
ORDER BY i.id
