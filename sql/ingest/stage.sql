-- ingest, step 1: the staging table that one ingest run COPYs its file into.
-- One row per record of the file, with its line number and raw text; rows refused by
-- the per-row checks in Python arrive with kind/reason already set. The table lives
-- until the end of the transaction, so a failed ingest leaves nothing behind.
CREATE TEMP TABLE ingest_staging (
    line_no     bigint NOT NULL,
    external_id text,
    lat         double precision,
    lon         double precision,
    path        text,
    mask_path   text,
    author      text,
    split       text,
    address     text[],
    kind        text,
    reason      text,
    raw         text
) ON COMMIT DROP;
