"""What users read back from a build — `partitions show` statistics, the training label
rows, and S2 builds — checked against the independent pure-Python reference."""

from __future__ import annotations

import random
import statistics

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.partition_data import (
    Img,
    World,
    clear,
    clustered_points,
    load_world,
    random_world,
    snapshot,
)
from support.partition_reference import reference

from geotool.partition.build import BuildParams, build_partitioning
from geotool.partition.labels import label_rows
from geotool.partition.summary import list_sets, show_set

TAUS = (3, 8, 20)


def test_show_statistics_match_the_reference(engine: Engine) -> None:
    world = random_world(random.Random(31), 30, 500)
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="semp_show", taus=TAUS))
    ref = reference(world, list(TAUS))
    params, levels = show_set(engine, "semp_show")
    assert params.get("taus") == list(TAUS)
    assert [lv.tau for lv in levels] == sorted(TAUS)
    for level, lv in enumerate(levels):
        counts = ref.n_images[level]
        assert lv.n_classes == len(ref.classes[level])
        assert lv.n_labelled == len(ref.labels[level])
        assert lv.images_min == min(counts) and lv.images_max == max(counts)
        assert lv.images_median == statistics.median(counts)
        depths = [len(ref.path[c]) - 1 for c in ref.classes[level]]
        assert (lv.depth_min, lv.depth_max) == (min(depths), max(depths))
    (info,) = [s for s in list_sets(engine) if s.name == "semp_show"]
    assert info.n_partitionings == len(TAUS)
    assert info.n_classes == sum(len(c) for c in ref.classes)


def test_label_rows_match_the_reference(engine: Engine) -> None:
    world = random_world(random.Random(32), 30, 500)
    with engine.begin() as conn:
        load_world(conn, world)
    build_partitioning(engine, BuildParams(name="semp_rows", taus=TAUS))
    ref = reference(world, list(TAUS))
    by_split: dict[str, set[str]] = {}
    for im in world.images:
        by_split.setdefault(im.split, set()).add(im.external_id)
    rows = list(label_rows(engine, "semp_rows", split=None))
    assert {r.external_id for r in rows} == {im.external_id for im in world.images}
    for r in rows:
        expected = tuple(ref.labels[level].get(r.external_id) for level in range(len(TAUS)))
        assert r.classes == expected, r.external_id
        assert r.external_id in by_split[r.split]
    train = list(label_rows(engine, "semp_rows", split="train", labelled_only=True))
    assert {r.external_id for r in train} == {
        e for e in by_split["train"] if any(e in lab for lab in ref.labels)}


def test_s2_builds_do_not_depend_on_insertion_order(engine: Engine) -> None:
    rng = random.Random(5)
    pts = clustered_points(rng, 800)
    world = World({}, [Img(f"i{k}", "train" if k % 7 else "test", lat, lon, ())
                       for k, (lat, lon) in enumerate(pts)])
    seen = []
    for seed in (3, 4):
        with engine.begin() as conn:
            clear(conn)
            load_world(conn, world, seed=seed)
        build_partitioning(engine, BuildParams(name="s2_order", scheme="s2", img_min=5,
                                               img_maxes=(200, 50)))
        seen.append(snapshot(engine))
    assert seen[0]["cells"], "the S2 build should produce cells"
    assert seen[0] == seen[1]
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM cells")).scalar_one()
    assert n == len(seen[0]["cells"])
