"""Engines for the configured database: an explicit URL, or the private server.

``database_url()`` is the one place that decides which PostgreSQL geotool talks to:
an explicit argument, else ``GEOTOOL_DATABASE_URL`` (settings), else the private
server (started on demand, database created with PostGIS).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.db.server import PrivateServer
from geotool.db.urls import normalise_url
from geotool.settings import Settings, load_settings

__all__ = ["database_url", "dispose_engines", "get_engine"]


def database_url(url: str | None = None, settings: Settings | None = None) -> str:
    """Resolve the database URL, starting the private server when none is configured."""
    if url:
        return normalise_url(url)
    settings = settings or load_settings()
    if settings.database_url:
        return normalise_url(settings.database_url)
    server = PrivateServer.from_settings(settings)
    server.start()
    server.create_database(settings.database_name, postgis=True)
    return server.url(settings.database_name)


_ENGINES: dict[str, Engine] = {}


def _engine_for(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        engine = sa.create_engine(url, pool_pre_ping=True)
        _ENGINES[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine's connections (before dropping a database)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def get_engine(url: str | None = None, settings: Settings | None = None) -> Engine:
    """A (cached) SQLAlchemy engine for the resolved database."""
    return _engine_for(database_url(url, settings))


