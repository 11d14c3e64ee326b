"""A stand-in trainer for the prediction tests until ``geotool train`` lands.

``fit_tiny_model`` trains ``GeoClassifier("small_cnn")`` with plain SGD on a set's training
photos (read through the SQL function ``geotool_labels``), saves a geotool checkpoint and
inserts the ``models`` row, which is all prediction needs from training. It preprocesses
photos exactly as prediction's centre crop does, so train and test see the same pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from torch import nn

from geotool.learn.checkpoint import save_checkpoint
from geotool.learn.classes import read_set_classes
from geotool.learn.inference import CropTransform, default_resize, read_image
from geotool.learn.model import GeoClassifier, backbone_spec


def fit_tiny_model(engine: Engine, set_name: str, model_name: str, out_dir: Path,
                   epochs: int = 8, seed: int = 0, lr: float = 0.05,
                   batch_size: int = 32) -> Path:
    """Train, save ``out_dir/<model_name>.pt``, insert the models row; return the path."""
    torch.manual_seed(seed)
    size = backbone_spec("small_cnn").image_size
    transform = CropTransform(size, default_resize(size), crops=1)
    with engine.connect() as conn:
        classes = read_set_classes(conn, set_name)
        set_id = conn.execute(sa.text("SELECT id FROM partitioning_sets WHERE name = :n"),
                              {"n": set_name}).scalar_one()
        rows = conn.execute(sa.text("SELECT path, classes FROM geotool_labels(:s, 'train')"),
                            {"s": set_name}).all()
    rows = [r for r in rows if r.classes[0] is not None]
    images = torch.stack([transform(read_image(r.path))[0] for r in rows])
    targets = torch.tensor([[-100 if c is None else c for c in r.classes] for r in rows])
    model = GeoClassifier("small_cnn", classes.n_classes)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = images[idx]
            flip = torch.rand(len(idx), generator=generator) < 0.5
            batch[flip] = batch[flip].flip(-1)
            logits = model(batch)
            loss = sum(loss_fn(lg, targets[idx, k]) for k, lg in enumerate(logits))
            optimiser.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            optimiser.step()
    model.eval()
    path = Path(out_dir) / f"{model_name}.pt"
    config = {"trainer": "tests.support.tiny_training", "epochs": epochs, "seed": seed,
              "lr": lr, "batch_size": batch_size, "set": set_name}
    save_checkpoint(path, {"backbone": "small_cnn", "image_size": size,
                           "classes": classes.to_dict(), "model": model.state_dict(),
                           "config": config})
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO models (name, set_id, arch, checkpoint_path, params) "
            "VALUES (:n, :s, 'small_cnn', :p, CAST(:params AS jsonb)) "
            "ON CONFLICT (name) DO UPDATE SET set_id = EXCLUDED.set_id, arch = EXCLUDED.arch, "
            "checkpoint_path = EXCLUDED.checkpoint_path, params = EXCLUDED.params"),
            {"n": model_name, "s": set_id, "p": str(path), "params": json.dumps(config)})
    return path
