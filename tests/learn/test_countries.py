"""Country pre-training (Appendix C): the countries partitioning, then --init-from.

The class counts are checked against an independent computation in Python from the
address vectors: an image's class is the country of its vector, or its state in a
country split into states.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from support.learn_planet import planet_database, small

from geotool.learn.checkpoint import read_checkpoint
from geotool.learn.classes import read_set_classes
from geotool.learn.model import GeoClassifier
from geotool.learn.train import TrainParams, train
from geotool.learn.weights import load_geotool_checkpoint
from geotool.partition.build import BuildParams, PartitionError, build_partitioning

planet = pytest.fixture(scope="module")(planet_database)


def test_countries_partitioning_then_init_from(planet: tuple[str, Engine, Path],
                                               tmp_path: Path) -> None:
    _, engine, _ = planet
    with engine.begin() as conn:  # one of the four countries plays the USA
        conn.execute(sa.text("UPDATE locations SET country_code = 'us' "
                             "WHERE country_code = 'bx'"))
        vectors = conn.execute(sa.text(
            "SELECT i.id, array_agg(l.osm_key ORDER BY a.position), "
            "array_agg(l.admin_level ORDER BY a.position), "
            "array_agg(l.country_code ORDER BY a.position) "
            "FROM images i JOIN image_addresses a ON a.image_id = i.id "
            "JOIN locations l ON l.id = a.location_id WHERE i.split = 'train' "
            "GROUP BY i.id")).all()
    expected: Counter[str] = Counter()
    for _, keys, levels, codes in vectors:
        country = keys[levels.index(2)]
        state = keys[levels.index(4)] if 4 in levels else None
        expected[state if codes[-1] == "us" and state else country] += 1
    tau = 12
    build_partitioning(engine, BuildParams(name="countries_t", scheme="countries",
                                           dataset="tiny", taus=(tau,)))
    with engine.connect() as conn:
        cells = dict(conn.execute(sa.text(
            "SELECT l.osm_key, c.n_images FROM cells c JOIN locations l "
            "ON l.id = c.location_id JOIN partitionings p ON p.id = c.partitioning_id "
            "JOIN partitioning_sets s ON s.id = p.set_id WHERE s.name = 'countries_t'")).all())
        labelled = conn.execute(sa.text(
            "SELECT count(*) FROM geotool_labels('countries_t', 'train') "
            "WHERE classes[1] IS NOT NULL")).scalar_one()
    assert cells == {k: n for k, n in expected.items() if n >= tau}
    assert any(k.startswith("R20") for k in cells)  # states of the split country …
    assert not any(k == "R1001" for k in cells)  # … and not the country itself
    assert labelled == sum(cells.values())
    with pytest.raises(PartitionError, match="one --tau"):
        build_partitioning(engine, BuildParams(name="countries_x", scheme="countries",
                                               dataset="tiny", taus=(10, 20)))

    pre = train(engine, TrainParams(small(tmp_path / "pre", name="pre", partitions="countries_t",
                              epochs=1)))
    assert pre.best_checkpoint is not None
    result = train(engine, TrainParams(small(tmp_path / "fine", name="fine", init_from="pre",
                                             epochs=1)))
    assert result.weights_note.startswith("backbone from model 'pre'; heads start fresh")
    with engine.connect() as conn:
        classes = read_set_classes(conn, "tiny")
    model = GeoClassifier("small_cnn", classes.n_classes)
    load_geotool_checkpoint(model, read_checkpoint(pre.best_checkpoint), classes, "pre",
                            heads=False)
    source = read_checkpoint(pre.best_checkpoint)["model"]
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, source[f"backbone.{key}"]), key
