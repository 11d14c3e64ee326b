"""Drawing an N-photo dataset from a distribution of real coordinates (``geotool resample``).

Why: the paper's MP-16 has 4.7 M photos, but the real photo coordinates that can be
shipped offline are fewer (GeoCLIP's 100,000 in ``coordinates_100K.csv``). To time the
data half at MP-16 scale on realistic density, ``resample`` draws N coordinates from a
source file: each draw picks a source coordinate uniformly at random (with replacement)
and moves it by a small random offset — east and north independently normal with
standard deviation ``jitter_km`` (default 1 km), converted to degrees at that latitude
(latitudes reflected at the poles, longitudes wrapped). The result keeps the source's
density at every scale above ``jitter_km`` and has no exact duplicates, as real photo
collections mostly do not. It is a seeded draw: the same source, N, jitter and seed give
the same file (numpy's PCG64). Output: a plain ``id,lat,lon`` CSV (ids ``r1`` … ``rN``)
for ``geotool ingest``.

Jittered points near coasts can fall in the sea; the geocoder records them unplaceable,
as it does real photos taken from boats.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotool.errors import InvalidValueError, MissingInputError
from geotool.ingest.readers import open_reader
from geotool.progress import NO_PROGRESS, Progress

KM_PER_DEGREE = 6371.0088 * math.pi / 180.0
CHUNK = 500_000


@dataclass(frozen=True)
class ResampleParams:
    """What ``resample`` draws: ``n`` coordinates of ``source`` (read as
    ``source_format``, as ``geotool ingest`` reads it), moved by offsets of ``jitter_km``,
    with ``seed``, written to ``out``."""

    source: Path | str
    out: Path | str
    n: int
    jitter_km: float = 1.0
    seed: int = 0
    source_format: str = "auto"

    def validate(self) -> None:
        if not Path(self.source).is_file():
            raise MissingInputError(f"{self.source} does not exist")
        if self.n < 1:
            raise InvalidValueError(f"--n must be at least 1, not {self.n}")
        if not 0 <= self.jitter_km <= 1000:
            raise InvalidValueError(
                f"--jitter-km must be between 0 and 1000, not {self.jitter_km}")
        if self.seed < 0:
            raise InvalidValueError(f"--seed must be a non-negative integer, not {self.seed}")


@dataclass(frozen=True)
class ResampleSummary:
    """What ``resample`` wrote."""

    source: str
    out: str
    source_points: int
    written: int


def read_coordinates(path: Path | str, fmt: str = "auto") -> np.ndarray:
    """The (lat, lon) of every valid row of an ingest-readable file, as an (n, 2) array
    (rows with unreadable or out-of-range coordinates are left out)."""
    lats: list[float] = []
    lons: list[float] = []
    with open_reader(path, fmt) as reader:
        for row in reader.rows():
            try:
                lat, lon = float(row.lat), float(row.lon)
            except (TypeError, ValueError):
                continue
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                lats.append(lat)
                lons.append(lon)
    return np.column_stack([np.asarray(lats, dtype=np.float64),
                            np.asarray(lons, dtype=np.float64)])


def jitter(points: np.ndarray, rng: np.random.Generator, jitter_km: float) -> np.ndarray:
    """``points`` (n, 2 as lat, lon) moved by normal east/north offsets of ``jitter_km``."""
    lat, lon = points[:, 0], points[:, 1]
    north = rng.normal(0.0, jitter_km, len(points)) / KM_PER_DEGREE
    east = rng.normal(0.0, jitter_km, len(points)) / KM_PER_DEGREE
    coslat = np.maximum(np.cos(np.radians(lat)), 1e-6)
    new_lat = lat + north
    new_lon = lon + east / coslat
    over = new_lat > 90
    under = new_lat < -90
    new_lat = np.where(over, 180 - new_lat, np.where(under, -180 - new_lat, new_lat))
    new_lon = np.where(over | under, new_lon + 180, new_lon)
    new_lon = (new_lon + 180.0) % 360.0 - 180.0
    return np.column_stack([new_lat, new_lon])


def resample(params: ResampleParams, *, progress: Progress = NO_PROGRESS
             ) -> ResampleSummary:
    """Write ``params.n`` jittered draws of the source's coordinates to ``params.out``
    (CSV ``id,lat,lon``; written under ``<out>.part`` and renamed when complete)."""
    params.validate()
    source, out = Path(params.source), Path(params.out)
    points = read_coordinates(source, params.source_format)
    if len(points) == 0:
        raise InvalidValueError(f"{source} holds no valid coordinates to draw from")
    rng = np.random.default_rng(params.seed)
    part = out.with_name(out.name + ".part")
    progress.phase("drawing coordinates", params.n)
    written = 0
    with part.open("w", encoding="utf-8", newline="") as fh:
        fh.write("id,lat,lon\n")
        while written < params.n:
            k = min(CHUNK, params.n - written)
            picked = points[rng.integers(0, len(points), k)]
            drawn = jitter(picked, rng, params.jitter_km) if params.jitter_km else picked
            ids = np.arange(written + 1, written + k + 1)
            fh.write("".join(f"r{i},{la:.6f},{lo:.6f}\n"
                             for i, la, lo in zip(ids.tolist(), drawn[:, 0].tolist(),
                                                  drawn[:, 1].tolist(), strict=True)))
            written += k
            progress.advance(k)
    os.replace(part, out)
    return ResampleSummary(str(source), str(out), len(points), written)
