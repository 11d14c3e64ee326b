"""Ingesting coordinates without ids (GeoCLIP's ``coordinates_100K.csv`` layout)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.geonames_data import geoclip_coordinates

from geotool.ingest.load import IngestParams, ingest_file
from geotool.ingest.readers import detect_format


def test_latlon_rows_numbered(engine: Engine, tmp_path: Path) -> None:
    assert detect_format(geoclip_coordinates()) == "latlon"
    lines = geoclip_coordinates().read_text().splitlines()[:6]
    path = tmp_path / "coords.csv"
    path.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")
    first = ingest_file(engine, IngestParams(path, "g", "train"))
    again = ingest_file(engine, IngestParams(path, "g", "train"))
    assert (first.format, first.loaded, again.loaded, again.already_present) == \
        ("latlon", 5, 0, 5)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT external_id, lat, lon FROM images ORDER BY external_id::int")).all()
    want = [(str(k), *map(float, ln.split(","))) for k, ln in enumerate(lines[1:], 1)]
    assert [tuple(r) for r in rows] == want
