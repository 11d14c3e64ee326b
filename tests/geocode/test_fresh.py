"""Caches and locations cannot go stale when the Nominatim database is re-imported.

World A is imported, a dataset is geocoded (bulk and in-process); then world B (another
seed, the same country, so the same OSM ids mean other places) is imported under the same
database name and a second dataset with the same points is geocoded. It must get B's
answers (checked against a fresh in-process reverse on B, which has no cache), and every
location of its vectors must carry B's names and B's polygons (checked against the
generator's own geometries with shapely), not A's. Before the data key (migration 0010)
the cache answered from A and the details step never fetched B's polygons.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from shapely import wkt as shapely_wkt
from sqlalchemy.engine import Engine
from support.nominatim_fixtures import require_nominatim_tools
from support.point_datasets import add_point_dataset

from geotool.db.server import PrivateServer
from geotool.geocode import registry
from geotool.geocode.nominatim.inprocess import InProcessNominatim
from geotool.geocode.nominatim.local import LocalNominatim, import_osm
from geotool.geocode.pipeline import GeocodeParams, geocode
from geotool.synth.world import World, generate_world

COUNTRY = ["li"]  # Liechtenstein: the smallest outline, a quick import
N_POINTS = 24


@pytest.fixture()
def local_nominatim(pg_server: PrivateServer, tmp_path: Path) -> Iterator[LocalNominatim]:
    require_nominatim_tools()
    database = f"nominatim_f_{uuid.uuid4().hex[:8]}"
    yield LocalNominatim(tmp_path / "project", pg_server.dsn(database))
    pg_server.drop_database(database)


def _points(world: World) -> list[tuple[float, float]]:
    from shapely.geometry import Point

    rng = random.Random(5)
    cities = world.of_kind("city") + world.of_kind("district")
    out: list[tuple[float, float]] = []
    while len(out) < N_POINTS:
        shape = world.geometry(rng.choice(cities).key)
        minx, miny, maxx, maxy = shape.bounds
        lat, lon = round(rng.uniform(miny, maxy), 6), round(rng.uniform(minx, maxx), 6)
        if shape.contains(Point(lon, lat)):
            out.append((lat, lon))
    return out


def _vectors(engine: Engine, dataset: str) -> list[list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT array_agg(l.osm_key ORDER BY a.position) FROM images i "
            "JOIN datasets d ON d.id = i.dataset_id AND d.name = :d "
            "LEFT JOIN image_addresses a ON a.image_id = i.id "
            "LEFT JOIN locations l ON l.id = a.location_id "
            "GROUP BY i.id ORDER BY i.id"), {"d": dataset}).all()
    return [list(keys) for (keys,) in rows]


@pytest.mark.slow
def test_reimport_under_the_same_name_answers_from_the_new_data(
    local_nominatim: LocalNominatim, engine: Engine, tmp_path: Path,
) -> None:
    world_a = generate_world(31, 1, tmp_path / "a", country_codes=COUNTRY)
    world_b = generate_world(32, 1, tmp_path / "b", country_codes=COUNTRY)
    points = _points(world_b)
    options = registry.GeocoderOptions(nominatim_dsn=local_nominatim.nominatim_dsn,
                                       concurrency=2)

    import_osm(tmp_path / "a" / "world.osm", local_nominatim)
    for geocoder in ("bulk", "nominatim"):
        add_point_dataset(engine, f"a-{geocoder}", points, id_prefix=f"a-{geocoder}-")
        geocode(engine, GeocodeParams(f"a-{geocoder}", geocoder, options, batch_size=10))

    import_osm(tmp_path / "b" / "world.osm", local_nominatim)
    with InProcessNominatim(local_nominatim.environ, concurrency=2) as fresh:
        want = [[loc.osm_key for loc in r.locations] for r in fresh.reverse_many(points)]
    for geocoder in ("bulk", "nominatim"):
        add_point_dataset(engine, f"b-{geocoder}", points, id_prefix=f"b-{geocoder}-")
        summary = geocode(engine, GeocodeParams(f"b-{geocoder}", geocoder, options,
                                               batch_size=10))
        # nothing may come from world A's cache rows
        assert summary.points_cached == 0
        assert _vectors(engine, f"b-{geocoder}") == want, geocoder

    # the worlds differ at these points, so the check above can fail
    old = _vectors(engine, "a-bulk")
    assert sum(a != b for a, b in zip(old, want, strict=True)) >= N_POINTS // 2

    # every location of B's vectors: B's name and B's polygon, details fetched from B
    keys = sorted({k for vec in want for k in vec if not k.startswith("C:")})
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT osm_key, name, details_source, data_key, ST_AsText(geom), is_area "
            "FROM locations WHERE osm_key = ANY(:k)"), {"k": keys}).all()
    assert len(rows) == len(keys)
    b_keys = {p.key for p in world_b.places}
    stale = []
    for key, name, details_source, data_key, wkt, is_area in rows:
        assert details_source is not None and data_key is not None, key
        if key not in b_keys:
            continue
        assert name == world_b.place(key).name, key
        if is_area:
            stored = shapely_wkt.loads(wkt)
            if stored.hausdorff_distance(world_b.geometry(key)) > 1e-6:
                stale.append(key)
    assert not stale, stale
    # ids shared by both worlds (the case that went stale) are among the checked ones
    assert b_keys & {p.key for p in world_a.places} & set(keys)
