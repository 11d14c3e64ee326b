"""Run Alembic migrations from Python (``geotool db upgrade|downgrade``) and re-apply the
functions and views of ``sql/``.

One rule for SQL (as in Nominatim): Alembic owns tables, columns and indexes (the
revisions in ``migrations/versions``, which import nothing of geotool); functions,
triggers and views live only in the re-runnable files listed in ``sql/schema.txt``.

- :func:`upgrade` works in ONE transaction: it drops every view those files create and
  every ``labels_<set>`` view (so no migration meets a view that depends on a column it
  changes), migrates, and at the newest revision re-applies the files in the listed
  order (the last of the partition files re-creates the label view of every built set).
  A changed function or view therefore needs no migration, and a migration needs no
  list of views to drop.
- :func:`downgrade` drops those views, triggers and functions before migrating down:
  below the newest revision a database holds tables only (the files describe the newest
  schema), and ``upgrade`` brings everything back.

:mod:`geotool.db.resources` finds the migrations and SQL files in a checkout and in an
installed wheel.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from geotool.db.engine import database_url
from geotool.db.resources import alembic_ini, migrations_dir, sql_dir
from geotool.db.sqlfiles import load

#: The ordered list of re-runnable SQL files (functions, triggers, views), one path a
#: line, relative to ``sql/``; ``#`` starts a comment.
SCHEMA_MANIFEST = "schema.txt"

_IDENT = r'("?[A-Za-z_][A-Za-z0-9_]*"?)'
_VIEW = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?VIEW\s+" + _IDENT,
                   re.I)
_FUNCTION = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+" + _IDENT, re.I)
_TRIGGER = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+" + _IDENT
                      + r"[^;]*?\bON\s+" + _IDENT, re.I | re.S)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_DOLLAR_BODY = re.compile(r"\$([A-Za-z_]*)\$.*?\$\1\$", re.S)


@dataclass
class SchemaObjects:
    """What the files of ``sql/schema.txt`` create, in file order."""

    views: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    triggers: list[tuple[str, str]] = field(default_factory=list)  # (trigger, table)


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    ini = alembic_ini()
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest) and, at the newest,
    re-apply the schema files; returns the new revision. One transaction."""
    resolved = database_url(url)
    with _transaction(resolved) as conn:
        drop_views(conn)
        command.upgrade(alembic_config(resolved, conn), revision)
        if _revision(conn) == head_revision():
            _apply(conn)
        return _revision(conn)


def downgrade(url: str | None = None, revision: str = "-1") -> str | None:
    """Migrate down to ``revision`` (``base`` removes every geotool table). The schema
    files' views, triggers and functions are dropped first; one transaction."""
    resolved = database_url(url)
    with _transaction(resolved) as conn:
        drop_views(conn)
        drop_functions(conn)
        command.downgrade(alembic_config(resolved, conn), revision)
        return _revision(conn)


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


def schema_objects() -> SchemaObjects:
    """The views, functions and triggers that the schema files create (read from their
    ``CREATE`` statements, so the files are the only list)."""
    found = SchemaObjects()
    for name in schema_files():
        for stmt in load(name):
            code = _DOLLAR_BODY.sub("", _LINE_COMMENT.sub("", stmt))
            found.views += [_unquote(v) for v in _VIEW.findall(code)]
            found.functions += [_unquote(f) for f in _FUNCTION.findall(code)]
            found.triggers += [(_unquote(t), _unquote(o)) for t, o in _TRIGGER.findall(code)]
    return found


def apply_schema_sql(url: str | None = None) -> list[str]:
    """Re-create every function, trigger and view of ``sql/schema.txt`` in one
    transaction (the database must be at the newest revision); returns the files."""
    with _transaction(database_url(url)) as conn:
        return _apply(conn)


def _apply(conn: Connection) -> list[str]:
    drop_views(conn)
    names = schema_files()
    cursor = conn.connection.cursor()  # the driver's own: no parameter markers to escape
    try:
        for name in names:
            for stmt in load(name):
                cursor.execute(stmt)
    finally:
        cursor.close()
    return names


def drop_views(conn: Connection) -> None:
    """Drop every ``labels_<set>`` view and the views (plain or materialized) that the
    schema files create, latest first."""
    names: list[str] = []
    if _exists(conn, "partitioning_sets"):
        names += [str(v) for v in conn.exec_driver_sql(
            "SELECT v.viewname FROM partitioning_sets s JOIN pg_views v "
            "ON v.schemaname = current_schema() AND v.viewname = 'labels_' || s.name "
            "ORDER BY s.id").scalars()]
    names += reversed(schema_objects().views)
    kinds: dict[str, str] = dict(conn.exec_driver_sql(
        "SELECT c.relname, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm')").all())
    for name in names:
        kind = kinds.pop(name, None)
        if kind is not None:
            what = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
            conn.exec_driver_sql(f"DROP {what} IF EXISTS {_quote(name)} CASCADE")


def drop_functions(conn: Connection) -> None:
    """Drop the triggers and functions that the schema files create (not CASCADE: an
    object of someone else's that needs one stops the drop instead of vanishing)."""
    found = schema_objects()
    for trigger, table in reversed(found.triggers):
        if _exists(conn, table):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_quote(trigger)} ON {_quote(table)}")
    for function in reversed(found.functions):
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_quote(function)}")


def current_revision(url: str | None = None) -> str | None:
    with _transaction(database_url(url)) as conn:
        return _revision(conn)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


@contextmanager
def _transaction(url: str) -> Iterator[Connection]:
    """One connection of its own (no pool kept) in one transaction, committed at the end."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _exists(conn: Connection, table: str) -> bool:
    return conn.exec_driver_sql("SELECT to_regclass(%(t)s) IS NOT NULL",
                                {"t": _quote(table)}).scalar_one() is True


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name.lower()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
