"""Test helper: a tiny labelled planet for the training tests, built in seconds.

The hand-made four-country world of ``synth_tiny_world`` (two states per country),
rendered photos at a small size, ingested, geocoded against the world's own boundaries
(the ``boundaries`` geocoder: point in polygon, no Nominatim), and partitioned: a
semantic set (cities → states → countries with the default τ) and nothing else, so a
test can start training at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geotool.geocode.boundaries import load_boundaries, read_boundaries
from geotool.geocode.pipeline import GeocodeParams, geocode
from geotool.geocode.registry import GeocoderOptions
from geotool.ingest.load import IngestParams, ingest_file
from geotool.learn.config import TrainConfig, load_train_config
from geotool.partition.build import BuildParams, build_partitioning
from geotool.synth.photos import generate_photos

from .synth_tiny_world import write_tiny_world


def build_tiny_planet(engine: Engine, url: str, directory: Path, photos: int = 240,
                      size: int = 32, seed: int = 11, set_name: str = "tiny",
                      taus: tuple[int, ...] = (10, 20, 40)) -> Path:
    """Build the planet into the database at ``url``; returns the photo folder."""
    world = write_tiny_world(directory / "world")
    photo_dir = directory / "photos"
    generate_photos(world, photos, size, photo_dir, seed=seed, val_fraction=0.2,
                    test_fraction=0.1)
    ingest_file(engine, IngestParams(photo_dir / "all.csv", "tiny"))
    load_boundaries(engine, read_boundaries(world / "boundaries.geojson"), "world")
    geocode(engine, GeocodeParams("tiny", "boundaries", GeocoderOptions(database_url=url),
                                  details=False))
    build_partitioning(engine, BuildParams(name=set_name, dataset="tiny", taus=taus))
    return photo_dir


def planet_database(cluster: Any, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[str, Engine, Path]]:
    """(url, engine, photo folder) of a database holding the tiny planet.

    A test module makes it its fixture: ``planet = pytest.fixture(scope="module")(
    planet_database)``."""
    name = f"geotool_l_{uuid.uuid4().hex[:10]}"
    url = cluster.create(name, template="geotool_test_template")
    engine = sa.create_engine(url)
    photos = build_tiny_planet(engine, url, tmp_path_factory.mktemp("planet"))
    yield url, engine, photos
    engine.dispose()
    cluster.drop(name)


def small(tmp: Path, **overrides: Any) -> TrainConfig:
    """small_cnn at 32 px, 3 epochs of 10 steps, validation after each epoch."""
    values: dict[str, Any] = dict(
        partitions="tiny", name="m", backbone="small_cnn", image_size=32, epochs=3,
        batch_size=16, lr=0.01, lr_milestones=[2], validate_every_images=10**9,
        validate_each_epoch=True, checkpoint_every_steps=3, log_every_steps=2, workers=0,
        checkpoint_dir=str(tmp / "ck"), seed=3)
    values.update(overrides)
    return load_train_config(None, **values)
