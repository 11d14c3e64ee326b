"""The shared GeoPackage writer: the tables a reader needs, blobs whose envelope is the
geometry's bounds, each layer's extent, and no half-written file after an error."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest
import shapely
from shapely.geometry import LineString, Point

from geotool.export.gpkg import write_geopackage

FIELDS = (("name", "TEXT"), ("n", "INTEGER"))


def test_two_layers_with_their_extents(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    points = [Point(10.5, -3.25), Point(-170.0, 60.0)]
    lines = [LineString([(0, 0), (2, 1)])]
    with write_geopackage(path) as package:
        pts = package.layer("pts", "POINT", FIELDS)
        lns = package.layer("lns", "LINESTRING", FIELDS)
        for i, p in enumerate(points):
            pts.add(shapely.to_wkb(p), {"name": f"p{i}", "n": i})
        for line in lines:
            lns.add(shapely.to_wkb(line), {"name": "l", "n": 7})
        empty = package.layer("none", "POINT", FIELDS)
    assert (pts.count, lns.count, empty.count) == (2, 1, 0)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        kinds = dict(db.execute("SELECT table_name, geometry_type_name "
                                "FROM gpkg_geometry_columns").fetchall())
        assert kinds == {"pts": "POINT", "lns": "LINESTRING", "none": "POINT"}
        extents = {r[0]: r[1:] for r in db.execute(
            "SELECT table_name, min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents")}
        assert extents["pts"] == (-170.0, -3.25, 10.5, 60.0, 4326)
        assert extents["lns"] == (0.0, 0.0, 2.0, 1.0, 4326)
        assert extents["none"] == (-180.0, -90.0, 180.0, 90.0, 4326)
        rows = db.execute("SELECT name, n, geom FROM pts ORDER BY fid").fetchall()
        for (_, _, blob), want in zip(rows, points, strict=True):
            assert blob[:2] == b"GP" and struct.unpack("<i", blob[4:8])[0] == 4326
            minx, maxx, miny, maxy = struct.unpack("<4d", blob[8:40])
            assert shapely.from_wkb(blob[40:]).equals(want)
            assert (minx, miny, maxx, maxy) == want.bounds
        assert [(r[0], r[1]) for r in rows] == [("p0", 0), ("p1", 1)]
    finally:
        db.close()


def test_an_error_part_way_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "kept.gpkg"
    path.write_bytes(b"the previous export")
    with pytest.raises(KeyError), write_geopackage(path) as package:
        layer = package.layer("pts", "POINT", FIELDS)
        layer.add(shapely.to_wkb(Point(1, 2)), {"name": "a", "n": 1})
        layer.add(shapely.to_wkb(Point(3, 4)), {"name": "b"})  # no "n": KeyError
    assert path.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.gpkg"]
