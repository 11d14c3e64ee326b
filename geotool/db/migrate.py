"""Run Alembic migrations from Python (``geotool db upgrade|downgrade``).

The schema changes only through the revisions in ``migrations/versions``;
:mod:`geotool.db.resources` finds them in a checkout and in an installed wheel.

Tables, columns and indexes belong to Alembic; functions and views belong to the SQL files
listed in ``sql/schema.txt``, each written to be re-run. After migrating to the newest
revision, :func:`upgrade` re-applies them in the listed order (as Nominatim re-creates its
SQL functions after every migration), so a changed view needs no migration.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from geotool.db.engine import database_url
from geotool.db.resources import alembic_ini, migrations_dir, sql_dir
from geotool.db.sqlfiles import load

#: The ordered list of re-runnable SQL files (functions and views), one path a line,
#: relative to ``sql/``; ``#`` starts a comment.
SCHEMA_MANIFEST = "schema.txt"


def alembic_config(url: str) -> Config:
    ini = alembic_ini()
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); returns the new head."""
    resolved = database_url(url)
    command.upgrade(alembic_config(resolved), revision)
    if revision == "head":
        apply_schema_sql(resolved)
    return current_revision(resolved)


def schema_files() -> list[str]:
    """The files of ``sql/schema.txt`` in order (paths relative to ``sql/``)."""
    manifest = sql_dir() / SCHEMA_MANIFEST
    if not manifest.exists():
        return []
    names = []
    for line in manifest.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def apply_schema_sql(url: str | None = None) -> list[str]:
    """Re-create every function and view of ``sql/schema.txt`` in one transaction."""
    names = schema_files()
    engine = create_engine(database_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            for name in names:
                for stmt in load(name):
                    conn.exec_driver_sql(stmt)
    finally:
        engine.dispose()
    return names


def downgrade(url: str | None = None, revision: str = "-1") -> str | None:
    """Migrate down to ``revision`` (``base`` removes every geotool table)."""
    resolved = database_url(url)
    command.downgrade(alembic_config(resolved), revision)
    return current_revision(resolved)


def current_revision(url: str | None = None) -> str | None:
    engine = create_engine(database_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
