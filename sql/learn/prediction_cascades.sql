-- learn/prediction_cascades.sql (schema file): ON DELETE CASCADE for predictions.image_id and
-- predictions.cell_id, which have no foreign keys (per-row checks and the indexes they
-- need halved the speed of COPY). One statement-level trigger per DELETE on images or
-- cells deletes the predictions of the deleted rows with one join;
-- TRUNCATE of images or cells empties predictions (with DELETE: a TRUNCATE ... CASCADE
-- that reaches predictions through prediction_runs has already emptied it, and
-- truncating it again inside that statement is refused).
CREATE OR REPLACE FUNCTION geotool_predictions_images_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM predictions p USING gone_images g WHERE p.image_id = g.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER predictions_images_deleted AFTER DELETE ON images
REFERENCING OLD TABLE AS gone_images
FOR EACH STATEMENT EXECUTE FUNCTION geotool_predictions_images_deleted();

CREATE OR REPLACE FUNCTION geotool_predictions_cells_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM predictions p USING gone_cells g WHERE p.cell_id = g.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER predictions_cells_deleted AFTER DELETE ON cells
REFERENCING OLD TABLE AS gone_cells
FOR EACH STATEMENT EXECUTE FUNCTION geotool_predictions_cells_deleted();

CREATE OR REPLACE FUNCTION geotool_predictions_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM predictions;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER predictions_images_truncated AFTER TRUNCATE ON images
FOR EACH STATEMENT EXECUTE FUNCTION geotool_predictions_truncated();

CREATE OR REPLACE TRIGGER predictions_cells_truncated AFTER TRUNCATE ON cells
FOR EACH STATEMENT EXECUTE FUNCTION geotool_predictions_truncated();
