"""Every conversion between the ways geotool writes a database address, in one place.

Three forms meet in geotool:

- SQLAlchemy URLs, ``postgresql+psycopg://user:pw@host:port/db`` (geotool's own form;
  ``postgresql://`` given by a user is normalised to the psycopg 3 driver);
- libpq, either the URL ``postgresql://...`` (psql, QGIS, ``psycopg.connect``) or the
  key/value string ``host=h port=p dbname=d`` (osm2pgsql, Nominatim's tools);
- Nominatim's ``pgsql:host=h;port=p;dbname=d`` (its ``NOMINATIM_DATABASE_DSN``).

Nothing here connects to anything.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from geotool.errors import InvalidValueError

NOMINATIM_PREFIX = "pgsql:"


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL with the psycopg 3 driver (``postgresql://`` and ``postgres://``
    become ``postgresql+psycopg://``); other drivers are left as given."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (SQLAlchemy psycopg URL)."""
    parsed = make_url(normalise_url(url)).set(database=database)
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str, database: str | None = None) -> str:
    """A libpq URL (``postgresql://...``) for psql, QGIS and ``psycopg.connect``."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def url_to_conninfo(url: str | URL) -> str:
    """A SQLAlchemy or libpq URL as a libpq key/value string (``host=... dbname=...``)."""
    u = make_url(url) if isinstance(url, str) else url
    parts = {
        "host": u.host or "127.0.0.1",
        "port": str(u.port or 5432),
        "user": u.username or "",
        "password": u.password or "",
        "dbname": u.database or "",
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


def url_to_libpq_conninfo(url: str, database: str | None = None) -> str:
    """A SQLAlchemy or libpq URL as the libpq key/value string psycopg writes (every
    setting of the URL kept, query parameters such as ``host=/socket`` included),
    optionally for another database on the same server."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo("", **conninfo_to_dict(libpq_url(url, database)))


def conninfo_with_database(conninfo: str, database: str) -> str:
    """The same libpq key/value string with another ``dbname``."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(conninfo, dbname=database)


def nominatim_to_conninfo(dsn: str) -> str:
    """Nominatim's ``pgsql:host=h;port=p;dbname=d`` as a libpq key/value string (a libpq
    string is returned as it is)."""
    if dsn.startswith(NOMINATIM_PREFIX):
        return " ".join(part.strip() for part in dsn[len(NOMINATIM_PREFIX):].split(";")
                        if part.strip())
    return dsn


def conninfo_to_nominatim(conninfo: str) -> str:
    """A libpq key/value string as Nominatim's ``pgsql:key=value;...``; a value holding
    ``;`` or ``=`` cannot be written in that form (:class:`InvalidValueError`)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(conninfo)
    for key, value in params.items():
        if any(ch in str(value) for ch in ";="):
            raise InvalidValueError(
                f"the connection setting {key!r} contains ';' or '=', which Nominatim's DSN "
                "format cannot carry; use a password and database name without them")
    return NOMINATIM_PREFIX + ";".join(f"{key}={value}" for key, value in params.items())


def dsn_setting(dsn: str, key: str) -> str | None:
    """One setting (``dbname``, ``user`` ...) of a Nominatim ``pgsql:`` DSN or a libpq
    key/value string; None when it is not set or the string cannot be read."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(nominatim_to_conninfo(dsn)).get(key)
    except ProgrammingError:
        return None
    return None if value is None else str(value)


def dsn_database(dsn: str, default: str = "default") -> str:
    """The database name of a Nominatim ``pgsql:`` DSN or a libpq key/value string."""
    return dsn_setting(dsn, "dbname") or default  # never the DSN itself: may hold a password
