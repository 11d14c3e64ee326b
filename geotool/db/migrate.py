"""Run Alembic migrations from Python (``geotool db upgrade|downgrade``).

The schema changes only through the revisions in ``migrations/versions``;
:mod:`geotool.db.resources` finds them in a checkout and in an installed wheel.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from geotool.db.engine import database_url
from geotool.db.resources import alembic_ini, migrations_dir


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
    return current_revision(resolved)


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
