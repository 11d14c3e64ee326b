-- ingest, step 0: the dataset row, created on first use. Parameters: dataset_name.
INSERT INTO datasets (name) VALUES (:dataset_name) ON CONFLICT (name) DO NOTHING;

SELECT id FROM datasets WHERE name = :dataset_name;
