"""The classes a model predicts, kept with the model.

A model's head ``k`` predicts the cells of level ``k`` of its partitioning set (level 0
finest); class ``i`` is the cell with ``class_index = i``. Cell ids change whenever a set
is rebuilt, so a model keeps, per level, each class's stable key (OSM key / S2 token),
label and prediction coordinate, and a fingerprint of the keys. A set rebuilt with other
classes has another fingerprint, and is refused by :func:`check_same_classes`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.errors import GeotoolError


@dataclass
class LevelClasses:
    """The classes of one level: arrays indexed by class index."""

    partitioning: str
    keys: list[str]
    labels: list[str]
    lat: np.ndarray  # float64 [n]
    lon: np.ndarray  # float64 [n]
    cell_ids: np.ndarray | None = None  # int64 [n]; None when not read from the database

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class SetClasses:
    """Every level's classes of one partitioning set, fine -> coarse."""

    set_name: str
    levels: list[LevelClasses] = field(default_factory=list)

    @property
    def n_classes(self) -> list[int]:
        return [len(level) for level in self.levels]

    @property
    def fingerprint(self) -> str:
        """SHA-256 over every level's partitioning name and ordered class keys."""
        body = json.dumps([[lv.partitioning, lv.keys] for lv in self.levels])
        return hashlib.sha256(body.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (what a checkpoint stores)."""
        return {"set_name": self.set_name, "fingerprint": self.fingerprint,
                "levels": [{"partitioning": lv.partitioning, "keys": lv.keys,
                            "labels": lv.labels, "lat": lv.lat.tolist(),
                            "lon": lv.lon.tolist()} for lv in self.levels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SetClasses:
        levels = [LevelClasses(lv["partitioning"], list(lv["keys"]), list(lv["labels"]),
                               np.asarray(lv["lat"], dtype=np.float64),
                               np.asarray(lv["lon"], dtype=np.float64))
                  for lv in data["levels"]]
        return cls(data["set_name"], levels)


def read_set_classes(conn: Connection, set_name: str) -> SetClasses:
    """The classes of ``set_name`` as they are in the database now (with cell ids)."""
    rows = sqlfiles.run(conn, "learn/set_classes.sql", set_name=set_name)
    assert rows is not None
    by_level: dict[int, list[Any]] = {}
    names: dict[int, str] = {}
    for row in rows:
        by_level.setdefault(row.level, []).append(row)
        names[row.level] = row.partitioning
    if not by_level:
        raise GeotoolError(
            f"partitioning set {set_name!r} does not exist or has no cells; "
            "`geotool partitions list` shows the sets, `geotool build` makes one."
        )
    levels = []
    for level in sorted(by_level):
        rs = by_level[level]
        if [r.class_index for r in rs] != list(range(len(rs))):
            raise GeotoolError(f"set {set_name!r}, level {level}: class indices are not "
                               "0..n-1; rebuild the set with `geotool build`.")
        levels.append(LevelClasses(
            names[level], [r.key for r in rs], [r.label for r in rs],
            np.array([r.lat for r in rs], dtype=np.float64),
            np.array([r.lon for r in rs], dtype=np.float64),
            np.array([r.cell_id for r in rs], dtype=np.int64),
        ))
    return SetClasses(set_name, levels)


def check_same_classes(model_name: str, kept: SetClasses, current: SetClasses) -> None:
    """Refuse a set whose classes changed since the model was trained."""
    if kept.fingerprint != current.fingerprint:
        raise GeotoolError(
            f"model {model_name!r} was trained on set {kept.set_name!r} with classes "
            f"{kept.n_classes} (fingerprint {kept.fingerprint[:12]}), but the set now has "
            f"classes {current.n_classes} (fingerprint {current.fingerprint[:12]}): it was "
            "rebuilt since. Train a new model on the rebuilt set, or rebuild the set with "
            "the parameters the model was trained on."
        )
