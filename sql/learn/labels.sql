-- learn/labels.sql: the training or validation examples of partitioning set <set_name>,
-- read once per run into arrays (geotool.learn.labels). One row per image of the set's
-- dataset in <split> that is labelled at some level: its id, where its pixels are (a
-- file path, or a msgpack shard record from shard_index; the shard wins when both
-- exist), its coordinate, and its class index per level fine -> coarse (NULL =
-- unlabelled at that level). Ordered by image id, so the arrays are the same every run.
SELECT g.image_id, g.path, si.shard_path, si.byte_offset, si.length, g.lat, g.lon,
       g.classes
FROM geotool_labels(:set_name, :split) g
LEFT JOIN shard_index si ON si.image_id = g.image_id
WHERE EXISTS (SELECT 1 FROM unnest(g.classes) c WHERE c IS NOT NULL)
ORDER BY g.image_id
