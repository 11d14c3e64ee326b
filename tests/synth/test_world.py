"""The synthetic world generator: determinism, a well-formed hierarchy, real countries where
Nominatim's grid puts them, a valid OSM file, ground truth lookups and clear errors."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import shapely
from shapely import LineString, Point, Polygon
from typer.testing import CliRunner

from geotool.synth.country_grid import find_grid_file
from geotool.synth.errors import SynthError
from geotool.synth.places import REVERSE_STREET_RADIUS_DEG
from geotool.synth.world import World, WorldSize, generate_world, load_world, select_countries

SMALL = WorldSize(states=2, counties=2, settlements=2, city_districts=2, town_districts=2,
                  streets=2, landmarks=1)
FILES = ("world.osm", "world.json", "boundaries.geojson", "features.geojson")
TOLERANCE = 1e-6  # degrees; coordinates are rounded to 1e-7


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(4, 3, out, size=SMALL)
    return out


@pytest.fixture(scope="module")
def world(world_dir: Path) -> World:
    return load_world(world_dir)


@pytest.fixture(scope="module")
def grid_cells() -> dict[str, list[Polygon]]:
    """The country grid parsed here, independently of geotool.synth.country_grid."""
    cells: dict[str, list[Polygon]] = {}
    with gzip.open(find_grid_file(), "rt") as handle:
        rows = handle.read().split("\nCOPY ", 1)[1].split("\n\\.", 1)[0].splitlines()[1:]
    for row in rows:
        code, _, hex_wkb = row.split("\t")
        cells.setdefault(code, []).append(shapely.from_wkb(bytes.fromhex(hex_wkb)))
    return cells


def test_same_seed_same_bytes_other_seed_other_world(tmp_path: Path, world_dir: Path) -> None:
    again = tmp_path / "again"
    generate_world(4, 3, again, size=SMALL)
    for name in FILES:
        assert (again / name).read_bytes() == (world_dir / name).read_bytes(), name
    other = tmp_path / "other"
    generate_world(5, 3, other, size=SMALL)
    assert (other / "world.osm").read_bytes() != (world_dir / "world.osm").read_bytes()
    names = {p["name"] for p in json.loads((world_dir / "world.json").read_text())["places"]}
    other_names = {p["name"] for p in json.loads((other / "world.json").read_text())["places"]}
    assert len(names & other_names) < 0.1 * len(names)


def test_country_selection_is_seeded_and_validated() -> None:
    assert select_countries(1, 5) == select_countries(1, 5)
    assert select_countries(1, 5) != select_countries(2, 5)
    assert len(set(select_countries(3, 40))) == 40
    assert select_countries(0, 0, ["FR", "de"]) == ["de", "fr"]


def test_every_place_lies_inside_its_parent(world: World) -> None:
    kinds = Counter(place.kind for place in world.places)
    assert kinds["country"] == 3 and kinds["state"] == 6 and kinds["county"] == 12
    assert all(kinds[k] > 0 for k in ("city", "district", "street", "landmark"))
    order = ["country", "state", "county", "city", "district", "street"]
    for place in world.places:
        geometry = world.geometry(place.key)
        assert geometry.is_valid, place.key
        point = Point(place.lon, place.lat)
        assert geometry.buffer(TOLERANCE).contains(point), f"{place.key} point outside"
        if place.parent is None:
            assert place.kind == "country"
            continue
        parent = world.place(place.parent)
        assert parent.country_code == place.country_code
        expected_parent = ("street" if place.kind == "landmark"
                           else order[order.index(place.kind) - 1])
        assert parent.kind == expected_parent, place.key
        if place.kind == "landmark":
            parent = world.place(parent.parent or "")  # the district holding its street
        assert world.geometry(parent.key).buffer(TOLERANCE).contains(geometry), place.key
        if place.admin_level is not None:
            assert place.admin_level > (parent.admin_level or 0)


def test_landmarks_stand_beside_their_street(world: World) -> None:
    """Nominatim gives a POI its nearest street; the generator's parent must be that street."""
    streets = world.of_kind("street")
    for landmark in world.of_kind("landmark"):
        centre = world.geometry(landmark.key).centroid
        nearest = min(streets, key=lambda s: world.geometry(s.key).distance(centre))
        assert nearest.key == landmark.parent
        assert not world.geometry(landmark.key).intersects(world.geometry(nearest.key))


def test_areas_partition_their_parent(world: World) -> None:
    pairs = (("country", "state"), ("state", "county"), ("city", "district"))
    for parent_kind, child_kind in pairs:
        for parent in world.of_kind(parent_kind):
            children = [c for c in world.children(parent.key) if c.kind == child_kind]
            union = shapely.union_all([world.geometry(c.key) for c in children])
            gap = world.geometry(parent.key).symmetric_difference(union).area
            assert gap < 1e-6 * world.geometry(parent.key).area + 1e-9, parent.key
            overlaps = sum(world.geometry(c.key).area for c in children) - union.area
            assert overlaps < 1e-6 * union.area + 1e-9


def test_countries_sit_inside_their_grid_cells(world: World,
                                               grid_cells: dict[str, list[Polygon]]) -> None:
    for country in world.of_kind("country"):
        grid_shape = shapely.union_all(grid_cells[country.country_code])
        outline = world.geometry(country.key)
        assert outline.difference(grid_shape).area < 1e-4 * outline.area
        mainland = max(getattr(grid_shape, "geoms", [grid_shape]), key=lambda g: g.area)
        assert outline.area > 0.7 * mainland.area
    tree_codes = [code for code, cells in grid_cells.items() for _ in cells]
    tree = shapely.STRtree([cell for cells in grid_cells.values() for cell in cells])
    for place in world.places:
        hits = {tree_codes[i] for i in tree.query(Point(place.lon, place.lat),
                                                  predicate="intersects")}
        assert hits == {place.country_code}, (place.key, hits)


def test_path_children_and_locate(world: World) -> None:
    landmark = world.of_kind("landmark")[0]
    path = world.path(landmark.key)
    assert [p.kind for p in path] == ["landmark", "street", "district", "city", "county",
                                      "state", "country"]
    assert world.locate(landmark.lat, landmark.lon) == path
    assert world.children(None) == world.of_kind("country")
    county = world.of_kind("county")[0]
    assert county in world.children(county.parent)
    # A point in a county far from every street and landmark: the county is the answer.
    features = shapely.union_all([world.geometry(p.key) for p in world.places
                                  if p.kind in ("street", "landmark")])
    for county in world.of_kind("county"):
        area = world.geometry(county.key)
        for x, y in area.exterior.coords if isinstance(area, Polygon) else []:
            probe = Point(x, y)
            inside = area.buffer(-0.05).intersection(probe.buffer(0.2))
            if inside.is_empty:
                continue
            point = inside.representative_point()
            if features.distance(point) > REVERSE_STREET_RADIUS_DEG and not any(
                    world.geometry(c.key).contains(point) for c in world.of_kind("city")):
                assert world.locate(point.y, point.x) == world.path(county.key)
                return
    pytest.fail("no countryside probe found")


def test_locate_picks_the_nearest_street(world: World) -> None:
    street = world.of_kind("street")[0]
    line = world.geometry(street.key)
    assert isinstance(line, LineString)
    mid = line.interpolate(0.5, normalized=True)
    found = world.locate(mid.y + 1e-5, mid.x)
    assert found[0].key in {street.key} | {p.key for p in world.children(street.key)}
    assert found[-1].kind == "country"


def _osm(world_dir: Path) -> ET.Element:
    return ET.parse(world_dir / "world.osm").getroot()


def test_osm_file_is_well_formed_for_nominatim(world_dir: Path, world: World) -> None:
    root = _osm(world_dir)
    assert root.get("timestamp") and root.get("osmosis_replication_timestamp")
    order = {"bounds": 0, "node": 1, "way": 2, "relation": 3}
    kinds = [order[el.tag] for el in root]
    assert kinds == sorted(kinds)
    nodes = {int(el.get("id", 0)): el for el in root.iter("node")}
    ways = {int(el.get("id", 0)): el for el in root.iter("way")}
    relations = {int(el.get("id", 0)): el for el in root.iter("relation")}
    for group in (nodes, ways, relations):
        ids = list(group)
        assert ids == sorted(ids) and min(ids) > 0
        assert all(el.get("version") == "1" and el.get("timestamp") for el in group.values())
    for way in ways.values():
        assert all(int(nd.get("ref", 0)) in nodes for nd in way.iter("nd"))
    for relation in relations.values():
        tags = {t.get("k"): t.get("v") for t in relation.iter("tag")}
        assert tags["type"] == "boundary" and tags["boundary"] == "administrative"
        assert tags["name"] and tags["name:en"] and tags["admin_level"]
        place = world.place(f"R{relation.get('id')}")
        assert (tags["name"], int(tags["admin_level"])) == (place.name, place.admin_level)
        if place.kind == "country":
            assert tags["ISO3166-1"] == place.country_code.upper()
        for member in relation.iter("member"):
            target = ways if member.get("type") == "way" else nodes
            assert int(member.get("ref", 0)) in target


def test_osm_boundaries_rebuild_the_geojson_areas(world_dir: Path, world: World) -> None:
    """Assemble each relation's rings from its ways and compare with boundaries.geojson."""
    root = _osm(world_dir)
    coords = {el.get("id"): (float(el.get("lon", 0)), float(el.get("lat", 0)))
              for el in root.iter("node")}
    way_nodes = {el.get("id"): [nd.get("ref") for nd in el.iter("nd")] for el in root.iter("way")}
    for relation in list(root.iter("relation"))[::7]:
        lines = [LineString([coords[n] for n in way_nodes[m.get("ref")]])
                 for m in relation.iter("member") if m.get("type") == "way"]
        rebuilt = shapely.polygonize(lines).geoms
        outer = shapely.union_all([p for p in rebuilt])
        expected = world.geometry(f"R{relation.get('id')}")
        # polygonize fills holes with their own faces, so compare the filled shapes
        filled = shapely.union_all([Polygon(p.exterior) for p in getattr(expected, "geoms",
                                                                         [expected])])
        assert outer.symmetric_difference(filled).area < 1e-9 + 1e-7 * filled.area


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"countries": 0}, "at least one country"),
    ({"countries": 1000}, "at most"),
    ({"countries": 0, "country_codes": ["de", "zz"]}, "unknown country code 'zz'"),
    ({"countries": 1, "scale": 0.0}, "scale"),
])
def test_invalid_requests_raise_synth_error(tmp_path: Path, kwargs: dict[str, object],
                                            message: str) -> None:
    with pytest.raises(SynthError, match=message) as info:
        generate_world(1, out_dir=tmp_path, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "world.osm").exists()


def test_load_world_of_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="world.json is missing"):
        load_world(tmp_path)


def test_cli_writes_a_world_and_reports_errors(tmp_path: Path) -> None:
    from geotool.cli.app import app

    runner = CliRunner()
    result = runner.invoke(app, ["synth", "world", "--country-codes", "lt", "--scale", "0.5",
                                 "--seed", "2", "--out", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert all((tmp_path / "w" / name).is_file() for name in FILES)
    assert {p.country_code for p in load_world(tmp_path / "w").places} == {"lt"}
    bad = runner.invoke(app, ["synth", "world", "--country-codes", "qq", "--out",
                              str(tmp_path / "bad")])
    assert bad.exit_code == 1
    assert "unknown country code" in bad.output
