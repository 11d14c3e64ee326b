-- partition/label_functions.sql (schema file): reading a partitioning set's labels.
--
-- geotool_labels(set_name, split): one row per image of the set's dataset (optionally
--     one split); classes[k] is the class index in the partitioning of level k-1
--     (fine -> coarse), NULL = unlabelled. Reads image_classes (cell_ids[k] = the image's
--     cell at level k - 1).
-- geotool_create_label_view(set_id): (re)creates the view labels_<set name> (one row per
--     image of the set's dataset with image_id, external_id, path, lat, lon, split and
--     class_<level>) and returns its name. Every build calls it for its set;
--     partition/label_views.sql calls it for every built set.
CREATE OR REPLACE FUNCTION geotool_labels(set_name text, want_split text DEFAULT NULL)
RETURNS TABLE (image_id bigint, external_id text, path text, lat double precision,
               lon double precision, split text, classes integer[])
LANGUAGE sql STABLE AS $$
    SELECT i.id, i.external_id, i.path, i.lat, i.lon, i.split,
           array_agg(c.class_index ORDER BY p.level)
    FROM partitioning_sets s
    JOIN partitionings p ON p.set_id = s.id
    JOIN images i ON i.dataset_id = s.dataset_id
    LEFT JOIN image_classes ic ON ic.set_id = s.id AND ic.image_id = i.id
    LEFT JOIN cells c ON c.id = ic.cell_ids[p.level + 1]
    WHERE s.name = set_name AND (want_split IS NULL OR i.split = want_split)
    GROUP BY i.id
    ORDER BY i.id
$$;

CREATE OR REPLACE FUNCTION geotool_create_label_view(the_set_id integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    set_row record;
    p record;
    cols text := '';
    joins text := '';
    view_name text;
BEGIN
    SELECT * INTO set_row FROM partitioning_sets WHERE id = the_set_id;
    view_name := 'labels_' || set_row.name;
    FOR p IN SELECT level FROM partitionings WHERE set_id = the_set_id ORDER BY level LOOP
        cols := cols || format(', c%s.class_index AS class_%s', p.level, p.level);
        joins := joins || format(
            ' LEFT JOIN cells c%1$s ON c%1$s.id = ic.cell_ids[%2$s]', p.level, p.level + 1);
    END LOOP;
    EXECUTE format('DROP VIEW IF EXISTS %I', view_name);
    EXECUTE format(
        'CREATE VIEW %I AS SELECT i.id AS image_id, i.external_id, i.path, i.lat, i.lon,'
        ' i.split%s FROM images i LEFT JOIN image_classes ic ON ic.set_id = %s'
        ' AND ic.image_id = i.id%s WHERE i.dataset_id = %s',
        view_name, cols, the_set_id, joins, set_row.dataset_id);
    RETURN view_name;
END
$$;
