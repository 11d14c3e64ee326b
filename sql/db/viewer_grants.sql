-- db/viewer_grants.sql: what the read-only viewer roles may read (`geotool db viewer`,
-- docs/viewing.md). Schema file, listed last in sql/schema.txt: `geotool db upgrade` drops
-- and re-creates every view (losing their grants), then this re-grants;
-- `geotool db viewer create` runs it too. Does nothing until the group role
-- geotool_viewers exists.
--
-- Viewers are members of the NOLOGIN group role geotool_viewers, which may connect to
-- this database, use schema public and SELECT from every view and materialized view in
-- it (views are the reading side of geotool: qgis_*, evaluation_ladder, concept_* …)
-- plus the few tables a viewer needs directly: QGIS's layer_styles and qgis_projects
-- and the small catalogue tables naming sets, levels, cells and models.
-- Nothing else: no photos table, no addresses, no writes (viewers also get
-- default_transaction_read_only). (No format() here: the statements run through a driver
-- that reads a percent sign as a placeholder.) There are no default privileges: a table created later
-- is not readable until it is listed here.

DO $$
DECLARE
    rel record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'geotool_viewers') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database())
        || ' TO geotool_viewers';
    GRANT USAGE ON SCHEMA public TO geotool_viewers;
    FOR rel IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND (c.relkind IN ('v', 'm')
               OR (c.relkind = 'r' AND c.relname IN (
                   'layer_styles', 'qgis_projects', 'partitioning_sets',
                   'partitionings', 'cells', 'models', 'prediction_runs', 'concepts',
                   'concept_runs', 'error_intervals')))
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.objid = c.oid AND d.deptype = 'e')  -- PostGIS's own
        ORDER BY c.relname
    LOOP
        EXECUTE 'GRANT SELECT ON public.' || quote_ident(rel.relname) || ' TO geotool_viewers';
    END LOOP;
END
$$;
