"""Small models for the prediction tests, trained by geotool's own trainer.

``fit_tiny_model`` runs :func:`geotool.learn.train.train` with the small CNN on a set's
training photos (plain SGD, a fixed seed, one compute thread, no loader processes) and
returns the best checkpoint; the ``models`` row is the trainer's own.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from geotool.learn.config import load_train_config
from geotool.learn.train import TrainParams, train


def fit_tiny_model(engine: Engine, set_name: str, model_name: str, out_dir: Path,
                   epochs: int = 8, seed: int = 0, lr: float = 0.05,
                   batch_size: int = 32) -> Path:
    """Train model ``model_name`` on ``set_name``; return its best checkpoint."""
    config = load_train_config(
        None, partitions=set_name, name=model_name, backbone="small_cnn", epochs=epochs,
        seed=seed, lr=lr, batch_size=batch_size, lr_milestones=[max(1, epochs * 3 // 4)],
        lr_gamma=0.2, validate_every_images=10**9, validate_each_epoch=True,
        checkpoint_every_steps=10**6, workers=0, threads=1, device="cpu",
        checkpoint_dir=str(Path(out_dir) / model_name))
    result = train(engine, TrainParams(config))
    assert result.best_checkpoint is not None
    return result.best_checkpoint
