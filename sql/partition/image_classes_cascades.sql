-- partition/image_classes_cascades.sql (schema file): the cascades of image_classes,
-- hierarchy_edges and hierarchy_nodes, done by triggers.
--
-- Those tables carry no foreign keys (a build bulk-writes them; per-row checks more than
-- doubled the build time), so triggers give the cascades the keys would have given:
-- - deleting a partitioning set (directly, or through its dataset) deletes its rows;
-- - deleting images deletes their image_classes rows (one statement-level trigger per
--   DELETE);
-- - truncating partitioning_sets or images (e.g. TRUNCATE datasets CASCADE) truncates
--   the dependent tables.
-- Cells are only ever deleted with their set, so image_classes.cell_ids cannot dangle.
CREATE OR REPLACE FUNCTION geotool_image_classes_set_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM image_classes WHERE set_id = OLD.id;
    DELETE FROM hierarchy_edges WHERE set_id = OLD.id;
    DELETE FROM hierarchy_nodes WHERE set_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER image_classes_set_deleted AFTER DELETE ON partitioning_sets
FOR EACH ROW EXECUTE FUNCTION geotool_image_classes_set_deleted();

CREATE OR REPLACE FUNCTION geotool_image_classes_images_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM image_classes ic USING gone_images g WHERE ic.image_id = g.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER image_classes_images_deleted AFTER DELETE ON images
REFERENCING OLD TABLE AS gone_images
FOR EACH STATEMENT EXECUTE FUNCTION geotool_image_classes_images_deleted();

CREATE OR REPLACE FUNCTION geotool_image_classes_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'partitioning_sets' THEN
        TRUNCATE image_classes, hierarchy_edges, hierarchy_nodes;
    ELSE
        TRUNCATE image_classes;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER image_classes_sets_truncated AFTER TRUNCATE ON partitioning_sets
FOR EACH STATEMENT EXECUTE FUNCTION geotool_image_classes_truncated();

CREATE OR REPLACE TRIGGER image_classes_images_truncated AFTER TRUNCATE ON images
FOR EACH STATEMENT EXECUTE FUNCTION geotool_image_classes_truncated();
