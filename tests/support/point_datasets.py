"""Test helper: a dataset of training images at given points, written in one transaction.

Geocoding and partitioning tests start from "these coordinates as dataset N"; this is the
one place that writes them (external ids ``<prefix><k>`` in point order).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def add_point_dataset(engine: Engine, name: str, points: list[tuple[float, float]],
                      id_prefix: str = "") -> int:
    """Create dataset ``name`` with one train image per ``(lat, lon)``; returns its id."""
    with engine.begin() as conn:
        ds = conn.execute(sa.text("INSERT INTO datasets (name) VALUES (:n) RETURNING id"),
                          {"n": name}).scalar_one()
        if points:
            conn.execute(sa.text(
                "INSERT INTO images (dataset_id, external_id, split, lat, lon) "
                "VALUES (:d, :e, 'train', :lat, :lon)"),
                [{"d": ds, "e": f"{id_prefix}{k}", "lat": lat, "lon": lon}
                 for k, (lat, lon) in enumerate(points)])
    return int(ds)
