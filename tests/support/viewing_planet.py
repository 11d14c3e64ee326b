"""A database with everything the viewing side shows, built once per test session.

The tiny planet (``tiny_planet``: SemP and S2 sets) plus a finer S2 set ``view_s2``
(≥ 25 cells at level 0, so a top-25 map has 25 cells), a small CNN trained on it by
geotool's own trainer, its five-crop predictions of the test split, and a concept pass
over 30 test photos with the synthetic masks: cells, predictions, error lines and ci by
country all exist. Used by tests/export (QGIS project), tests/explain (the HTML page) and
tests/db (the viewer role). Registered as a pytest plugin in tests/conftest.py, so the
session builds it at most once.

Also the helpers that run the real viewers: :func:`qgis_python` (the system Python with
PyQGIS) and :func:`chromium` (a headless browser), each skipping (failing under CI) when
missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from .requires import skip_or_fail
from .tiny_planet import TinyPlanet, build_tiny_planet

VIEW_SET = "view_s2"
VIEW_MODEL = "view_small"
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class ViewingDb:
    url: str
    planet: TinyPlanet
    directory: Path
    model: str = VIEW_MODEL
    view_set: str = VIEW_SET

    def engine(self) -> sa.engine.Engine:
        return sa.create_engine(self.url)


@pytest.fixture(scope="session")
def viewing_db(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewingDb]:
    from geotool.explain.attributions import ExplainParams
    from geotool.explain.pipeline import ConceptParams, InfluenceParams, compute_concepts
    from geotool.learn.predict import PredictParams, predict
    from geotool.partition.build import BuildParams, build_partitioning

    from .tiny_training import fit_tiny_model  # imports PyTorch: only when used

    name = f"geotool_view_{uuid.uuid4().hex[:8]}"
    url = cluster.create(name, template="geotool_test_template")
    engine = sa.create_engine(url)
    directory = tmp_path_factory.mktemp("viewing")
    planet = build_tiny_planet(engine, directory)
    build_partitioning(engine, BuildParams(name=VIEW_SET, scheme="s2", dataset=planet.dataset,
                                           img_min=2, img_maxes=(10, 40)))
    fit_tiny_model(engine, VIEW_SET, VIEW_MODEL, directory, epochs=3, seed=2)
    predict(engine, PredictParams(VIEW_MODEL, planet.dataset, "test", device="cpu",
                                  batch_size=64, top_k=25))
    influence = InfluenceParams(explain=ExplainParams(noise_samples=2, ig_steps=4),
                                batch_size=16, limit=30)
    compute_concepts(engine, ConceptParams(VIEW_MODEL, planet.dataset, "test", influence))
    engine.dispose()
    yield ViewingDb(url, planet, directory)
    from geotool.db.engine import dispose_engines

    dispose_engines()
    cluster.drop(name)


def qgis_python() -> str:
    """The system Python that has PyQGIS, or skip (fail under CI) saying how to get it."""
    if not Path(SYSTEM_PYTHON).exists():
        skip_or_fail(f"{SYSTEM_PYTHON} is missing (QGIS's Python bindings need it)")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True,
                           text=True, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    if probe.returncode != 0:
        skip_or_fail("PyQGIS is not installed (apt-get install python3-qgis qgis-providers; "
                     "scripts/bootstrap.sh does it)")
    return SYSTEM_PYTHON


def chromium() -> str:
    """A headless-capable Chromium, or skip (fail under CI)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    skip_or_fail("Chromium is not installed (apt-get install chromium; scripts/bootstrap.sh "
                 "does it)")
    raise AssertionError  # not reached
