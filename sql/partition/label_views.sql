-- partition/label_views.sql (schema file): the labels_<set name> view of every built set
-- (geotool_create_label_view, partition/label_functions.sql). A build creates its set's
-- view; `geotool db upgrade` drops them all before migrating and re-creates them here.
-- Imported sets (no dataset) have none.
SELECT geotool_create_label_view(id) FROM partitioning_sets
WHERE dataset_id IS NOT NULL
ORDER BY id;
