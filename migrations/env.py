"""Alembic environment: resolves the database like geotool does and runs online."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from geotool.db.engine import database_url
from geotool.db.tables import metadata

config = context.config
target_metadata = metadata


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS and Nominatim tables live in the same server but are not ours.
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or database_url()
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, include_object=include_object
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, include_object=include_object
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("geotool migrations run online only: `geotool db upgrade`.")
run_migrations_online()
