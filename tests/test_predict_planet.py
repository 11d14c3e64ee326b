"""Prediction and evaluation on the tiny synthetic planet, end to end on real PostGIS:
photos → addresses → SemP and S2 → two small trained models → predict → evaluate.

The planet and its models are built once per module into a template database; each test
works on its own copy (CREATE DATABASE … TEMPLATE), so tests that write do not interfere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.tiny_planet import TinyPlanet, build_tiny_planet
from support.tiny_training import fit_tiny_model

from geotool.learn.predict import PredictOptions, predict


@dataclass(frozen=True)
class PlanetDb:
    template: str
    planet: TinyPlanet
    cluster: Any


@pytest.fixture(scope="module")
def planet_db(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlanetDb]:
    name = f"geotool_planet_{uuid.uuid4().hex[:8]}"
    url = cluster.create(name, template="geotool_test_template")
    eng = sa.create_engine(url)
    directory = tmp_path_factory.mktemp("planet")
    planet = build_tiny_planet(eng, directory)
    fit_tiny_model(eng, planet.semp, "semp_small", directory, epochs=10, seed=1)
    fit_tiny_model(eng, planet.s2, "s2_small", directory, epochs=10, seed=1)
    eng.dispose()
    yield PlanetDb(name, planet, cluster)
    cluster.drop(name)


@pytest.fixture()
def planet_engine(planet_db: PlanetDb) -> Iterator[Engine]:
    name = f"geotool_pc_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(planet_db.cluster.create(name, template=planet_db.template))
    yield eng
    eng.dispose()
    planet_db.cluster.drop(name)


def test_predict_and_ladder(planet_engine: Engine) -> None:
    summary = predict(planet_engine, "semp_small", "tiny", "test", PredictOptions(batch_size=32))
    assert summary.predicted > 0 and summary.failed == 0
    with planet_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT * FROM evaluation_ladder ORDER BY mode, level")).mappings().all()
    for r in rows:
        print(dict(r))
    assert rows
