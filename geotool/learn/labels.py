"""Training examples as compact arrays, read once per run from the set's labels.

A run reads ``geotool_labels(set, split)`` (joined with the shard index) once into
NumPy arrays — image id, coordinate, class index per level (-1 = unlabelled at that
level) and where the pixels are — so loading an item never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Connection

from geotool.db import sqlfiles
from geotool.errors import GeotoolError


@dataclass
class ImageSource:
    """Where an image's bytes are: a file, or a record of a msgpack shard."""

    path: str | None
    shard_path: str | None = None
    offset: int = 0
    length: int = 0


@dataclass
class LabelArrays:
    """The examples of one split: row i is one image."""

    image_ids: np.ndarray  # int64 [n]
    lat: np.ndarray  # float64 [n]
    lon: np.ndarray  # float64 [n]
    classes: np.ndarray  # int64 [n, levels], -1 = unlabelled
    sources: list[ImageSource]

    def __len__(self) -> int:
        return len(self.image_ids)

    def head(self, n: int) -> LabelArrays:
        """The first ``n`` examples (by image id)."""
        return LabelArrays(self.image_ids[:n], self.lat[:n], self.lon[:n],
                           self.classes[:n], self.sources[:n])


def read_label_arrays(conn: Connection, set_name: str, split: str,
                      n_levels: int) -> LabelArrays:
    """The labelled images of ``split`` in set ``set_name``."""
    rows = sqlfiles.run(conn, "learn/labels.sql", set_name=set_name, split=split)
    assert rows is not None
    ids: list[int] = []
    lat: list[float] = []
    lon: list[float] = []
    classes: list[list[int]] = []
    sources: list[ImageSource] = []
    for row in rows:
        if row.path is None and row.shard_path is None:
            sources.append(ImageSource(None))
        else:
            sources.append(ImageSource(row.path, row.shard_path, int(row.byte_offset or 0),
                                       int(row.length or 0)))
        ids.append(int(row.image_id))
        lat.append(float(row.lat))
        lon.append(float(row.lon))
        levels = [-1 if c is None else int(c) for c in row.classes]
        if len(levels) != n_levels:
            raise GeotoolError(f"set {set_name!r}: an image has {len(levels)} levels of "
                               f"labels, the set's classes have {n_levels}; rebuild the set")
        classes.append(levels)
    return LabelArrays(np.asarray(ids, dtype=np.int64), np.asarray(lat, dtype=np.float64),
                       np.asarray(lon, dtype=np.float64),
                       np.asarray(classes, dtype=np.int64).reshape(len(ids), n_levels),
                       sources)
