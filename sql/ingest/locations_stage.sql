-- ingest --locations, step 1: staging for an EMP-16 GeoFeather location table (one row
-- per location, geometry as WKB). Dropped at the end of the transaction.
CREATE TEMP TABLE ingest_locations (
    row_no       bigint NOT NULL,
    osm_key      text NOT NULL,
    osm_type     text NOT NULL,
    osm_id       bigint,
    name         text,
    name_en      text,
    category     text,
    type         text,
    admin_level  smallint,
    rank_address smallint,
    is_area      boolean,
    country_code text,
    wikidata     text,
    wikipedia    text,
    population   bigint,
    place        text,
    importance   double precision,
    geom_wkb     bytea,
    lat          double precision,
    lon          double precision
) ON COMMIT DROP;
