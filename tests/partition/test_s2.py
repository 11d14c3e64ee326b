"""The adaptive S2 baseline: cell sizes obey img_min/img_max, images lie in their cells
(checked with s2sphere, independently of the numpy range arithmetic), cells nest across
levels, and the cells' statistics match the images."""

from __future__ import annotations

import random

import numpy as np
import pytest
import s2sphere
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from support.partition_data import Img, World, clustered_points, load_world
from support.partition_reference import spherical_mean

from geotool.partition.build import BuildParams, build_partitioning
from geotool.partition.s2cells import adaptive_cells, assign, leaf_ids


def test_adaptive_cells_obey_limits() -> None:
    pts = clustered_points(random.Random(1), 3000)
    leaves = np.sort(leaf_ids(pts))
    cells = adaptive_cells(leaves, img_min=10, img_max=150)
    assert all(10 <= c.n_images <= 150 or c.level == 30 for c in cells)
    which = assign(leaf_ids(pts), cells)
    for (lat, lon), k in zip(pts, which, strict=True):
        leaf = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(lat, lon))
        if k >= 0:
            assert s2sphere.CellId(cells[k].cell_id).contains(leaf)
        else:  # unlabelled: its cell was dropped for holding too few images
            holder = [c for c in cells if s2sphere.CellId(c.cell_id).contains(leaf)]
            assert holder == []
    counts = np.bincount(which[which >= 0], minlength=len(cells))
    assert counts.tolist() == [c.n_images for c in cells]
    # a cell that was split held more than img_max: its parent must have been too full
    for c in cells:
        if c.level > 2:
            parent = s2sphere.CellId(c.cell_id).parent(c.level - 1)
            inside = sum(parent.contains(s2sphere.CellId(int(x))) for x in leaves)
            assert inside > 150


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="img_min"):
        adaptive_cells(np.zeros(0, dtype=np.uint64), img_min=10, img_max=5)


def test_s2_build_in_the_database(engine: Engine) -> None:
    rng = random.Random(2)
    pts = clustered_points(rng, 1500)
    world = World({}, [Img(f"i{k}", "train" if k % 10 else "val", lat, lon, ())
                       for k, (lat, lon) in enumerate(pts)])
    with engine.begin() as conn:
        load_world(conn, world)
    summary = build_partitioning(engine, BuildParams(
        name="s2_test", scheme="s2", img_min=5, img_maxes=(400, 100)))
    assert [lv.name for lv in summary.levels] == ["s2_5_100", "s2_5_400"]
    with engine.connect() as conn:
        cells = conn.execute(sa.text(
            "SELECT p.level, c.class_index, c.s2_token, c.n_images, c.lat, c.lon, c.id "
            "FROM cells c JOIN partitionings p ON p.id = c.partitioning_id "
            "ORDER BY 1, 2")).all()
        members = conn.execute(sa.text(
            "SELECT il.cell_id, i.lat, i.lon, i.split FROM image_labels il "
            "JOIN images i ON i.id = il.image_id")).all()
        ancestors = conn.execute(sa.text(
            "SELECT f.s2_token, a.s2_token FROM cell_ancestors x "
            "JOIN cells f ON f.id = x.cell_id LEFT JOIN cells a ON a.id = x.ancestor_cell_id"
        )).all()
        geom_ok = conn.execute(sa.text(
            "SELECT bool_and(geom_source = 's2' AND ST_IsValid(geom)) FROM cells")).scalar()
    assert geom_ok
    by_id = {c[6]: c for c in cells}
    imgs: dict[int, list[tuple[float, float]]] = {}
    for cell_id, lat, lon, split in members:
        cid = s2sphere.CellId.from_token(by_id[cell_id][2])
        leaf = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(lat, lon))
        assert cid.contains(leaf)
        if split == "train":
            imgs.setdefault(cell_id, []).append((lat, lon))
    max_of = {0: 100, 1: 400}
    for level, _k, token, n, lat, lon, cid in cells:
        assert n == len(imgs[cid])
        assert 5 <= n <= max_of[level] or s2sphere.CellId.from_token(token).level() == 30
        rlat, rlon = spherical_mean(imgs[cid])
        assert lat == pytest.approx(rlat, abs=1e-9) and lon == pytest.approx(rlon, abs=1e-9)
    for fine, coarse in ancestors:
        if coarse is not None:
            assert s2sphere.CellId.from_token(coarse).contains(
                s2sphere.CellId.from_token(fine))
    assert len(ancestors) == sum(1 for c in cells if c[0] == 0)
