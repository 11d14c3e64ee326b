"""Galleries in PostGIS and their embedding cache: loaders, content hashes, bad input,
and a cache that is hit when nothing changed and missed when the checkpoint or the
gallery did."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from support.point_datasets import add_point_dataset
from support.requires import skip_or_fail
from support.tiny_align_model import TinyAlignModel

from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.learn.align.cache import clear_cache, file_sha256, gallery_embeddings
from geotool.learn.align.gallery import (
    GalleryParams,
    content_hash,
    load_gallery,
    read_coordinates_csv,
    read_gallery,
)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_reader_accepts_geoclip_header_and_reports_bad_rows(tmp_path: Path) -> None:
    coords = read_coordinates_csv(_csv(tmp_path / "a.csv", "LAT,LON\n10.5,20\n-3,170.25\n"))
    np.testing.assert_array_equal(coords, [[10.5, 20.0], [-3.0, 170.25]])
    with pytest.raises(InvalidValueError, match="line 3"):
        read_coordinates_csv(_csv(tmp_path / "b.csv", "lat,lon\n1,2\nx,4\n"))
    with pytest.raises(InvalidValueError, match=r"coordinate 2 \(95.0, 4.0\) is out of range"):
        read_coordinates_csv(_csv(tmp_path / "c.csv", "latitude,longitude\n1,2\n95,4\n"))
    with pytest.raises(InvalidValueError, match="empty"):
        read_coordinates_csv(_csv(tmp_path / "d.csv", "LAT,LON\n"))
    with pytest.raises(InvalidValueError, match="LAT and LON"):
        read_coordinates_csv(_csv(tmp_path / "e.csv", "x,y\n1,2\n"))
    with pytest.raises(MissingInputError):
        read_coordinates_csv(tmp_path / "missing.csv")


def test_installed_geoclip_gallery_reads_100k_points() -> None:
    spec = importlib.util.find_spec("geoclip")  # located, not imported (it needs CLIP)
    if spec is None or not spec.submodule_search_locations:
        skip_or_fail("the geoclip package is not installed (scripts/bootstrap.sh)")
    assert spec is not None and spec.submodule_search_locations
    path = (Path(spec.submodule_search_locations[0]) / "model" / "gps_gallery"
            / "coordinates_100K.csv")
    coords = read_coordinates_csv(path)
    assert coords.shape == (100_000, 2)
    assert np.abs(coords[:, 0]).max() <= 90


def test_content_hash_depends_on_values_and_order() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert content_hash(a) == content_hash(a.copy().astype(np.float32).astype(np.float64))
    assert content_hash(a) != content_hash(a[::-1])
    assert content_hash(a) != content_hash(a + 1e-9)


def test_galleries_from_dataset_csv_with_bad_input(engine: Engine, tmp_path: Path) -> None:
    add_point_dataset(engine, "pts", [(1.0, 2.0), (1.0, 2.0), (-5.0, 7.0), (0.5, 3.0)])
    summary = load_gallery(engine, GalleryParams("pts_train", "dataset", "pts"))
    assert summary.changed and summary.n_points == 3  # distinct, ordered by (lat, lon)
    with engine.connect() as conn:
        g = read_gallery(conn, "pts_train")
        assert conn.execute(sa.text(
            "SELECT count(*) FROM gallery_points WHERE gallery_id = :g AND "
            "ST_X(geom) = lon AND ST_Y(geom) = lat"), {"g": g.id}).scalar() == 3
    np.testing.assert_array_equal(g.coords, [[-5.0, 7.0], [0.5, 3.0], [1.0, 2.0]])
    assert g.content_sha256 == content_hash(g.coords)
    again = load_gallery(engine, GalleryParams("pts_train", "dataset", "pts"))
    assert not again.changed and again.gallery_id == summary.gallery_id

    with pytest.raises(InvalidValueError, match="empty"):
        load_gallery(engine, GalleryParams("pts_val", "dataset", "pts", split="val"))
    with pytest.raises(GeotoolError, match="no dataset named 'nope'"):
        load_gallery(engine, GalleryParams("x", "dataset", "nope"))
    with pytest.raises(GeotoolError, match="no partitioning named 'nope'"):
        load_gallery(engine, GalleryParams("x", "cells", "nope"))
    with pytest.raises(InvalidValueError, match="gallery name"):
        GalleryParams("bad name!", "csv", "f.csv").validate()
    with pytest.raises(InvalidValueError, match="source"):
        GalleryParams("g", "web", "f.csv").validate()
    with pytest.raises(GeotoolError, match="no gallery named 'x'.*pts_train"), \
            engine.connect() as conn:
        read_gallery(conn, "x")
    # a failed load leaves nothing behind
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM galleries")).scalar() == 1


class CountingEncoder:
    """A tiny model's GPS encoder that counts the coordinates it encodes."""

    def __init__(self, model: TinyAlignModel) -> None:
        self.model = model
        self.encoded = 0

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        self.encoded += len(coords)
        with torch.no_grad():
            out: np.ndarray = self.model.encode_gps(torch.from_numpy(coords).float()).numpy()
            return out


def test_cache_hit_then_invalidated_by_checkpoint_or_gallery(engine: Engine,
                                                            tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    coords = np.column_stack([rng.uniform(-80, 80, 9000), rng.uniform(-179, 179, 9000)])
    path = tmp_path / "g.csv"
    np.savetxt(path, coords, delimiter=",", header="LAT,LON", comments="", fmt="%.6f")
    load_gallery(engine, GalleryParams("g", "csv", str(path)))
    model = TinyAlignModel(seed=1)
    ckpt = tmp_path / "m.pt"
    torch.save(model.state_dict(), ckpt)
    encoder = CountingEncoder(model)
    with engine.connect() as conn:
        gallery = read_gallery(conn, "g")

    first = gallery_embeddings(engine, gallery, file_sha256(ckpt), encoder, model_id=None)
    assert not first.hit and encoder.encoded == 9000
    second = gallery_embeddings(engine, gallery, file_sha256(ckpt), encoder)
    assert second.hit and encoder.encoded == 9000  # nothing encoded again
    np.testing.assert_array_equal(second.embeddings, first.embeddings)  # bit-exact
    assert second.embeddings.shape == (9000, 16)  # two chunks of 8,192 rows

    # the checkpoint's content changes: another key, encoded again
    with torch.no_grad():
        model.gps.bias.add_(0.1)
    torch.save(model.state_dict(), ckpt)
    third = gallery_embeddings(engine, gallery, file_sha256(ckpt), encoder)
    assert not third.hit and encoder.encoded == 18_000
    assert not np.allclose(third.embeddings, first.embeddings)

    # the gallery's content changes: its old embeddings are deleted, the new ones missed
    np.savetxt(path, coords[:100], delimiter=",", header="LAT,LON", comments="", fmt="%.6f")
    assert load_gallery(engine, GalleryParams("g", "csv", str(path))).changed
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM gallery_embedding_sets")
                            ).scalar() == 0
        gallery = read_gallery(conn, "g")
    fourth = gallery_embeddings(engine, gallery, file_sha256(ckpt), encoder)
    assert not fourth.hit and encoder.encoded == 18_100
    np.testing.assert_allclose(fourth.embeddings, third.embeddings[:100], atol=1e-6)
    assert clear_cache(engine, "g") == 1
    assert not gallery_embeddings(engine, gallery, file_sha256(ckpt), encoder).hit
