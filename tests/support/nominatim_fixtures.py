"""Session fixture ``nominatim_world``: a small synthetic world imported into Nominatim.

Registered for every test module by ``pytest_plugins`` in ``conftest.py``; do not import the
fixture into a test module (that would make a second copy that imports again). Generating
the 3-country world takes about a second; the Nominatim import takes 20-40 s on two cores,
once per session. Without nominatim-db or osm2pgsql the tests that use it are skipped (they
fail under ``CI=true``).
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from geotool.db.server import PrivateServer
from geotool.geocode.nominatim.local import (
    ImportRecord,
    LocalNominatim,
    import_osm,
    open_local_api,
)
from geotool.synth.world import World, generate_world

from .requires import skip_or_fail

WORLD_SEED = 11
WORLD_COUNTRIES = 3


@dataclass
class NominatimWorld:
    """A generated world, the local Nominatim it was imported into and an open API."""

    world: World
    directory: Path
    local: LocalNominatim
    record: ImportRecord
    api: Any  # nominatim_api.NominatimAPI


def _missing_tools() -> str | None:
    if importlib.util.find_spec("nominatim_db") is None:
        return "nominatim-db is not installed (pip install 'geotool[nominatim]')"
    if importlib.util.find_spec("nominatim_api") is None:
        return "nominatim-api is not installed (pip install 'geotool[nominatim]')"
    if shutil.which("osm2pgsql") is None and not Path("/usr/bin/osm2pgsql").is_file():
        return "osm2pgsql is not installed (apt-get install osm2pgsql)"
    return None


def require_nominatim_tools() -> None:
    """Skip when Nominatim or osm2pgsql is missing — except under CI=true, where it fails."""
    missing = _missing_tools()
    if missing:
        skip_or_fail(missing)


@pytest.fixture(scope="session")
def nominatim_world(pg_server: PrivateServer,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[NominatimWorld]:
    """A 3-country world (seed 11) imported into a fresh Nominatim database."""
    require_nominatim_tools()
    base = tmp_path_factory.mktemp("nominatim-world")
    world = generate_world(WORLD_SEED, WORLD_COUNTRIES, base / "world")
    database = f"nominatim_t_{uuid.uuid4().hex[:8]}"
    local = LocalNominatim(base / "project", pg_server.dsn(database))
    record = import_osm(base / "world" / "world.osm", local)
    api = open_local_api(local)
    try:
        yield NominatimWorld(world, base / "world", local, record, api)
    finally:
        api.close()
        pg_server.drop_database(database)


@pytest.fixture()
def inprocess_geocoder(nominatim_world: NominatimWorld) -> Iterator[Any]:
    """geotool's in-process geocoder on the imported world (4 in flight, light simplify)."""
    from geotool.geocode.nominatim.inprocess import InProcessNominatim

    local = nominatim_world.local
    gc = InProcessNominatim(local.environ, local.project_dir, concurrency=4, simplify=0.0001)
    yield gc
    gc.close()


SEA = [(0.0, -30.0), (-40.0, -120.0)]  # mid-Atlantic, South Pacific


def sample_points(nw: NominatimWorld, n: int, seed: int = 3) -> list[tuple[float, float]]:
    """Points near features, inside cities/districts and anywhere in countries, plus sea."""
    rng = random.Random(seed)
    places = sorted(nw.world.places, key=lambda p: p.key)
    features = [p for p in places if p.kind in ("street", "landmark")]
    towns = [p for p in places if p.kind in ("city", "district")]
    countries = [p for p in places if p.kind == "country"]
    pts: list[tuple[float, float]] = []
    for k in range(n):
        if k % 3 == 0 and features:
            p = rng.choice(features)
            pts.append((p.lat + rng.uniform(-0.004, 0.004), p.lon + rng.uniform(-0.004, 0.004)))
        elif k % 3 == 1 and towns:
            p = rng.choice(towns)
            pts.append((p.lat + rng.uniform(-0.02, 0.02), p.lon + rng.uniform(-0.02, 0.02)))
        else:
            p = rng.choice(countries)
            pts.append((p.lat + rng.uniform(-1.0, 1.0), p.lon + rng.uniform(-1.0, 1.0)))
    return [(round(a, 6), round(b, 6)) for a, b in pts] + SEA
