"""The build, partitions and export commands end to end, and the exported files read back."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import shapely.wkb
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.partition_data import load_world, polygon_world
from typer.testing import CliRunner

from geotool.cli.app import app

runner = CliRunner()


def test_build_show_list_export(engine: Engine, db_url: str, tmp_path: Path) -> None:
    with engine.begin() as conn:
        load_world(conn, polygon_world())
    res = runner.invoke(app, ["build", "--tau", "1", "--tau", "5,100", "--name", "semp_x",
                              "--database-url", db_url])
    assert res.exit_code == 0, res.output
    assert "labels_semp_x" in res.output
    with engine.connect() as conn:
        taus = conn.execute(sa.text("SELECT tau FROM partitionings ORDER BY level")).scalars()
        assert list(taus) == [1, 5, 100]
        n_cells = conn.execute(sa.text("SELECT count(*) FROM cells")).scalar_one()
        qgis = conn.execute(sa.text(
            "SELECT count(*), min(GeometryType(geom)), min(ST_SRID(geom)) FROM qgis_cells"
        )).one()
    assert tuple(qgis) == (n_cells, "MULTIPOLYGON", 4326)

    res = runner.invoke(app, ["partitions", "list", "--database-url", db_url])
    assert res.exit_code == 0 and "semp_x" in res.output
    res = runner.invoke(app, ["partitions", "show", "semp_x", "--database-url", db_url])
    assert res.exit_code == 0 and "tau_5" in res.output, res.output
    res = runner.invoke(app, ["partitions", "show", "nope", "--database-url", db_url])
    assert res.exit_code == 1 and "no partitioning set named 'nope'" in res.output

    gj = tmp_path / "cells.geojson"
    res = runner.invoke(app, ["export", "cells", "semp_x", "--out", str(gj),
                              "--database-url", db_url])
    assert res.exit_code == 0, res.output
    doc = json.loads(gj.read_text())
    gpkg = tmp_path / "cells.gpkg"
    res = runner.invoke(app, ["export", "cells", "semp_x", "--format", "gpkg", "--out",
                              str(gpkg), "--database-url", db_url])
    assert res.exit_code == 0, res.output

    with engine.connect() as conn:
        truth = {(r[0], r[1]): (r[2], shapely.wkb.loads(bytes(r[3]))) for r in conn.execute(
            sa.text("SELECT p.level, c.class_index, c.label, ST_AsBinary(c.geom) FROM cells c "
                    "JOIN partitionings p ON p.id = c.partitioning_id"))}
    assert len(doc["features"]) == len(truth)
    for f in doc["features"]:
        label, geom = truth[(f["properties"]["level"], f["properties"]["class_index"])]
        assert f["properties"]["label"] == label
        assert shapely.geometry.shape(f["geometry"]).equals(geom)

    db = sqlite3.connect(gpkg)
    assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert db.execute("SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns"
                      ).fetchone() == ("MULTIPOLYGON", 4326)
    rows = db.execute("SELECT level, class_index, label, geom FROM cells").fetchall()
    assert len(rows) == len(truth)
    for level, index, label, blob in rows:
        assert blob[:2] == b"GP" and struct.unpack("<i", blob[4:8])[0] == 4326
        minx, maxx, miny, maxy = struct.unpack("<4d", blob[8:40])
        geom = shapely.wkb.loads(blob[40:])
        assert geom.bounds == (minx, miny, maxx, maxy)
        assert truth[(level, index)][0] == label and geom.equals(truth[(level, index)][1])
    db.close()


def test_bad_input_exits_with_a_message(db_url: str) -> None:
    res = runner.invoke(app, ["build", "--tau", "x", "--name", "a", "--database-url", db_url])
    assert res.exit_code == 1 and "whole numbers" in res.output
    res = runner.invoke(app, ["build", "--name", "a", "--database-url", db_url])
    assert res.exit_code == 1 and "--dataset" in res.output


def test_tau_takes_several_values_after_one_flag(engine: Engine, db_url: str) -> None:
    """`--tau 50 75 100` needs the command registered with allow_extra_args."""
    with engine.begin() as conn:
        load_world(conn, polygon_world())
    res = runner.invoke(app, ["build", "--tau", "1", "5", "100", "--name", "semp_y",
                              "--database-url", db_url])
    assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        taus = conn.execute(sa.text("SELECT tau FROM partitionings ORDER BY level")).scalars()
        assert list(taus) == [1, 5, 100]


def test_stray_and_mismatched_list_values_are_refused(db_url: str) -> None:
    cases = [
        (["build", "--name", "semp_z", "7"], "unexpected"),
        (["build", "--name", "semp_z", "--scheme", "s2", "--tau", "5"], "--tau"),
        (["build", "--name", "semp_z", "--img-max", "100", "200"], "--img-max"),
        (["build", "--name", "semp_z", "--scheme", "hexagons"], "semantic"),
    ]
    for args, needle in cases:
        res = runner.invoke(app, [*args, "--database-url", db_url])
        assert res.exit_code == 1, (args, res.output)
        assert needle in res.output, (args, res.output)
