"""Database access: the private PostgreSQL/PostGIS server, engines, tables, bulk COPY.

Migrating and re-applying the ``sql/`` schema files: ``migrate.upgrade``; running a named
statement file: ``sqlfiles.run``; recording a stage's run: ``runs.recorded_run``."""

__all__ = [
    "copy", "datasets", "engine", "migrate", "resources", "runs", "server", "sqlfiles", "tables",
    "urls"
]
