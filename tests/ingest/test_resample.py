"""``geotool resample``: a seeded draw with jitter from real coordinates (GeoCLIP's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.geonames_data import geoclip_coordinates

from geotool.errors import InvalidValueError
from geotool.ingest.resample import KM_PER_DEGREE, ResampleParams, jitter, resample


def _source(tmp_path: Path, n: int = 1000) -> Path:
    lines = geoclip_coordinates().read_text().splitlines()[: n + 1]
    path = tmp_path / "source.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _read(path: Path) -> tuple[list[str], np.ndarray]:
    rows = [ln.split(",") for ln in path.read_text().splitlines()[1:]]
    return [r[0] for r in rows], np.array([[float(r[1]), float(r[2])] for r in rows])


def _km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Haversine km between every row of a and every row of b."""
    la, lb = np.radians(a[:, None, 0]), np.radians(b[None, :, 0])
    dlon = np.radians(b[None, :, 1] - a[:, None, 1])
    h = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin(dlon / 2) ** 2
    return 2 * KM_PER_DEGREE * 180 / np.pi * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def test_seeded_draw_near_the_source(tmp_path: Path) -> None:
    source = _source(tmp_path)
    src = np.array(
        [[float(x) for x in ln.split(",")] for ln in source.read_text().splitlines()[1:]])
    a = resample(ResampleParams(source, tmp_path / "a.csv", n=300, jitter_km=1.0, seed=3))
    resample(ResampleParams(source, tmp_path / "b.csv", n=300, jitter_km=1.0, seed=3))
    c = resample(ResampleParams(source, tmp_path / "c.csv", n=300, jitter_km=1.0, seed=4))
    assert (a.source_points, a.written) == (1000, 300)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    ids, drawn = _read(tmp_path / "a.csv")
    assert ids == [f"r{k}" for k in range(1, 301)] and c.written == 300
    nearest = _km(drawn, src).min(axis=1)
    # east/north offsets N(0, 1 km): the distance is Rayleigh(1 km); 6 km is 1e-8 rare
    assert nearest.max() < 6.0 and 0.8 < float(np.median(nearest)) < 1.6
    assert not (tmp_path / "a.csv.part").exists()


def test_no_jitter_repeats_source_points(tmp_path: Path) -> None:
    source = _source(tmp_path, 50)
    resample(ResampleParams(source, tmp_path / "z.csv", n=100, jitter_km=0.0))
    src = {tuple(round(float(x), 6) for x in ln.split(","))
           for ln in source.read_text().splitlines()[1:]}
    assert {tuple(p) for p in _read(tmp_path / "z.csv")[1].round(6).tolist()} <= src


def test_jitter_stays_on_the_globe() -> None:
    rng = np.random.default_rng(0)
    pts = np.array([[89.999, 10.0], [-89.999, -179.99], [0.0, 179.999]] * 100)
    out = jitter(pts, rng, 50.0)
    assert (np.abs(out[:, 0]) <= 90).all() and (out[:, 1] >= -180).all() \
        and (out[:, 1] < 180).all()


def test_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="--n must be at least 1"):
        resample(ResampleParams(_source(tmp_path, 5), tmp_path / "x.csv", n=0))
    with pytest.raises(InvalidValueError, match="--jitter-km"):
        ResampleParams(_source(tmp_path, 5), tmp_path / "y.csv", n=5, jitter_km=-1).validate()
