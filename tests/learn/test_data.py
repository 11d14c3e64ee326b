"""Training data and starting weights: bad images, msgpack shards, --weights, rebuilt sets.

Runs on the tiny planet of tests/learn_planet.py (its own database per module).
"""

from __future__ import annotations

import io
from pathlib import Path

import msgpack
import numpy as np
import pytest
import sqlalchemy as sa
import torch
import torchvision
from PIL import Image
from sqlalchemy.engine import Engine
from support.learn_planet import planet_database, small

from geotool.errors import GeotoolError
from geotool.ingest.shards import ShardParams, ingest_shards, write_shard
from geotool.learn.checkpoint import read_checkpoint
from geotool.learn.classes import read_set_classes
from geotool.learn.data import LabelledImages, TransformSpec, decode_image
from geotool.learn.labels import read_label_arrays
from geotool.learn.lookup import load_model_by_name
from geotool.learn.model import GeoClassifier
from geotool.learn.train import TrainParams, train
from geotool.learn.weights import load_weights_file
from geotool.partition.build import BuildParams, build_partitioning
from geotool.progress import RecordingProgress

planet = pytest.fixture(scope="module")(planet_database)


def _train_images(engine: Engine, n: int) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [(int(r[0]), str(r[1])) for r in conn.execute(sa.text(
            "SELECT g.image_id, g.path FROM geotool_labels('tiny', 'train') g "
            "ORDER BY g.image_id LIMIT :n"), {"n": n})]


def test_corrupt_and_missing_images_are_skipped_and_recorded(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    _, engine, _ = planet
    (corrupt_id, corrupt_path), (missing_id, missing_path) = _train_images(engine, 2)
    garbage = tmp_path / "corrupt.jpg"
    garbage.write_bytes(b"not an image at all")  # Pillow: "cannot identify <BytesIO>"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE images SET path = :p WHERE id = :i"),
                     [{"p": str(garbage), "i": corrupt_id},
                      {"p": str(tmp_path / "gone.jpg"), "i": missing_id}])
    try:
        progress = RecordingProgress()
        result = train(engine, TrainParams(small(tmp_path / "a", name="bad_ok", epochs=2,
                                                 max_bad_share=0.05)), progress=progress)
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text(
                "SELECT image_id, reason FROM bad_images WHERE run_id = :r"),
                {"r": result.run_id}).all())
        assert set(rows) == {corrupt_id, missing_id}
        # the reason names the file, never Pillow's "<_io.BytesIO object at 0x...>"
        assert rows[corrupt_id].startswith(f"{garbage}: cannot decode: not an image")
        assert "BytesIO" not in rows[corrupt_id]
        assert rows[missing_id] == f"missing file {tmp_path / 'gone.jpg'}"
        # drawn once per epoch, yet counted and reported once each (was: 90 skips
        # reported for 4 images)
        assert result.bad_images == 2
        skipped = [m for m in progress.messages if m.startswith("skipped image")]
        assert sorted(skipped) == sorted(f"skipped image {i}: {rows[i]}" for i in rows)
        with pytest.raises(GeotoolError, match=r"images read so far are missing or damaged.*"
                                               r"bad_images table"):
            train(engine, TrainParams(small(tmp_path / "b", name="bad_stop", epochs=3,
                                max_bad_share=0.001)))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE images SET path = :p WHERE id = :i"),
                         [{"p": corrupt_path, "i": corrupt_id},
                          {"p": missing_path, "i": missing_id}])


def test_shards_in_geoestimation_format_are_indexed_and_read(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    _, engine, _ = planet
    with engine.connect() as conn:
        images = conn.execute(sa.text(
            "SELECT external_id, path FROM images ORDER BY id")).all()
    shard_dir = tmp_path / "shards"
    shard_dir.mkdir()
    records = [(ext, Path(path).read_bytes()) for ext, path in images]
    half = len(records) // 2
    write_shard(shard_dir / "shard_0.msg", records[:half] + [("stranger_1", b"x")])
    write_shard(shard_dir / "shard_1.msg",
                records[half:] + [("stranger_2", b"y"), ("stranger_3", b"z")])
    (shard_dir / "notes.txt").write_text("not a shard")
    try:
        summary = ingest_shards(engine, ShardParams(shard_dir, "tiny"))
        assert (summary.shards, summary.records, summary.indexed) == (
            2, len(records) + 3, len(records))
        assert summary.unknown_ids == 3
        assert summary.unknown_examples == ["stranger_1", "stranger_2", "stranger_3"]
        again = ingest_shards(engine, ShardParams(shard_dir, "tiny"))  # idempotent
        assert again.indexed == len(records)
        # independent check of every offset: stream the shard with msgpack, as the
        # reference code did, and compare with the files
        by_id = dict(records)
        with engine.connect() as conn:
            index = conn.execute(sa.text(
                "SELECT i.external_id, s.shard_path, s.byte_offset, s.length "
                "FROM shard_index s JOIN images i ON i.id = s.image_id")).all()
        assert len(index) == len(records)
        for shard in ("shard_0.msg", "shard_1.msg"):
            data = (shard_dir / shard).read_bytes()
            unpacker = msgpack.Unpacker(io.BytesIO(data), raw=True)
            streamed = {r[b"id"].decode(): r[b"image"] for r in unpacker}
            for ext, path, offset, length in index:
                if path.endswith(shard):
                    rec = msgpack.unpackb(data[offset:offset + length], raw=True)
                    assert rec[b"image"] == streamed[ext] == by_id[ext]
        # training reads from the shards: same pixels as from the files
        with engine.connect() as conn:
            n_levels = len(read_set_classes(conn, "tiny").levels)
            labels = read_label_arrays(conn, "tiny", "val", n_levels)
        assert all(s.shard_path is not None for s in labels.sources)
        spec = TransformSpec(32, False, 37)
        from_shards = LabelledImages(labels, spec)
        for row in range(5):
            img, _, _, reason, _ = from_shards[(row, 0)]
            assert reason is None and img is not None
            file_img = decode_image(Path(labels.sources[row].path or "").read_bytes(), 37)
            from geotool.learn.data import transform_image

            assert torch.equal(img, transform_image(file_img, spec, None))
        result = train(engine, TrainParams(small(tmp_path, name="from_shards", epochs=1)))
        assert result.bad_images == 0 and result.steps == 10
        with pytest.raises(GeotoolError, match="no shard_<i>.msg"):
            ingest_shards(engine, ShardParams(tmp_path, "tiny"))
        with pytest.raises(GeotoolError, match="no dataset named 'nope'"):
            ingest_shards(engine, ShardParams(shard_dir, "nope"))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM shard_index"))


def test_draft_decode_reduces_large_jpegs_only_as_far_as_needed() -> None:
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    for need, short in ((100, 120), (200, 240), (241, 480), (60, 60)):
        img = decode_image(buf.getvalue(), need)
        assert img.height == short and img.width == short * 4 // 3, need
        assert img.height >= need
    assert decode_image(buf.getvalue(), 100, draft=False).size == (640, 480)


def test_weights_from_torchvision_and_from_geotool_checkpoints(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    _, engine, _ = planet
    with engine.connect() as conn:
        classes = read_set_classes(conn, "tiny")
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None)
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    model = GeoClassifier("resnet18", classes.n_classes)
    heads_before = [h.weight.clone() for h in model.heads]
    note = load_weights_file(model, tmp_path / "r18.pth", classes)
    assert "heads start fresh" in note
    for key, value in tv.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.backbone.state_dict()[key], value), key
    assert all(torch.equal(a, h.weight) for a, h in zip(heads_before, model.heads, strict=True))
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pth")
    with pytest.raises(GeotoolError, match=r"does not fit backbone resnet18: unexpected "
                                           r"layer1\.2\."):
        load_weights_file(GeoClassifier("resnet18", classes.n_classes),
                          tmp_path / "r34.pth", classes)

    # a geotool checkpoint: backbone and heads when the classes are the same …
    first = train(engine, TrainParams(small(tmp_path / "w", name="w_src", epochs=1)))
    assert first.best_checkpoint is not None
    src = read_checkpoint(first.best_checkpoint)["model"]
    same = GeoClassifier("small_cnn", classes.n_classes)
    note = load_weights_file(same, first.best_checkpoint, classes)
    assert "heads from" in note
    for key, value in same.state_dict().items():
        assert torch.equal(value, src[key]), key
    # … the backbone only when they differ (another set of the same images)
    build_partitioning(engine, BuildParams(name="tiny_other", dataset="tiny", taus=(15, 40)))
    with engine.connect() as conn:
        other = read_set_classes(conn, "tiny_other")
    fresh = GeoClassifier("small_cnn", other.n_classes)
    note = load_weights_file(fresh, first.best_checkpoint, other)
    assert "heads start fresh" in note and "differ" in note
    assert torch.equal(fresh.backbone.state_dict()["features.0.weight"],
                       src["backbone.features.0.weight"])
    result = train(engine, TrainParams(small(tmp_path / "w2", name="w_dst", partitions="tiny_other",
                                 weights=str(first.best_checkpoint), max_steps=1, epochs=1)))
    assert "heads start fresh" in result.weights_note
    with pytest.raises(GeotoolError, match="holds a small_cnn model"):
        load_weights_file(GeoClassifier("resnet18", classes.n_classes),
                          first.best_checkpoint, classes)


def test_a_rebuilt_set_keeps_the_models_classes_and_is_refused(
        planet: tuple[str, Engine, Path], tmp_path: Path) -> None:
    _, engine, _ = planet
    build_partitioning(engine, BuildParams(name="tiny_rb", dataset="tiny", taus=(10, 20)))
    train(engine, TrainParams(small(tmp_path, name="rb", partitions="tiny_rb", epochs=1)))
    # same parameters: new cell ids, same classes — the model still loads
    build_partitioning(engine, BuildParams(name="tiny_rb", dataset="tiny", taus=(10, 20)))
    assert load_model_by_name(engine, "rb").classes.set_name == "tiny_rb"
    build_partitioning(engine, BuildParams(name="tiny_rb", dataset="tiny", taus=(12, 40)))
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT set_id, set_name, classes IS NOT NULL FROM models WHERE name = 'rb'")).one()
    assert row == (None, "tiny_rb", True)
    with pytest.raises(GeotoolError, match="rebuilt since"):
        load_model_by_name(engine, "rb")
    with pytest.raises(GeotoolError, match="rebuilt since"):
        train(engine, TrainParams(small(tmp_path, name="rb", partitions="tiny_rb"), resume=True))
    with pytest.raises(GeotoolError, match="no model named 'nobody'"):
        load_model_by_name(engine, "nobody")


def test_decoding_on_the_device_matches_pillow(planet: tuple[str, Engine, Path],
                                               tmp_path: Path) -> None:
    """torchvision.io.decode_jpeg on the training device (here the CPU; nvJPEG on CUDA)
    gives the validation crops Pillow gives, up to the two resamplers' differences."""
    from geotool.learn.data import EpochBatches, ValBatches, batch_pixels, collate

    _, engine, _ = planet
    with engine.connect() as conn:
        n_levels = len(read_set_classes(conn, "tiny").levels)
        labels = read_label_arrays(conn, "tiny", "val", n_levels)
    spec = TransformSpec(24, False, 28, draft=False)
    keys = next(iter(ValBatches(len(labels), 16)))
    on_cpu = collate([LabelledImages(labels, spec)[k] for k in keys])
    on_device = batch_pixels(collate([LabelledImages(labels, spec, encoded=True)[k]
                                      for k in keys]), 24, torch.device("cpu"))
    assert torch.equal(on_cpu.rows, on_device.rows)
    diff = (on_cpu.images.float() - on_device.images.float()).abs()
    assert diff.mean() < 4.0, float(diff.mean())  # of 255
    # train crops: the same plan (box and flip) from the same per-item seed
    train_spec = TransformSpec(24, True, 28, draft=False)
    keys = next(iter(EpochBatches(len(labels), 8, 0, 0)))
    a = collate([LabelledImages(labels, train_spec)[k] for k in keys])
    b = batch_pixels(collate([LabelledImages(labels, train_spec, encoded=True)[k]
                              for k in keys]), 24, torch.device("cpu"))
    assert (a.images.float() - b.images.float()).abs().mean() < 4.0
    # a damaged JPEG whose header parses fails on the device and is recorded as bad
    row = int(keys[0][0])
    good = Path(labels.sources[row].path or "").read_bytes()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good[:len(good) // 3])
    labels.sources[row] = type(labels.sources[row])(str(broken))
    c = batch_pixels(collate([LabelledImages(labels, train_spec, encoded=True)[k]
                              for k in keys]), 24, torch.device("cpu"))
    assert len(c) + len(c.bad) == len(keys)
    result = train(engine, TrainParams(small(tmp_path, name="dev_decode", epochs=1,
                                             device_decode=True)))
    assert result.steps == 10 and result.best_metrics["acc_l0"] > 0


def test_an_unmappable_shard_is_a_bad_image_and_its_file_is_closed(tmp_path: Path) -> None:
    """An empty shard cannot be memory-mapped: a BadImage, and its file is closed, not
    left to the garbage collector (which says so with a ResourceWarning)."""
    import gc
    import warnings

    from geotool.learn.data import BadImage
    from geotool.learn.shards import read_shard_image

    empty = tmp_path / "shard_9.msg"
    empty.write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            with pytest.raises(BadImage, match="cannot open shard"):
                read_shard_image(str(empty), 0, 10)
        gc.collect()
    # only this shard's file counts: gc may also collect other tests' leftovers here
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)
                and empty.name in str(w.message)]
