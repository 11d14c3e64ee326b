"""A small model that learned the synthetic planet's designed signal, registered in the db.

Stand-in for the real trainer in the concept-influence tests: it generates the hand-made
four-country world (``synth_tiny_world``) and photos of it, ingests them as a dataset,
uses the photos' generated labels directly as classes (level 0 = state, level 1 =
country; prediction coordinate = spherical mean of the class's training photos), fits
``GeoClassifier("small_cnn")`` with plain SGD, saves a checkpoint with
``save_checkpoint`` and inserts a ``models`` row. Interface: :func:`build_tiny_concept_model`
→ :class:`TinyConceptModel`.

The input the model is trained on is exactly what the explanation sees: the full photo
(``resize`` = ``image_size`` = the photo size, so the centre crop keeps everything),
normalised with ImageNet's mean/std (geotool.explain.preprocess's defaults).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine

from geotool.explain.attributions import Normalisation
from geotool.ingest.load import IngestParams, ingest_file
from geotool.learn.checkpoint import save_checkpoint
from geotool.learn.classes import LevelClasses, SetClasses
from geotool.learn.model import GeoClassifier
from geotool.synth.photos import PhotoRecord, PhotoSet, generate_photos

from .synth_tiny_world import write_tiny_world


@dataclass(frozen=True)
class TinyConceptModel:
    name: str
    dataset: str
    photos: PhotoSet
    checkpoint: Path
    train_accuracy: list[float]  # per level, on the training photos
    test_accuracy: list[float]  # per level, on val + test photos

    @property
    def design(self) -> dict[str, list[str]]:
        return dict(json.loads((self.photos.directory / "design.json").read_text()))


def _spherical_mean(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    la, lo = np.radians(lat), np.radians(lon)
    v = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]).mean(axis=1)
    return (float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1])))),
            float(np.degrees(np.arctan2(v[1], v[0]))))


def _inputs(photos: PhotoSet, records: list[PhotoRecord]) -> torch.Tensor:
    arr = np.stack([photos.image(r) for r in records])
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255.0
    return Normalisation().apply(x)


def build_tiny_concept_model(engine: Engine, workdir: Path, *, seed: int = 0,
                             n_photos: int = 480, size: int = 64, epochs: int = 8,
                             lr: float = 0.05, batch: int = 32, name: str = "tiny",
                             dataset: str = "tiny") -> TinyConceptModel:
    """Generate, ingest, train and register; everything seeded by ``seed``."""
    world = write_tiny_world(workdir / "world")
    photos = generate_photos(world, n_photos, size, workdir / "photos", seed=seed,
                             val_fraction=0.15, test_fraction=0.15)
    ingest_file(engine, IngestParams(photos.csv_path("all"), dataset))
    train = photos.split("train")
    held = photos.split("val") + photos.split("test")
    levels = [("state", lambda r: r.state or r.country or "-"),
              ("country", lambda r: r.country or "-")]
    level_classes, targets_train, targets_held = [], [], []
    for level_name, key_of in levels:
        keys = sorted({key_of(r) for r in train})
        index = {k: i for i, k in enumerate(keys)}
        coords = [_spherical_mean(np.array([r.lat for r in train if key_of(r) == k]),
                                  np.array([r.lon for r in train if key_of(r) == k]))
                  for k in keys]
        level_classes.append(LevelClasses(level_name, keys, keys,
                                          np.array([c[0] for c in coords]),
                                          np.array([c[1] for c in coords])))
        targets_train.append(torch.tensor([index[key_of(r)] for r in train]))
        targets_held.append(torch.tensor([index.get(key_of(r), -1) for r in held]))
    classes = SetClasses(f"{name}-labels", level_classes)

    torch.manual_seed(seed)
    model = GeoClassifier("small_cnn", classes.n_classes)
    x_train, x_held = _inputs(photos, train), _inputs(photos, held)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            flip = torch.rand(1, generator=gen).item() < 0.5
            xb = x_train[idx].flip(3) if flip else x_train[idx]
            logits = model(xb)
            loss = sum(torch.nn.functional.cross_entropy(lg, t[idx])
                       for lg, t in zip(logits, targets_train, strict=True))
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            opt.step()
    model.eval()
    with torch.no_grad():
        acc_train = [float((lg.argmax(1) == t).float().mean())
                     for lg, t in zip(model(x_train), targets_train, strict=True)]
        acc_held = [float((lg.argmax(1) == t).float().mean())
                    for lg, t in zip(model(x_held), targets_held, strict=True)]
    checkpoint = workdir / f"{name}.pt"
    config = {"resize": size, "trainer": "tests/support/tiny_concept_model.py",
              "epochs": epochs, "lr": lr, "batch": batch, "seed": seed}
    save_checkpoint(checkpoint, {"backbone": "small_cnn", "image_size": size,
                                 "classes": classes.to_dict(), "model": model.state_dict(),
                                 "config": config})
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO models (name, set_id, arch, checkpoint_path, params) "
            "VALUES (:n, NULL, 'small_cnn', :p, CAST(:params AS jsonb))"),
            {"n": name, "p": str(checkpoint), "params": json.dumps(config)})
    return TinyConceptModel(name, dataset, photos, checkpoint, acc_train, acc_held)
