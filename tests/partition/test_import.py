"""Importing the reference release (SemP m_<n>.csv + h_dict.json, S2 cells_*.csv)."""

from __future__ import annotations

import json
from pathlib import Path

import s2sphere
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.partition_data import Loc, World, load_world
from typer.testing import CliRunner

from geotool.cli.app import app

runner = CliRunner()


def test_import_semp_release(engine: Engine, db_url: str, tmp_path: Path) -> None:
    with engine.begin() as conn:
        load_world(conn, World({"R1": Loc("R1", 4, 2, "Land", "Landia")}, []))
    (tmp_path / "m_2.csv").write_text(
        "class_index,class_label,latitude_mean,longitude_mean\n0,R1,1.5,2.5\n1,R9,3,4\n")
    (tmp_path / "m_3.csv").write_text(
        "class_index,class_label,latitude_mean,longitude_mean\n"
        "0,N5,1,2\n1,N6,1,3\n2,N7,3,4\n")
    (tmp_path / "h.json").write_text(json.dumps({"m_3": {"N5": "R1", "N6": "R1",
                                                         "N7": "R9"}}))
    res = runner.invoke(app, ["partitions", "import", "semp_ref", str(tmp_path / "m_2.csv"),
                              str(tmp_path / "m_3.csv"), "--h-dict", str(tmp_path / "h.json"),
                              "--database-url", db_url])
    assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        cells = conn.execute(sa.text(
            "SELECT p.level, c.class_index, c.label, c.lat, c.lon, l.osm_key FROM cells c "
            "JOIN partitionings p ON p.id = c.partitioning_id "
            "LEFT JOIN locations l ON l.id = c.location_id ORDER BY 1, 2")).all()
        anc = conn.execute(sa.text(
            "SELECT f.class_index, a.class_index FROM cell_ancestors x "
            "JOIN cells f ON f.id = x.cell_id JOIN cells a ON a.id = x.ancestor_cell_id "
            "ORDER BY 1")).all()
    assert [tuple(c) for c in cells] == [
        (0, 0, "N5", 1.0, 2.0, None), (0, 1, "N6", 1.0, 3.0, None),
        (0, 2, "N7", 3.0, 4.0, None), (1, 0, "Landia", 1.5, 2.5, "R1"),
        (1, 1, "R9", 3.0, 4.0, None)]
    assert [tuple(a) for a in anc] == [(0, 0), (1, 0), (2, 1)]


def test_import_s2_release(engine: Engine, db_url: str, tmp_path: Path) -> None:
    leaf = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(48.1, 11.6))
    coarse, fine_a, fine_b = leaf.parent(5), leaf.parent(8), leaf.parent(7).child_begin()
    other = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(-30, 150)).parent(8)
    pre = ("# s2 cells\n# img_min 50\n"
           "class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean\n")
    (tmp_path / "cells_coarse.csv").write_text(pre + f"0,{coarse.to_token()},120,48,11\n")
    (tmp_path / "cells_fine.csv").write_text(
        pre + f"0,{fine_a.to_token()},60,48.1,11.6\n1,{fine_b.to_token()},55,48,11.5\n"
        f"2,{other.to_token()},70,-30,150\n")
    res = runner.invoke(app, ["partitions", "import", "s2_ref",
                              str(tmp_path / "cells_coarse.csv"),
                              str(tmp_path / "cells_fine.csv"), "--database-url", db_url])
    assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        anc = {r[0]: r[1] for r in conn.execute(sa.text(
            "SELECT f.s2_token, a.s2_token FROM cell_ancestors x JOIN cells f "
            "ON f.id = x.cell_id LEFT JOIN cells a ON a.id = x.ancestor_cell_id"))}
        n = conn.execute(sa.text(
            "SELECT sum(n_images) FILTER (WHERE geom_source = 's2') FROM cells")).scalar()
    expected = {t.to_token(): (coarse.to_token() if coarse.contains(t) else None)
                for t in (fine_a, fine_b, other)}
    assert anc == expected
    assert n == 120 + 60 + 55 + 70
