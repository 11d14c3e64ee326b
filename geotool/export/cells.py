"""Export the cells of a partitioning set for people without database access.

GeoJSON (RFC 7946, written feature by feature) and GeoPackage (OGC 12-128r18, written
with the standard library's sqlite3: the GeoPackage tables plus geometry blobs made of
the "GP" header, an xy envelope and ISO WKB). Geometries are MultiPolygons in EPSG:4326,
one feature per cell of every partitioning of the set.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely.wkb
import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.engine import Engine

from geotool.partition.params import PartitionError

FORMATS = ("gpkg", "geojson")
FIELDS: tuple[tuple[str, str], ...] = (
    ("set_name", "TEXT"), ("partitioning", "TEXT"), ("level", "INTEGER"),
    ("tau", "INTEGER"), ("class_index", "INTEGER"), ("label", "TEXT"),
    ("n_images", "INTEGER"), ("lat", "REAL"), ("lon", "REAL"), ("geom_source", "TEXT"),
    ("s2_token", "TEXT"), ("osm_key", "TEXT"),
)
WGS84 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)


def require_set(engine: Engine, set_name: str) -> None:
    """Raise a clear error when no partitioning set has this name."""
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM partitioning_sets WHERE name = :n"),
                        {"n": set_name}).first() is None:
            raise PartitionError(
                f"no partitioning set named {set_name!r}; see `geotool partitions list`"
            )


def cell_features(engine: Engine, set_name: str) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(properties, MultiPolygon WKB) per cell of the set, level then class order."""
    require_set(engine, set_name)
    with engine.connect() as conn:
        result = conn.execute(sa.text(
            "SELECT s.name, p.name, p.level, p.tau, c.class_index, c.label, c.n_images, "
            "c.lat, c.lon, c.geom_source, c.s2_token, l.osm_key, "
            "ST_AsBinary(ST_Multi(ST_CollectionExtract(c.geom, 3))) "
            "FROM cells c JOIN partitionings p ON p.id = c.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id "
            "LEFT JOIN locations l ON l.id = c.location_id "
            "WHERE s.name = :n ORDER BY p.level, c.class_index"), {"n": set_name},
            execution_options={"stream_results": True, "yield_per": 2000})
        for row in result:
            props = {name: row[i] for i, (name, _) in enumerate(FIELDS)}
            yield props, bytes(row[12]) if row[12] is not None else b""


def write_geojson(features: Iterator[tuple[dict[str, Any], bytes]], path: Path) -> int:
    """Write a FeatureCollection; returns the number of features."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"type": "FeatureCollection", "features": [\n')
        for props, wkb in features:
            geometry = mapping(shapely.wkb.loads(wkb)) if wkb else None
            if n:
                fh.write(",\n")
            fh.write(json.dumps({"type": "Feature", "properties": props,
                                 "geometry": geometry}, ensure_ascii=False))
            n += 1
        fh.write("\n]}\n")
    return n


def gpkg_blob(wkb: bytes, srs_id: int = 4326) -> bytes:
    """A GeoPackage geometry blob: header (magic, version, flags, srs, envelope) + WKB."""
    if not wkb:
        return b"GP" + bytes([0, 0b00010001]) + struct.pack("<i", srs_id)
    minx, miny, maxx, maxy = shapely.wkb.loads(wkb).bounds
    flags = 0b00000011  # little endian, envelope [minx, maxx, miny, maxy]
    return (b"GP" + bytes([0, flags]) + struct.pack("<i", srs_id)
            + struct.pack("<4d", minx, maxx, miny, maxy) + wkb)


def write_gpkg(features: Iterator[tuple[dict[str, Any], bytes]], path: Path,
               table: str = "cells") -> int:
    """Write a GeoPackage with one feature table; returns the number of features."""
    if path.exists():
        path.unlink()
    db = sqlite3.connect(path)
    try:
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
        columns = ", ".join(f'"{name}" {kind}' for name, kind in FIELDS)
        db.execute(f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, '
                   f"geom MULTIPOLYGON, {columns})")
        marks = ", ".join("?" for _ in range(len(FIELDS) + 1))
        names = ", ".join(f'"{name}"' for name, _ in FIELDS)
        bounds = [180.0, 90.0, -180.0, -90.0]
        n = 0
        for props, wkb in features:
            if wkb:
                b = shapely.wkb.loads(wkb).bounds
                bounds = [min(bounds[0], b[0]), min(bounds[1], b[1]),
                          max(bounds[2], b[2]), max(bounds[3], b[3])]
            db.execute(f'INSERT INTO "{table}" (geom, {names}) VALUES ({marks})',
                       [gpkg_blob(wkb), *(props[name] for name, _ in FIELDS)])
            n += 1
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        db.execute("INSERT INTO gpkg_contents VALUES (?, 'features', ?, '', ?, ?, ?, ?, ?, "
                   "4326)", (table, table, stamp, *bounds))
        db.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', "
                   "4326, 0, 0)", (table,))
        db.commit()
    finally:
        db.close()
    return n


def export_cells(engine: Engine, set_name: str, path: Path, fmt: str | None = None) -> int:
    """Write the set's cells to ``path`` (format from ``fmt`` or the file suffix)."""
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt == "json":
        fmt = "geojson"
    if fmt not in FORMATS:
        raise PartitionError(
            f"unknown export format {fmt!r} for {path}; use --format gpkg or geojson"
        )
    require_set(engine, set_name)
    features = cell_features(engine, set_name)
    if fmt == "geojson":
        return write_geojson(features, path)
    return write_gpkg(features, path)
