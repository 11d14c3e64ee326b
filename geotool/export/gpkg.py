"""A minimal GeoPackage writer on the standard library's sqlite3, shared by the exports.

The cells export (:mod:`geotool.export.cells`, one MultiPolygon layer) and the predictions
export (:mod:`geotool.export.predictions`, a point layer and an error-line layer) write
the same GeoPackage (OGC 12-128r18) tables: ``gpkg_spatial_ref_sys`` with EPSG:4326,
``gpkg_contents`` with each layer's extent, ``gpkg_geometry_columns``, and one feature
table per layer whose geometries are blobs of the "GP" header, an xy envelope and ISO WKB.

The file is written under ``<name>.part`` and renamed into place only when complete, so
an error or an interrupt part-way never leaves a half-written GeoPackage at ``path``
(an existing file there is kept until the new one is whole).
"""

from __future__ import annotations

import os
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely.wkb

WGS84 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)


def check_out_path(path: Path) -> None:
    """Refuse an output path whose folder does not exist (or is not a folder) with one
    line saying what to do, before any work is done."""
    from geotool.errors import MissingInputError

    parent = Path(path).parent
    if not parent.is_dir():
        raise MissingInputError(f"--out {path}: the folder {parent} does not exist; create "
                                f"it first (mkdir -p {parent}) or write somewhere else")
    if Path(path).is_dir():
        raise MissingInputError(f"--out {path}: is a folder; give a file name, e.g. "
                                f"{Path(path) / 'export.gpkg'}")


def gpkg_blob(wkb: bytes, srs_id: int = 4326) -> bytes:
    """A GeoPackage geometry blob: header (magic, version, flags, srs, envelope) + WKB;
    an empty ``wkb`` gives the empty-geometry header."""
    if not wkb:
        return b"GP" + bytes([0, 0b00010001]) + struct.pack("<i", srs_id)
    minx, miny, maxx, maxy = shapely.wkb.loads(wkb).bounds
    flags = 0b00000011  # little endian, envelope [minx, maxx, miny, maxy]
    return (b"GP" + bytes([0, flags]) + struct.pack("<i", srs_id)
            + struct.pack("<4d", minx, maxx, miny, maxy) + wkb)


class Layer:
    """One feature table: ``fid``, ``geom`` of ``geometry_type``, then ``fields``."""

    def __init__(self, db: sqlite3.Connection, table: str, geometry_type: str,
                 fields: Sequence[tuple[str, str]]) -> None:
        self.db, self.table, self.geometry_type = db, table, geometry_type
        self.fields = tuple(fields)
        columns = ", ".join(f'"{name}" {kind}' for name, kind in self.fields)
        db.execute(f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, '
                   f"geom {geometry_type}, {columns})")
        names = ", ".join(f'"{name}"' for name, _ in self.fields)
        marks = ", ".join("?" for _ in range(len(self.fields) + 1))
        self._insert = f'INSERT INTO "{table}" (geom, {names}) VALUES ({marks})'
        self.bounds: list[float] | None = None  # min x, min y, max x, max y
        self.count = 0

    def add(self, wkb: bytes, properties: dict[str, Any]) -> None:
        """One feature: its geometry as WKB (``b""``: none) and a value per field."""
        if wkb:
            b = shapely.wkb.loads(wkb).bounds
            bb = self.bounds or list(b)
            self.bounds = [min(bb[0], b[0]), min(bb[1], b[1]),
                           max(bb[2], b[2]), max(bb[3], b[3])]
        self.db.execute(self._insert, [gpkg_blob(wkb),
                                       *(properties[name] for name, _ in self.fields)])
        self.count += 1


class GeoPackage:
    """The open file: :meth:`layer` adds a feature table."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.layers: list[Layer] = []
        db.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
        db.execute("PRAGMA user_version = 10300")
        db.execute(
            "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER "
            "PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT "
            "NULL, definition TEXT NOT NULL, description TEXT)")
        db.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", [
            ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
            ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84, "longitude/latitude"),
        ])
        db.execute(
            "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type "
            "TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', "
            "last_change DATETIME NOT NULL, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, "
            "max_y DOUBLE, srs_id INTEGER REFERENCES gpkg_spatial_ref_sys(srs_id))")
        db.execute(
            "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT "
            "NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT "
            "NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY "
            "(table_name, column_name))")

    def layer(self, table: str, geometry_type: str,
              fields: Sequence[tuple[str, str]]) -> Layer:
        created = Layer(self.db, table, geometry_type, fields)
        self.layers.append(created)
        return created

    def finish(self) -> None:
        """Register every layer with its extent (the whole globe when it has none)."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for lay in self.layers:
            bounds = lay.bounds or [-180.0, -90.0, 180.0, 90.0]
            self.db.execute("INSERT INTO gpkg_contents VALUES (?, 'features', ?, '', ?, ?, "
                            "?, ?, ?, 4326)", (lay.table, lay.table, stamp, *bounds))
            self.db.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, "
                            "0, 0)", (lay.table, lay.geometry_type))
        self.db.commit()


@contextmanager
def write_geopackage(path: Path) -> Iterator[GeoPackage]:
    """Open a new GeoPackage for ``path``; it replaces ``path`` only when the block ends
    without an error."""
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    db = sqlite3.connect(part)
    try:
        package = GeoPackage(db)
        yield package
        package.finish()
    except BaseException:
        db.close()
        part.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(part, path)
