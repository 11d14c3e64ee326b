"""The boundaries geocoder: loading boundary files and point-in-polygon address vectors.

The reference is the synthetic world's own ground truth: ``World.containing_area`` and
``World.path`` (shapely, in Python), independent of the SQL join under test.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from geotool.geocode.boundaries import (
    BoundaryFileError,
    BoundaryGeocoder,
    boundary_key,
    load_boundaries,
    read_boundaries,
)
from geotool.synth.world import World, generate_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate_world(5, 2, tmp_path_factory.mktemp("bworld"))


def _points(world: World, n: int, seed: int = 3) -> list[tuple[float, float]]:
    """Half inside cities (district level), half anywhere in a country's bounding box."""
    rng = random.Random(seed)
    cities, countries = world.of_kind("city"), world.of_kind("country")
    out = []
    for i in range(n):
        place = rng.choice(cities if i % 2 == 0 else countries)
        minx, miny, maxx, maxy = world.geometry(place.key).bounds
        out.append((rng.uniform(miny, maxy), rng.uniform(minx, maxx)))
    return out


def test_vectors_match_world_hierarchy(world: World, engine: Engine) -> None:
    assert world.directory is not None
    features = read_boundaries(world.directory / "boundaries.geojson")
    summary = load_boundaries(engine, features, "world")
    assert summary.features == len([p for p in world.places if p.admin_level is not None])
    points = _points(world, 600)
    results = list(BoundaryGeocoder(engine).reverse_many(points))
    districts = 0
    for (lat, lon), result in zip(points, results, strict=True):
        area = world.containing_area(lat, lon)
        expected = [] if area is None else [p.key for p in world.path(area.key)]
        assert [loc.osm_key for loc in result.locations] == expected, (lat, lon)
        assert result.status == ("ok" if expected else "unplaceable")
        districts += area is not None and area.kind == "district"
    assert districts > 100  # the sample reaches the finest level often
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT l.name, l.admin_level, l.osm_type FROM locations l "
            "WHERE l.osm_key = :k"), {"k": world.of_kind("district")[0].key}).one()
    district = world.of_kind("district")[0]
    assert stored == (district.name, 10, "R")


def test_reload_replaces_and_synthetic_keys(tmp_path: Path, engine: Engine) -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
    inner = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NAME": "Big", "code": "X1"}, "geometry": square},
        {"type": "Feature", "properties": {"NAME": "Small", "code": "X2"}, "geometry": inner}]}
    path = tmp_path / "ne_admin.geojson"
    path.write_text(json.dumps(doc))
    big = read_boundaries(path, key_field="code", level=2)[:1]
    small = [f for f in read_boundaries(path, key_field="code", level=4) if f.name == "Small"]
    load_boundaries(engine, big + small, "ne_admin")
    geocoder = BoundaryGeocoder(engine)
    inside, outside = geocoder.reverse_many([(0.5, 0.5), (5.0, 5.0)])
    assert [loc.osm_key for loc in inside.locations] == ["B:ne_admin:X2", "B:ne_admin:X1"]
    assert [loc.name for loc in inside.locations] == ["Small", "Big"]
    assert outside.status == "unplaceable" and not outside.locations
    load_boundaries(engine, big, "ne_admin")  # replaces the source: Small is gone
    (again,) = BoundaryGeocoder(engine).reverse_many([(0.5, 0.5)])
    assert [loc.osm_key for loc in again.locations] == ["B:ne_admin:X1"]


def test_keys() -> None:
    assert boundary_key("R62422", "x") == "R62422"
    assert boundary_key("relation/7", "x") == "R7"
    assert boundary_key("DEU.1_1", "gadm") == "B:gadm:DEU.1_1"
    assert boundary_key("12", "ne") == "B:ne:12"


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not valid GeoJSON"),
    ('{"type": "Feature"}', "FeatureCollection"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
     '{"nm": "a", "admin_level": 2}, "geometry": null}]}', "no name field"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
     '{"name": "a"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}',
     "no admin level field"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
     '{"name": "a", "admin_level": "x"}, "geometry": {"type": "Polygon", "coordinates": '
     '[[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}', "not a number"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
     '{"name": "a", "admin_level": 2}, "geometry": {"type": "Polygon", "coordinates": '
     '[[[0, 0], [1000, 0], [1000, 1], [0, 0]]]}}]}', "EPSG:4326"),
])
def test_bad_files_are_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content)
    with pytest.raises(BoundaryFileError, match=message):
        read_boundaries(path)


def test_cli_load_and_clear_error(world: World, db_url: str, tmp_path: Path) -> None:
    from geotool.cli.app import app

    assert world.directory is not None
    runner = CliRunner()
    ok = runner.invoke(app, ["boundaries", "load", str(world.directory / "boundaries.geojson"),
                             "--database-url", db_url])
    assert ok.exit_code == 0, ok.output
    assert "loaded" in ok.output
    bad = tmp_path / "roads.txt"
    bad.write_text("x")
    failed = runner.invoke(app, ["boundaries", "load", str(bad), "--database-url", db_url])
    assert failed.exit_code == 1
    assert "unknown boundary file type" in failed.output


def test_geopackage_when_pyogrio_is_installed(world: World, engine: Engine,
                                              tmp_path: Path) -> None:
    import numpy as np
    import pyogrio  # a hard dependency of geotool: imported, never skipped
    import shapely

    assert world.directory is not None
    areas = [p for p in world.places if p.admin_level is not None]
    gpkg = tmp_path / "areas.gpkg"
    geometries = np.array([shapely.to_wkb(shapely.geometry.MultiPolygon(
        list(getattr(world.geometry(p.key), "geoms", [world.geometry(p.key)]))))
        for p in areas], dtype=object)
    pyogrio.raw.write(gpkg, geometries,
                      [np.array([p.name for p in areas], dtype=object),
                       np.array([p.admin_level for p in areas], dtype=np.int32),
                       np.array([p.key for p in areas], dtype=object)],
                      fields=["name", "admin_level", "key"], geometry_type="MultiPolygon",
                      crs="EPSG:4326", driver="GPKG")
    features = read_boundaries(gpkg)
    assert sorted(f.osm_key for f in features) == sorted(p.key for p in areas)
    load_boundaries(engine, features, "gpkg")
    points = _points(world, 50, seed=9)
    for (lat, lon), result in zip(points, BoundaryGeocoder(engine).reverse_many(points),
                                  strict=True):
        area = world.containing_area(lat, lon)
        expected = [] if area is None else [p.key for p in world.path(area.key)]
        assert [loc.osm_key for loc in result.locations] == expected
