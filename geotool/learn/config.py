"""The training configuration: one dataclass, layered defaults < TOML file < overrides.

``geotool train --config FILE.toml --name m1`` and ``train(engine,
load_train_config("FILE.toml", name="m1"))`` build the same :class:`TrainConfig`. The
defaults are the paper's text (docs/method.md, "Model"): SGD lr 0.01, momentum 0.9,
weight decay 1e-4, 15 epochs, lr × 0.5 after epochs 3, 6, 9, 12, 13 and 14, batch 200,
validation every 512,000 images, the checkpoint of lowest validation loss kept as best.

A TOML file holds the fields at top level or in any tables (``[model]``, ``[optim]`` …):
tables only group them for the reader, the field names are unique. A ``[build]`` table
(the ``geotool build`` parameters of the set) is documentation and is skipped.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from geotool.errors import GeotoolError, InvalidValueError

AMP_MODES = ("auto", "off", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored with the model and its checkpoints)."""

    partitions: str = ""  # partitioning set to learn (its levels become the heads)
    name: str = ""  # model name (unique in ``models``)
    backbone: str = "resnet50"
    image_size: int = 0  # 0: the backbone's size (model.BACKBONES)
    # optimiser and schedule (the paper's text)
    epochs: int = 15
    batch_size: int = 200  # global batch: split over the ranks under torchrun
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_schedule: str = "multistep"  # multistep | sgdr (cosine with warm restarts)
    lr_milestones: list[int] = field(default_factory=lambda: [3, 6, 9, 12, 13, 14])
    lr_gamma: float = 0.5
    sgdr_period: int = 1  # sgdr: epochs of the first cycle
    sgdr_mult: int = 2  # sgdr: each cycle this many times longer than the last
    lr_min: float = 0.0  # sgdr: the learning rate at the end of a cycle
    # validation and checkpoints
    validate_every_images: int = 512_000
    validate_each_epoch: bool = False  # also validate at the end of every epoch
    val_max_images: int = 0  # 0: the whole val split
    checkpoint_every_steps: int = 1000
    log_every_steps: int = 50
    checkpoint_dir: str = ""  # "": <geotool home>/models/<name>
    max_steps: int = 0  # 0: no limit (stop early, for smoke tests and benchmarks)
    # data
    workers: int = 2
    prefetch_factor: int = 4
    train_scale: tuple[float, float] = (0.66, 1.0)  # RandomResizedCrop area share
    train_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    train_resize: int = 0  # shortest edge before the random crop; 0: 320/224 × size
    val_resize: int = 0  # shortest edge before the centre crop; 0: 256/224 × size
    draft_decode: bool = True  # decode JPEGs at reduced scale when much larger than needed
    device_decode: bool = False  # decode JPEGs on the training device (nvJPEG on CUDA)
    max_bad_share: float = 0.01  # stop when more than this share of images is bad
    # reproducibility
    seed: int = 0
    # hardware
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads of the training process (0: PyTorch's default)
    amp: str = "auto"  # auto (bf16 on CUDA when supported, else fp16) | off | bf16 | fp16
    channels_last: bool = True  # CUDA only
    sync_batchnorm: bool = True  # several processes: batch-norm statistics of the global batch
    compile: bool = False  # torch.compile the model (CUDA; untested here)
    # initialisation
    weights: str = ""  # local torchvision state dict or geotool checkpoint
    init_from: str = ""  # name of a geotool model whose backbone starts this one
    tensorboard: str = ""  # folder for TensorBoard event files ("" = none)

    def validate(self, resume: bool = False) -> None:
        """Raise :class:`InvalidValueError` naming the first value that cannot work.

        With ``resume`` the set may be left out (the model's stored one is used)."""
        from geotool.learn.model import backbone_spec

        if not self.partitions and not resume:
            raise InvalidValueError("say which partitioning set to learn: --partitions SET "
                               "(`geotool partitions list` shows them)")
        if not self.name:
            raise InvalidValueError("give the model a name: --name NAME")
        backbone_spec(self.backbone)
        positive = ("epochs", "batch_size", "validate_every_images", "checkpoint_every_steps",
                    "log_every_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise InvalidValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.lr <= 0:
            raise InvalidValueError(f"lr must be positive, not {self.lr}")
        if self.lr_schedule not in ("multistep", "sgdr"):
            raise InvalidValueError(
                f"lr_schedule must be multistep or sgdr, not {self.lr_schedule!r}")
        if self.sgdr_period < 1 or self.sgdr_mult < 1:
            raise InvalidValueError("sgdr_period and sgdr_mult must be at least 1")
        if self.amp not in AMP_MODES:
            raise InvalidValueError(f"amp must be one of {', '.join(AMP_MODES)}, not {self.amp!r}")
        if not 0 <= self.max_bad_share <= 1:
            raise InvalidValueError(f"max_bad_share is a share between 0 and 1, not "
                               f"{self.max_bad_share}")
        lo, hi = self.train_scale
        if not 0 < lo <= hi <= 1:
            raise InvalidValueError(
                f"train_scale must be 0 < low <= high <= 1, not {self.train_scale}")
        if self.workers < 0:
            raise InvalidValueError(f"workers must be 0 or more, not {self.workers}")
        if self.max_steps < 0:
            raise InvalidValueError(f"max_steps must be 0 (no limit) or more, not {self.max_steps}")
        if self.image_size < 0:
            raise InvalidValueError(f"image_size must be 0 (the backbone's) or more, not "
                               f"{self.image_size}")
        if self.weights and self.init_from:
            raise InvalidValueError("give either --weights or --init-from, not both")

    def input_size(self) -> int:
        from geotool.learn.model import backbone_spec

        return self.image_size or backbone_spec(self.backbone).image_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return _coerce(cls(), {k: v for k, v in data.items() if k in known}, "checkpoint")

    def lr_at(self, epoch: int, fraction: float = 0.0) -> float:
        """Learning rate at (0-based) ``epoch`` + ``fraction`` of it: a pure function.

        multistep: × gamma for every milestone ≤ epoch (constant within an epoch).
        sgdr: cosine from lr to lr_min over cycles of sgdr_period, × sgdr_mult, … epochs.
        """
        if self.lr_schedule == "sgdr":
            t, period = epoch + fraction, float(self.sgdr_period)
            while t >= period:
                t -= period
                period *= self.sgdr_mult
            return float(self.lr_min + (self.lr - self.lr_min)
                         * (1 + math.cos(math.pi * t / period)) / 2)
        return float(self.lr * self.lr_gamma ** sum(1 for m in self.lr_milestones
                                                     if m <= epoch))


def _flatten(table: dict[str, Any], source: str) -> dict[str, Any]:
    known = {f.name for f in fields(TrainConfig)}
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if key == "build" and isinstance(value, dict):
            continue  # what `geotool build` makes the set with: for the reader
        if isinstance(value, dict):
            flat.update(_flatten(value, source))
        elif key not in known:
            raise GeotoolError(f"{source}: unknown training setting {key!r}; known: "
                               f"{', '.join(sorted(known))}")
        else:
            flat[key] = value
    return flat


def _coerce(config: TrainConfig, values: dict[str, Any], source: str) -> TrainConfig:
    types = {f.name: f for f in fields(TrainConfig)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        default = getattr(TrainConfig(), key)
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise TypeError
                changes[key] = value
            elif isinstance(default, int):
                if isinstance(value, bool) or float(value) != int(value):
                    raise TypeError
                changes[key] = int(value)
            elif isinstance(default, float):
                changes[key] = float(value)
            elif isinstance(default, tuple):
                changes[key] = tuple(float(v) for v in value)
                if len(changes[key]) != len(default):
                    raise TypeError
            elif isinstance(default, list):
                changes[key] = [int(v) for v in value]
            else:
                changes[key] = str(value)
        except (TypeError, ValueError):
            raise GeotoolError(f"{source}: setting {key} = {value!r} has the wrong type "
                               f"(the default is {default!r})") from None
    del types
    return dataclasses.replace(config, **changes)


def load_train_config(path: Path | str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults < the TOML file at ``path`` < ``overrides`` (None values are ignored)."""
    config = TrainConfig()
    if path:
        path = Path(path)
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GeotoolError(f"training config {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise GeotoolError(f"training config {path} is not valid TOML: {exc}") from None
        config = _coerce(config, _flatten(table, str(path)), str(path))
    unknown = set(overrides) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise GeotoolError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
    return _coerce(config, overrides, "override")
