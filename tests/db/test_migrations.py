"""The schema is owned by Alembic: up and down on an empty database, and in sync with
the ORM tables in geotool/db/tables.py."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from geotool.db import migrate
from geotool.db.tables import metadata


def _tables(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        eng.dispose()


def test_upgrade_downgrade_roundtrip(empty_db_url: str) -> None:
    ours = set(metadata.tables)
    assert not ours & _tables(empty_db_url)
    assert migrate.upgrade(empty_db_url) == migrate.head_revision()
    assert ours <= _tables(empty_db_url)
    assert migrate.downgrade(empty_db_url, "base") is None
    assert not ours & _tables(empty_db_url)
    migrate.upgrade(empty_db_url)
    assert ours <= _tables(empty_db_url)


def test_migrated_schema_matches_tables(db_url: str) -> None:
    eng = sa.create_engine(db_url)
    with eng.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"include_object": lambda o, n, t, r, c: not (t == "table" and r and c is None)},
        )
        diff = compare_metadata(ctx, metadata)
    eng.dispose()
    assert diff == []


def test_spatial_columns_have_srid_and_gist(db_url: str) -> None:
    eng = sa.create_engine(db_url)
    with eng.connect() as conn:
        cols = conn.execute(sa.text(
            # tables and materialized views (a plain view has no index of its own)
            "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns g "
            "JOIN pg_class c ON c.relname = g.f_table_name AND c.relkind IN ('r', 'm') "
            "WHERE f_table_schema = 'public'"
        )).all()
        gist = {r[0] for r in conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexdef ILIKE '%USING gist%'"
        ))}
        no_pk = conn.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'spatial_ref_sys' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid "
            "AND k.contype = 'p')"
        )).scalars().all()
    eng.dispose()
    assert cols, "no spatial columns registered"
    assert all(srid == 4326 for _, _, srid in cols), cols
    for table, column, _ in cols:
        assert f"ix_{table}_{column}" in gist, f"{table}.{column} has no GiST index"
    assert no_pk == []
