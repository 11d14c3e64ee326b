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


#: Where the last resolved database URL came from: "given" (--database-url or
#: GEOTOOL_DATABASE_URL), "settings" (the config file) or "private" (geotool's own
#: server); error messages use it to give the hint that fits.
_SOURCE: dict[str, str] = {}


def database_source() -> str | None:
    """"given", "settings" or "private": the source of the last resolved URL."""
    return _SOURCE.get("source")


def database_url(url: str | None = None, settings: Settings | None = None) -> str:
    """Resolve the database URL, starting the private server when none is configured."""
    if url:
        _SOURCE["source"] = "given"
        return normalise_url(url)
    settings = settings or load_settings()
    if settings.database_url:
        _SOURCE["source"] = "settings"
        return normalise_url(settings.database_url)
    _SOURCE["source"] = "private"
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


