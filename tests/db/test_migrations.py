"""The schema is owned by Alembic: up and down on an empty database, and in sync with
the ORM tables in geotool/db/tables.py; the revisions import nothing of geotool, and the
functions and views come from the schema files of sql/schema.txt alone."""

from __future__ import annotations

import ast

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from geotool.db import migrate
from geotool.db.resources import migrations_dir
from geotool.db.tables import metadata


def _tables(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        eng.dispose()


def _routines_and_views(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return set(conn.execute(sa.text(
                "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
                "AND proname LIKE 'geotool\\_%' UNION ALL "
                "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                "AND relkind IN ('v', 'm') AND relname NOT IN "
                "('geometry_columns', 'geography_columns')")).scalars())
    finally:
        eng.dispose()


def test_upgrade_downgrade_roundtrip(empty_db_url: str) -> None:
    ours = set(metadata.tables)
    assert not ours & _tables(empty_db_url)
    assert migrate.upgrade(empty_db_url) == migrate.head_revision()
    assert ours <= _tables(empty_db_url)
    objects = migrate.schema_objects()
    assert _routines_and_views(empty_db_url) == set(objects.views) | set(objects.functions)
    assert migrate.downgrade(empty_db_url, "base") is None
    assert not ours & _tables(empty_db_url)
    assert _routines_and_views(empty_db_url) == set()
    migrate.upgrade(empty_db_url)
    assert ours <= _tables(empty_db_url)
    # one revision down and up again (the views are dropped and re-created around it)
    assert migrate.downgrade(empty_db_url) != migrate.head_revision()
    assert migrate.upgrade(empty_db_url) == migrate.head_revision()
    assert _routines_and_views(empty_db_url) == set(objects.views) | set(objects.functions)


def test_schema_files_are_rerunnable(db_url: str) -> None:
    assert migrate.apply_schema_sql(db_url) == migrate.schema_files()
    assert migrate.apply_schema_sql(db_url) == migrate.schema_files()
    objects = migrate.schema_objects()
    assert {"runs_status", "image_labels", "qgis_cells", "prediction_errors",
            "concept_ci_summary"} <= set(objects.views)
    assert ("predictions_images_deleted", "images") in objects.triggers


def test_migrations_import_nothing_of_geotool() -> None:
    versions = migrations_dir() / "versions"
    offenders = []
    for path in sorted(versions.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "geotool"]
    assert len(list(versions.glob("*.py"))) >= 11
    assert offenders == []


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


def test_upgrade_is_one_transaction(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a failure after the migrations and the schema files ran leaves the database as it
    # was: no revision, no table, no view
    applied = migrate._apply

    def apply_then_fail(conn: sa.Connection) -> list[str]:
        assert applied(conn) == migrate.schema_files()
        raise RuntimeError("the power went out")

    monkeypatch.setattr(migrate, "_apply", apply_then_fail)
    with pytest.raises(RuntimeError, match="power"):
        migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) is None
    assert not set(metadata.tables) & _tables(empty_db_url)
    assert _routines_and_views(empty_db_url) == set()
