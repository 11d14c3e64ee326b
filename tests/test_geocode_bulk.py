"""Bulk SQL reverse geocoding agrees with Nominatim's own in-process ``reverse``.

The reference is nominatim-api itself (through geotool's in-process geocoder), on a real
Nominatim database imported from a synthetic world; the SQL under test shares no code
with it. Points: half inside cities (streets, landmarks, districts), half anywhere in a
country's bounding box (countryside, sea, neighbouring countries). A hand-made map
(``osm_address_map.py``) adds what the synthetic planet lacks: house numbers, an
interpolation line, POI nodes, place nodes that are not linked to a boundary.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
from nominatim_fixtures import NominatimWorld, nominatim_world  # noqa: F401
from osm_address_map import sample_points, write_address_map

from geotool.db.server import PrivateServer
from geotool.geocode import registry
from geotool.geocode.nominatim_bulk import BulkGeocodeError, BulkNominatim
from geotool.geocode.nominatim_inprocess import InProcessNominatim

SAMPLE = 400
REQUIRED_AGREEMENT = 0.99


def _points(nw: NominatimWorld, n: int) -> list[tuple[float, float]]:
    rng = random.Random(2)
    world = nw.world
    cities, countries = world.of_kind("city"), world.of_kind("country")
    out = []
    for i in range(n):
        place = rng.choice(cities if i % 2 == 0 else countries)
        minx, miny, maxx, maxy = world.geometry(place.key).bounds
        out.append((round(rng.uniform(miny, maxy), 6), round(rng.uniform(minx, maxx), 6)))
    return out


def test_bulk_agrees_with_inprocess_reverse(nominatim_world: NominatimWorld) -> None:  # noqa: F811
    points = _points(nominatim_world, SAMPLE)
    dsn = nominatim_world.local.nominatim_dsn
    with BulkNominatim(dsn, batch_size=150) as bulk:
        assert "places" in bulk.check()
        got = list(bulk.reverse_many(points))
    with InProcessNominatim(nominatim_world.local.environ, concurrency=2) as reference:
        want = list(reference.reverse_many(points))
    same = [
        (g.status, [loc.osm_key for loc in g.locations])
        == (w.status, [loc.osm_key for loc in w.locations])
        for g, w in zip(got, want, strict=True)
    ]
    agreement = sum(same) / len(same)
    differing = [(p, g.locations, w.locations)
                 for p, g, w, s in zip(points, got, want, same, strict=True) if not s][:3]
    assert agreement >= REQUIRED_AGREEMENT, differing
    # the sample exercises every branch: streets/POIs, areas, and unplaceable points
    kinds = {(loc.category, w.status) for w in want for loc in w.locations[:1]}
    assert {"highway", "boundary"} <= {c for c, _ in kinds}
    by_key = {loc.osm_key: loc for g in got for loc in g.locations}
    for w in want:
        for loc in w.locations:
            if loc.osm_key in by_key and loc.name:
                assert by_key[loc.osm_key].name == loc.name


def test_bulk_is_registered_and_rejects_other_databases(db_url: str) -> None:
    assert "bulk" in registry.names()
    with BulkNominatim(db_url.replace("postgresql+psycopg://", "postgresql://")) as bulk, \
            pytest.raises(BulkGeocodeError, match="not an imported Nominatim database"):
        bulk.check()


@pytest.fixture(scope="module")
def address_map_dsn(pg_server: PrivateServer,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The hand-made address map (house numbers, interpolation, POIs, place nodes)
    imported into its own Nominatim database."""
    pytest.importorskip("nominatim_db")
    from geotool.geocode.nominatim_local import LocalNominatim, import_osm

    base = tmp_path_factory.mktemp("address-map")
    database = f"nominatim_a_{uuid.uuid4().hex[:8]}"
    local = LocalNominatim(base / "project", pg_server.dsn(database))
    import_osm(write_address_map(base / "map.osm"), local)
    try:
        yield local.nominatim_dsn
    finally:
        pg_server.drop_database(database)


def test_bulk_agrees_on_address_features(address_map_dsn: str) -> None:
    points = sample_points()
    with BulkNominatim(address_map_dsn) as bulk:
        got = list(bulk.reverse_many(points))
    with InProcessNominatim({"NOMINATIM_DATABASE_DSN": address_map_dsn},
                            concurrency=2) as reference:
        want = list(reference.reverse_many(points))
    pairs = list(zip(got, want, strict=True))
    same = sum([loc.osm_key for loc in g.locations] == [loc.osm_key for loc in w.locations]
               and g.status == w.status for g, w in pairs)
    assert same / len(points) >= REQUIRED_AGREEMENT
    finest = {(w.locations[0].category, w.locations[0].type) for w in want if w.locations}
    # every branch of Nominatim's reverse is exercised: streets, POIs, areas, place nodes
    # inside an area and in the country, the country table
    assert {("highway", "residential"), ("amenity", "restaurant"), ("amenity", "cafe"),
            ("boundary", "administrative"), ("place", "hamlet"), ("place", "village"),
            ("place", "country")} <= finest
