"""Bulk loading with PostgreSQL COPY (psycopg 3): rows stream in, nothing is held whole."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import Connection


def psycopg_connection(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy connection (same transaction)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("geotool needs the psycopg 3 driver (postgresql+psycopg://...)")
    return driver


def copy_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    types: Sequence[str] | None = None,
) -> int:
    """COPY ``rows`` into ``table(columns)`` inside the caller's transaction; returns the count.

    With ``types`` (PostgreSQL type names, one per column, e.g. ``"int4[]"``) the rows go in
    COPY's binary format, which saves the text formatting of every value (about twice as
    fast for rows with arrays); ``None`` values are NULLs either way.
    """
    pg = psycopg_connection(conn)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(*table.split(".")),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.SQL(" (FORMAT BINARY)" if types is not None else ""),
    )
    n = 0
    with pg.cursor() as cur, cur.copy(stmt) as cp:
        if types is not None:
            cp.set_types(list(types))
        for row in rows:
            cp.write_row(row)
            n += 1
    return n
