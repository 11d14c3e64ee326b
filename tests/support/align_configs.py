"""Test helper: small alignment-model configurations for the tiny planet (dataset ``tiny``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geotool.learn.config import TrainConfig, load_train_config


def small_align(tmp: Path, **overrides: Any) -> TrainConfig:
    """small_cnn at 32 px, a 32-d embedding, 2 epochs of 10 steps (167 train photos, batch
    16), validation after each epoch, checkpoints every 3 steps."""
    values: dict[str, Any] = dict(
        family="align", dataset="tiny", name="a", backbone="small_cnn", image_size=32,
        pretrained=False, embed_dim=32, projection_hidden=32, gps_hidden=32, gps_depth=1,
        queue_size=48, epochs=2, batch_size=16, lr=2e-3, validate_every_images=10**9,
        validate_each_epoch=True, checkpoint_every_steps=3, log_every_steps=2, workers=0,
        concept_vocab="planet", concept_lambda=0.5, concept_supervision=0.2,
        checkpoint_dir=str(tmp / "ck"), seed=3, threads=1)
    values.update(overrides)
    return load_train_config(None, **values)
