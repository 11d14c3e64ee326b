"""What the shared training loop needs from a model family.

``geotool.learn.train`` owns everything both families share — processes (torchrun/DDP),
AMP, the sampler, checkpoints and exact resume, the run record, ``models`` and
``training_metrics`` rows, bad-image records. A family supplies the rest: which examples
it reads, the model and its optimiser, the batch → loss step, the validation metrics,
what its checkpoint carries besides the weights, and any training state of its own (the
alignment family's GPS queue). Families: ``classifier`` (:mod:`geotool.learn.classifier`)
and ``align`` (:mod:`geotool.learn.align.family`); ``geotool.learn.train.family_for``
picks one. A family sees the loop only through :class:`TrainerView`, so nothing here or
in a family imports the loop (no import cycle).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import torch
from sqlalchemy.engine import Connection, Engine
from torch import nn

from geotool.learn.config import TrainConfig
from geotool.learn.labels import LabelArrays

if TYPE_CHECKING:
    from geotool.learn.data import Batch


class Ranks(Protocol):
    """This process's rank among ``world`` processes."""

    @property
    def rank(self) -> int: ...

    @property
    def world(self) -> int: ...


class TrainerView(Protocol):
    """What a family may use of the running loop (``geotool.learn.train._Trainer``)."""

    config: TrainConfig
    device: torch.device
    model: nn.Module  # the unwrapped model
    train_module: nn.Module  # what the step calls (DDP-wrapped under torchrun)

    @property
    def ranks(self) -> Ranks: ...

    def autocast(self) -> AbstractContextManager[Any]: ...

    def pixels(self, batch: Batch) -> torch.Tensor: ...

    def val_batches(self, labels: LabelArrays) -> Iterator[Batch]: ...

    def reduce(self, values: torch.Tensor) -> torch.Tensor: ...


class TrainingFamily(ABC):
    """One model family's part of a training run (one instance per run)."""

    name: str = ""
    train_rows: LabelArrays
    val_rows: LabelArrays
    dataset_id: int | None = None
    weights_note: str = ""

    @abstractmethod
    def check_resume(self, given: TrainConfig, stored: TrainConfig) -> None:
        """Refuse a resume whose command line contradicts the stored configuration."""

    @abstractmethod
    def load_data(self, conn: Connection, cfg: TrainConfig,
                  state: dict[str, Any] | None) -> None:
        """Read the train/val examples (``train_rows``, ``val_rows``, ``dataset_id``)."""

    @abstractmethod
    def build_model(self, cfg: TrainConfig, state: dict[str, Any] | None,
                    engine: Engine) -> nn.Module:
        """The (unwrapped) model, initialised from ``state``'s weights when resuming."""

    def make_optimizer(self, cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
        if cfg.optimizer == "adam":
            return torch.optim.Adam(model.parameters(), lr=cfg.lr,
                                    weight_decay=cfg.weight_decay)
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)

    @abstractmethod
    def loss(self, trainer: TrainerView, batch: Batch, step: int) -> torch.Tensor:
        """The training loss of one (rank's slice of a) batch; ``step`` counts from 0."""

    @abstractmethod
    def validate(self, trainer: TrainerView) -> dict[str, float]:
        """Validation metrics on ``val_rows`` (must hold ``loss``: lowest = best)."""

    @abstractmethod
    def checkpoint_fields(self) -> dict[str, Any]:
        """What a checkpoint of this family carries besides weights and config."""

    @abstractmethod
    def create_record(self, conn: Connection, cfg: TrainConfig, run_id: int) -> int:
        """Insert the ``models`` row; returns its id."""

    def state_dict(self) -> dict[str, Any]:
        """Family training state saved with ``last.pt`` (e.g. a queue)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

    def after_step(self) -> None:  # noqa: B027 (a hook: most families need none)
        """Called after each optimiser step (e.g. to update a queue)."""

    @abstractmethod
    def val_message(self, step: int, metrics: dict[str, float]) -> str:
        """One progress line after a validation."""
