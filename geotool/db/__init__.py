"""Database access: the private PostgreSQL/PostGIS server, engines, tables, bulk COPY."""
