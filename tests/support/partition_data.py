"""Address-vector fixtures for the partitioning tests, and a loader that writes them.

A ``World`` is the input of the build stage: locations (with rank, admin level, name and
optionally a polygon) and images (split, coordinate, address vector finest first). The
loader inserts it directly (INSERT + COPY), in a chosen order, so tests can check that
insertion order never changes a build.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db.copy import copy_rows


@dataclass(frozen=True)
class Loc:
    key: str
    rank: int | None = None
    admin: int | None = None
    name: str | None = None
    name_en: str | None = None
    polygon_wkt: str | None = None


@dataclass(frozen=True)
class Img:
    external_id: str
    split: str
    lat: float
    lon: float
    address: tuple[str, ...]  # osm keys, finest first


@dataclass
class World:
    locations: dict[str, Loc] = field(default_factory=dict)
    images: list[Img] = field(default_factory=list)


def clear(conn: Connection) -> None:
    """Empty every table a build reads or writes (between property-test examples)."""
    conn.execute(sa.text("TRUNCATE datasets, locations, partitioning_sets, runs CASCADE"))


def load_world(conn: Connection, world: World, dataset: str = "d",
               seed: int | None = None) -> int:
    """Insert the world; with ``seed``, locations and images go in shuffled order."""
    locs = list(world.locations.values())
    imgs = list(world.images)
    if seed is not None:
        rng = random.Random(seed)
        rng.shuffle(locs)
        rng.shuffle(imgs)
        # burn some identity values so surrogate ids differ between loads
        for _ in range(rng.randint(0, 5)):
            conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence('locations', 'id'))"))
            conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence('images', 'id'))"))
    ds = conn.execute(sa.text("INSERT INTO datasets (name) VALUES (:n) RETURNING id"),
                      {"n": dataset}).scalar_one()
    ids: dict[str, int] = {}
    for loc in locs:
        ids[loc.key] = conn.execute(sa.text(
            "INSERT INTO locations (osm_key, osm_type, name, name_en, rank_address, "
            "admin_level, geom) VALUES (:k, :t, :n, :ne, :r, :a, "
            "ST_GeomFromText(:g, 4326)) RETURNING id"),
            {"k": loc.key, "t": loc.key[0], "n": loc.name, "ne": loc.name_en,
             "r": loc.rank, "a": loc.admin, "g": loc.polygon_wkt}).scalar_one()
    copy_rows(conn, "images", ("dataset_id", "external_id", "split", "lat", "lon", "path"),
              ((ds, im.external_id, im.split, im.lat, im.lon, f"img/{im.external_id}.jpg")
               for im in imgs))
    img_ids = dict(conn.execute(sa.text(
        "SELECT external_id, id FROM images WHERE dataset_id = :d"), {"d": ds}).all())
    copy_rows(conn, "image_addresses", ("image_id", "position", "location_id"),
              ((img_ids[im.external_id], pos, ids[key])
               for im in imgs for pos, key in enumerate(im.address)))
    return int(ds)


def random_world(rng: random.Random, n_locations: int, n_images: int,
                 val_share: float = 0.2) -> World:
    """Random locations and messy address vectors: shortcuts, swaps (cycles), repeats."""
    world = World()
    types = "NWR"
    keys: list[str] = []
    while len(keys) < n_locations:
        key = f"{rng.choice(types)}{rng.randint(1, 60)}"
        if key not in keys:
            keys.append(key)
    for key in keys:
        world.locations[key] = Loc(
            key,
            rank=rng.choice([None, 4, 8, 12, 16, 16, 20]),
            admin=rng.choice([None, None, 2, 4, 8]),
            name=f"name {key}",
            name_en=rng.choice([None, f"en {key}"]),
            polygon_wkt=rng.choice([None, "POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"]),
        )
    for i in range(n_images):
        pool = keys[: max(3, n_locations // 2)] if rng.random() < 0.5 else keys
        address = tuple(rng.sample(pool, rng.randint(1, min(5, len(pool)))))
        if rng.random() < 0.1 and len(address) > 1:  # a repeated entry
            address = address + (address[0],)
        split = "val" if i > 0 and rng.random() < val_share else "train"
        world.images.append(Img(f"x{i}", split, rng.uniform(-60, 60),
                                rng.uniform(-179, 179), address))
    return world


# ------------------------------------------------ shared by several partition tests
SNAPSHOT = {
    "cells": "SELECT p.level, c.class_index, l.osm_key, c.s2_token, c.n_images, c.lat, c.lon, "
             "c.lat_plain, c.lon_plain, c.label, ST_AsEWKB(c.geom), c.geom_source "
             "FROM cells c JOIN partitionings p ON p.id = c.partitioning_id "
             "LEFT JOIN locations l ON l.id = c.location_id ORDER BY 1, 2",
    "labels": "SELECT p.level, i.external_id, c.class_index FROM image_labels il "
              "JOIN partitionings p ON p.id = il.partitioning_id "
              "JOIN images i ON i.id = il.image_id JOIN cells c ON c.id = il.cell_id "
              "ORDER BY 1, 2",
    "ancestors": "SELECT p.level, c.class_index, ap.level, ac.class_index "
                 "FROM cell_ancestors a JOIN cells c ON c.id = a.cell_id "
                 "JOIN partitionings p ON p.id = c.partitioning_id "
                 "JOIN partitionings ap ON ap.id = a.ancestor_partitioning_id "
                 "LEFT JOIN cells ac ON ac.id = a.ancestor_cell_id ORDER BY 1, 2, 3",
    "nodes": "SELECT l.osm_key, pl.osm_key, h.parent_edge_count, h.cycle_broken, h.depth, "
             "h.n_finest, h.n_images FROM hierarchy_nodes h "
             "JOIN locations l ON l.id = h.location_id "
             "LEFT JOIN locations pl ON pl.id = h.parent_id ORDER BY 1",
    "partitionings": "SELECT level, name, tau, params, n_classes FROM partitionings "
                     "ORDER BY level",
}


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row a build writes, in a stable order (to compare two builds)."""
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(sa.text(q))] for k, q in SNAPSHOT.items()}


def square(x: float, y: float, size: float, height: float | None = None) -> str:
    h = size if height is None else height
    return f"POLYGON(({x} {y}, {x + size} {y}, {x + size} {y + h}, {x} {y + h}, {x} {y}))"


def polygon_world() -> World:
    """Two districts with polygons in a city with a polygon; a point-only POI."""
    locs = {
        "R1": Loc("R1", 16, 8, "Town", polygon_wkt=square(0, 0, 10)),
        "R2": Loc("R2", 20, 10, "West", polygon_wkt=square(0, 0, 5, 10)),
        "R3": Loc("R3", 20, 10, "East", polygon_wkt=square(5, 0, 5, 10)),
        "N4": Loc("N4", 30, None, "Fountain"),
    }
    rng = random.Random(5)
    imgs = []
    for k in range(40):
        x = rng.uniform(0.1, 4.9) + (5 if k % 2 else 0)
        y = rng.uniform(0.1, 9.9)
        addr = ("R3" if k % 2 else "R2", "R1")
        if k % 5 == 0 and k % 2 == 0:
            addr = ("N4", *addr)
            x, y = 2.0 + rng.uniform(-0.01, 0.01), 2.0 + rng.uniform(-0.01, 0.01)
        imgs.append(Img(f"i{k}", "train" if k < 34 else "test", y, x, addr))
    return World(locs, imgs)


def clustered_points(rng: random.Random, n: int) -> list[tuple[float, float]]:
    centres = [(48.1, 11.6), (40.7, -74.0), (-33.9, 151.2), (35.7, 139.7)]
    pts = []
    for _ in range(n):
        lat, lon = rng.choice(centres)
        spread = rng.choice([0.01, 0.3, 5.0])
        pts.append((max(-89.0, min(89.0, rng.gauss(lat, spread))),
                    (rng.gauss(lon, spread) + 180) % 360 - 180))
    return pts
