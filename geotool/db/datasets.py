"""Finding a dataset by the name a user gives: the one lookup every stage uses."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geotool.errors import GeotoolError


class DatasetNotFound(GeotoolError, ValueError):
    """The dataset named on the command line is not in the database."""


def dataset_id(conn: Connection, name: str) -> int:
    """The id of dataset ``name``; raises :class:`DatasetNotFound` with the known names."""
    found = conn.execute(sa.text("SELECT id FROM datasets WHERE name = :n"),
                         {"n": name}).scalar()
    if found is None:
        known = [r[0] for r in conn.execute(sa.text("SELECT name FROM datasets ORDER BY name"))]
        hint = f"known: {', '.join(known)}" if known else "no dataset is loaded yet"
        raise DatasetNotFound(f"no dataset named {name!r} ({hint}); load it with "
                              f"`geotool ingest FILE --dataset {name}`")
    return int(found)
