"""The tiny synthetic planet with photos, addresses and partitionings, in seconds.

Hand-made four-country world (``synth_tiny_world``), rendered photos, ingested, reverse
geocoded with the offline boundary geocoder (the world's own polygons: no Nominatim), and
partitioned as SemP (three levels) and S2 (two levels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from geotool.geocode.boundaries import BoundaryGeocoder, load_boundaries, read_boundaries
from geotool.geocode.pipeline import GeocodeParams, geocode
from geotool.ingest.load import IngestParams, ingest_file
from geotool.partition.build import BuildParams, build_partitioning
from geotool.synth.photos import generate_photos

from .synth_tiny_world import write_tiny_world

DATASET = "tiny"
SEMP = "tiny_semp"
S2 = "tiny_s2"


@dataclass(frozen=True)
class TinyPlanet:
    photo_dir: Path
    dataset: str = DATASET
    semp: str = SEMP
    s2: str = S2


def build_tiny_planet(engine: Engine, directory: Path, photos: int = 360, size: int = 48,
                      seed: int = 5) -> TinyPlanet:
    world = write_tiny_world(directory / "world")
    photo_set = generate_photos(world, photos, size, directory / "photos", seed=seed,
                                val_fraction=0.15, test_fraction=0.25)
    ingest_file(engine, IngestParams(photo_set.directory / "all.csv", DATASET))
    load_boundaries(engine, read_boundaries(world / "boundaries.geojson"), "world")
    geocode(engine, GeocodeParams(DATASET, details=False), geocoder=BoundaryGeocoder(engine))
    build_partitioning(engine, BuildParams(name=SEMP, dataset=DATASET, taus=(5, 15, 40)))
    build_partitioning(engine, BuildParams(name=S2, scheme="s2", dataset=DATASET, img_min=5,
                                           img_maxes=(60, 20)))
    return TinyPlanet(photo_set.directory)
