-- partition/add_set.sql: the row of a new partitioning set :n (scheme :s, built from
-- dataset :d, with its build parameters :p as JSON); returns its id. A set of the same
-- name has been deleted first (geotool.partition.build: one transaction).
INSERT INTO partitioning_sets (name, scheme, dataset_id, params)
VALUES (:n, :s, :d, CAST(:p AS jsonb))
RETURNING id;
