"""GPS galleries: the candidate coordinates an alignment model answers from, in PostGIS.

An alignment model (GeoCLIP-style) answers with the gallery coordinate whose GPS
embedding is most similar to the photo's image embedding. A gallery is a named row of
``galleries`` with its points in ``gallery_points`` (migration 0014), loaded from one of
three sources:

- ``dataset``: the distinct coordinates of a dataset's photos of one split (its training
  coordinates by default), ordered by (lat, lon);
- ``csv``: a file with a ``LAT,LON`` header (GeoCLIP's ``coordinates_100K.csv``; the
  headers ``lat``/``lon``/``latitude``/``longitude`` in any case are accepted), in file
  order;
- ``cells``: a partitioning's cell centres (the classes' mean coordinates), in class
  order.

Each gallery keeps the SHA-256 of its coordinates in order (:func:`content_hash`): the
gallery half of the embedding cache's key (:mod:`geotool.learn.align.cache`). Loading a
gallery again under the same name replaces its points only when the content changed.
This module needs no PyTorch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geotool.db import datasets, sqlfiles
from geotool.db.copy import copy_rows
from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.progress import NO_PROGRESS, Progress

SOURCES = ("dataset", "csv", "cells")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
LAT_HEADERS = ("lat", "latitude")
LON_HEADERS = ("lon", "lng", "longitude")


@dataclass(frozen=True)
class GalleryParams:
    """What ``geotool gallery load`` is asked for: a gallery ``name``, its ``source``
    (dataset | csv | cells) and ``ref`` (the dataset's name, the CSV's path, or the
    partitioning's name); ``split`` picks the dataset's photos (``all``: every split)."""

    name: str
    source: str
    ref: str
    split: str = "train"

    def validate(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise InvalidValueError(
                f"gallery name {self.name!r}: use letters, digits, '_', '.' or '-' "
                "(at most 63 characters), e.g. mp16_train or geoclip_100k")
        if self.source not in SOURCES:
            raise InvalidValueError(f"gallery source {self.source!r}: choose one of "
                                    f"{', '.join(SOURCES)}")
        if not self.ref:
            raise InvalidValueError(f"gallery {self.name!r}: name the {self.source} to read")
        if self.source == "dataset" and self.split not in ("train", "val", "test", "all"):
            raise InvalidValueError(f"--split {self.split!r}: choose train, val, test or all")


@dataclass
class GallerySummary:
    """What :func:`load_gallery` did: the gallery, its size and hash, and whether its
    points were (re)written (``changed``) or already held this content."""

    name: str
    gallery_id: int
    source: str
    ref: str
    n_points: int
    content_sha256: str
    changed: bool


@dataclass
class Gallery:
    """A gallery read back: its row and its coordinates ``[N, 2]`` (lat, lon; float64)
    in ``idx`` order."""

    id: int
    name: str
    source: str
    ref: str
    content_sha256: str
    coords: np.ndarray

    @property
    def n_points(self) -> int:
        return int(self.coords.shape[0])


def content_hash(coords: np.ndarray) -> str:
    """SHA-256 of the coordinates in order, as little-endian float64 pairs."""
    data = np.ascontiguousarray(np.asarray(coords, dtype="<f8").reshape(-1, 2))
    return hashlib.sha256(data.tobytes()).hexdigest()


def check_coordinates(coords: np.ndarray, what: str) -> np.ndarray:
    """``coords`` as a float64 ``[N, 2]`` array, or a one-line error naming ``what`` and
    the first bad row: empty, not finite, or out of range (|lat| ≤ 90, |lon| ≤ 180)."""
    arr = np.asarray(coords, dtype=np.float64)
    if arr.size == 0:
        raise InvalidValueError(f"{what}: the gallery would be empty; give at least one "
                                "coordinate")
    arr = arr.reshape(-1, 2)
    bad = ~np.isfinite(arr).all(axis=1) | (np.abs(arr[:, 0]) > 90) | (np.abs(arr[:, 1]) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidValueError(
            f"{what}: coordinate {i + 1} ({arr[i, 0]}, {arr[i, 1]}) is out of range "
            f"({int(bad.sum())} bad in all); latitude must be within ±90 and longitude "
            "within ±180 (are the columns swapped?)")
    return arr


def read_coordinates_csv(path: Path | str) -> np.ndarray:
    """The ``LAT,LON`` rows of a CSV file as ``[N, 2]`` float64, checked."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"gallery CSV {path} does not exist")
    rows: list[tuple[float, float]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        lat_col = next((header.index(h) for h in LAT_HEADERS if h in header), None)
        lon_col = next((header.index(h) for h in LON_HEADERS if h in header), None)
        if lat_col is None or lon_col is None:
            raise InvalidValueError(
                f"gallery CSV {path}: the first line must name the columns LAT and LON "
                f"(found {', '.join(header) or 'nothing'})")
        for line_no, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            try:
                rows.append((float(row[lat_col]), float(row[lon_col])))
            except (ValueError, IndexError):
                raise InvalidValueError(
                    f"gallery CSV {path}, line {line_no}: {','.join(row)!r} is not a "
                    "LAT,LON pair of numbers") from None
    return check_coordinates(np.asarray(rows, dtype=np.float64), f"gallery CSV {path}")


def _pairs(arrays: Any) -> np.ndarray:
    """``[N, 2]`` from a row of two float8 arrays (lat, lon): coordinates are read as two
    arrays in one row, since 100k Row objects turned into an array cost ~10 s."""
    lats, lons = arrays
    return np.column_stack([np.asarray(lats, dtype=np.float64),
                            np.asarray(lons, dtype=np.float64)]).reshape(-1, 2)


def _dataset_coordinates(conn: Connection, params: GalleryParams) -> np.ndarray:
    ds = datasets.dataset_id(conn, params.ref)
    split = None if params.split == "all" else params.split
    return _pairs(conn.execute(sa.text(
        "SELECT coalesce(array_agg(lat ORDER BY lat, lon), '{}'), "
        "coalesce(array_agg(lon ORDER BY lat, lon), '{}') FROM (SELECT DISTINCT lat, lon "
        "FROM images WHERE dataset_id = :ds AND (CAST(:split AS text) IS NULL OR "
        "split = :split)) d"), {"ds": ds, "split": split}).one())


def _cell_coordinates(conn: Connection, partitioning: str) -> np.ndarray:
    pid = conn.execute(sa.text("SELECT id FROM partitionings WHERE name = :n"),
                       {"n": partitioning}).scalar()
    if pid is None:
        known = [r[0] for r in conn.execute(sa.text(
            "SELECT name FROM partitionings ORDER BY name LIMIT 20"))]
        raise GeotoolError(f"no partitioning named {partitioning!r} (known: "
                           f"{', '.join(known) or 'none; `geotool build` makes one'})")
    return _pairs(conn.execute(sa.text(
        "SELECT coalesce(array_agg(lat ORDER BY class_index), '{}'), "
        "coalesce(array_agg(lon ORDER BY class_index), '{}') FROM cells "
        "WHERE partitioning_id = :p"), {"p": pid}).one())


def source_coordinates(conn: Connection, params: GalleryParams) -> np.ndarray:
    """The coordinates ``params`` names, checked (empty or out of range: an error)."""
    if params.source == "csv":
        return read_coordinates_csv(params.ref)
    if params.source == "dataset":
        coords = _dataset_coordinates(conn, params)
        what = f"dataset {params.ref!r} (split {params.split})"
    else:
        coords = _cell_coordinates(conn, params.ref)
        what = f"partitioning {params.ref!r}"
    return check_coordinates(coords, what)


def load_gallery(engine: Engine, params: GalleryParams, *,
                 progress: Progress = NO_PROGRESS) -> GallerySummary:
    """Create or refresh gallery ``params.name`` from its source (see the module
    docstring); points are rewritten only when their content hash changed, and cached
    embeddings no gallery uses any more are deleted."""
    params.validate()
    with engine.begin() as conn:
        coords = source_coordinates(conn, params)
        sha = content_hash(coords)
        ref = str(Path(params.ref).resolve()) if params.source == "csv" else params.ref
        old = conn.execute(sa.text(
            "SELECT id, content_sha256 FROM galleries WHERE name = :n FOR UPDATE"),
            {"n": params.name}).first()
        meta = json.dumps({"split": params.split} if params.source == "dataset" else {})
        if old is not None and old.content_sha256 == sha:
            conn.execute(sa.text("UPDATE galleries SET source = :s, source_ref = :r, "
                                 "params = CAST(:p AS jsonb) WHERE id = :id"),
                         {"s": params.source, "r": ref, "p": meta, "id": old.id})
            return GallerySummary(params.name, int(old.id), params.source, ref, len(coords),
                                  sha, changed=False)
        if old is None:
            gallery_id = int(conn.execute(sa.text(
                "INSERT INTO galleries (name, source, source_ref, content_sha256, n_points, "
                "params) VALUES (:n, :s, :r, :h, :k, CAST(:p AS jsonb)) RETURNING id"),
                {"n": params.name, "s": params.source, "r": ref, "h": sha, "k": len(coords),
                 "p": meta}).scalar_one())
        else:
            gallery_id = int(old.id)
            conn.execute(sa.text("DELETE FROM gallery_points WHERE gallery_id = :g"),
                         {"g": gallery_id})
            conn.execute(sa.text(
                "UPDATE galleries SET source = :s, source_ref = :r, content_sha256 = :h, "
                "n_points = :k, params = CAST(:p AS jsonb) WHERE id = :id"),
                {"s": params.source, "r": ref, "h": sha, "k": len(coords), "p": meta,
                 "id": gallery_id})
        progress.phase("gallery points", len(coords))
        copy_rows(conn, "gallery_points", ("gallery_id", "idx", "lat", "lon"),
                  ((gallery_id, i, float(lat), float(lon))
                   for i, (lat, lon) in enumerate(coords.tolist())),
                  ("int4", "int4", "float8", "float8"))
        progress.advance(len(coords))
        sqlfiles.run(conn, "learn/align_gallery_cache_orphans.sql")
    return GallerySummary(params.name, gallery_id, params.source, ref, len(coords), sha,
                          changed=True)


def read_gallery(conn: Connection, name: str) -> Gallery:
    """Gallery ``name`` with its coordinates, or an error listing the known ones."""
    row = conn.execute(sa.text(
        "SELECT id, name, source, source_ref, content_sha256, n_points FROM galleries "
        "WHERE name = :n"), {"n": name}).first()
    if row is None:
        known = [r[0] for r in conn.execute(sa.text("SELECT name FROM galleries ORDER BY name"))]
        raise GeotoolError(
            f"no gallery named {name!r} (known: {', '.join(known) or 'none'}); make one "
            f"with `geotool gallery load --name {name} --csv FILE` (or --dataset/--cells)")
    coords = _pairs(conn.execute(sa.text(
        "SELECT coalesce(array_agg(lat ORDER BY idx), '{}'), "
        "coalesce(array_agg(lon ORDER BY idx), '{}') FROM gallery_points WHERE gallery_id = :g"),
        {"g": row.id}).one())
    if len(coords) != row.n_points or len(coords) == 0:
        raise GeotoolError(f"gallery {name!r} holds {len(coords)} points, expected "
                           f"{row.n_points}; load it again with `geotool gallery load`")
    return Gallery(int(row.id), str(row.name), str(row.source), str(row.source_ref),
                   str(row.content_sha256), coords)


def list_galleries(engine: Engine) -> list[dict[str, object]]:
    """Every gallery with its size, source and how many cached embedding sets it has."""
    with engine.connect() as conn:
        result = sqlfiles.run(conn, "learn/align_gallery_list.sql")
        assert result is not None
        return [dict(r) for r in result.mappings()]

