"""The training configuration: one dataclass, layered defaults < TOML file < overrides.

``geotool train --config FILE.toml --name m1`` and ``train(engine,
load_train_config("FILE.toml", name="m1"))`` build the same :class:`TrainConfig`. The
defaults are the paper's text (docs/method.md, "Model"): SGD lr 0.01, momentum 0.9,
weight decay 1e-4, 15 epochs, lr × 0.5 after epochs 3, 6, 9, 12, 13 and 14, batch 200,
validation every 512,000 images, the checkpoint of lowest validation loss kept as best.

A TOML file holds the fields at top level or in any tables (``[model]``, ``[optim]`` …):
tables only group them for the reader, the field names are unique. A ``[build]`` table
(the ``geotool build`` parameters of the set) is documentation and is skipped.

Two model families share this configuration and the training loop: ``family =
"classifier"`` (the paper's multi-partitioning classifier, learns ``partitions``) and
``family = "align"`` (the concept-aware image–GPS alignment model, learns the photos and
coordinates of ``dataset``; docs/method.md, "The alignment family"). An alignment run's
defaults are GeoCLIP's (:data:`ALIGN_DEFAULTS`: Adam lr 3e-5, weight decay 1e-6,
lr × 0.87 per epoch, 10 epochs, batch 512) wherever the file and the flags say nothing.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

from geotool.errors import GeotoolError, InvalidValueError

AMP_MODES = ("auto", "off", "bf16", "fp16")
FAMILIES = ("classifier", "align")
OPTIMIZERS = ("sgd", "adam")

#: GeoCLIP's training recipe: what an alignment run uses for the settings nobody gave.
ALIGN_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam", "lr": 3e-5, "weight_decay": 1e-6, "lr_schedule": "exponential",
    "lr_gamma": 0.87, "epochs": 10, "batch_size": 512, "backbone": "efficientnet_lite0",
    "pretrained": True, "validate_each_epoch": True,
}


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored with the model and its checkpoints)."""

    family: str = "classifier"  # classifier | align
    partitions: str = ""  # classifier: partitioning set to learn (its levels become the heads)
    dataset: str = ""  # align: dataset whose train/val photos and coordinates are learned
    name: str = ""  # model name (unique in ``models``)
    backbone: str = "resnet50"
    image_size: int = 0  # 0: the backbone's size (model.BACKBONES)
    # optimiser and schedule (the paper's text)
    epochs: int = 15
    batch_size: int = 200  # global batch: split over the ranks under torchrun
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    optimizer: str = "sgd"  # sgd | adam (align default: adam)
    lr_schedule: str = "multistep"  # multistep | sgdr (cosine with warm restarts) | exponential
    lr_milestones: list[int] = field(default_factory=lambda: [3, 6, 9, 12, 13, 14])
    lr_gamma: float = 0.5  # multistep: factor per milestone; exponential: per epoch
    sgdr_period: float = 1.0  # sgdr: epochs of the first cycle ("1/3": three per epoch)
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
    pretrained: bool = False  # the backbone's packaged ImageNet weights (efficientnet_lite0)
    # ---- the alignment family (family = "align"; docs/method.md) ----
    embed_dim: int = 512  # shared embedding width D (GeoCLIP: 512)
    projection_hidden: int = 768  # image projection MLP hidden width (GeoCLIP: 768)
    clip_path: str = ""  # backbone = "clip": a local Hugging Face CLIP folder (never fetched)
    gps_sigmas: list[float] = field(default_factory=lambda: [1.0, 16.0, 256.0])  # RFF σ
    gps_hidden: int = 1024  # GPS MLP width per branch (GeoCLIP: 1024)
    gps_depth: int = 3  # hidden layers per branch (GeoCLIP: 3)
    gps_init: str = "random"  # random | geoclip (the pretrained location encoder)
    gps_weights: str = ""  # gps_init = geoclip: location_encoder_weights.pth ("" = the wheel's)
    init_temperature: float = 0.07  # logit scale starts at log(1 / this) (CLIP, GeoCLIP)
    queue_size: int = 4096  # GPS queue of negatives (GeoCLIP: 4096; 0 = batch only)
    queue_store: str = "coordinates"  # coordinates (GeoCLIP: re-encoded) | embeddings
    gps_jitter_km: float = 1.0  # Gaussian noise (σ, km) on training coordinates
    concept_vocab: str = "world"  # built-in vocabulary name or TOML path
    concept_lambda: float = 0.5  # λ, weight of the concept divergence (0: GeoCLIP baseline)
    concept_divergence: str = "js"  # js | sym_kl
    concept_temperature: float = 0.1  # τ of the concept softmax
    concept_supervision: float = 0.0  # μ, weight of the concept-truth cross-entropy
    concept_truth: str = ""  # photos.json with per-photo climates ("" = beside the images)
    concept_target: str = "share"  # mask truth: share (pixel share) | lift (share / mean share)

    def validate(self, resume: bool = False) -> None:
        """Raise :class:`InvalidValueError` naming the first value that cannot work.

        With ``resume`` the set may be left out (the model's stored one is used)."""
        from geotool.learn.model import backbone_spec

        if self.family not in FAMILIES:
            raise InvalidValueError(f"family must be one of {', '.join(FAMILIES)}, not "
                               f"{self.family!r}")
        if self.family == "classifier" and not self.partitions and not resume:
            raise InvalidValueError("say which partitioning set to learn: --partitions SET "
                               "(`geotool partitions list` shows them)")
        if self.family == "align" and not resume:
            if self.partitions:
                raise InvalidValueError("an alignment model (family = 'align') learns photos and "
                                   "coordinates, not cells: give --dataset, not --partitions")
            if not self.dataset:
                raise InvalidValueError("say which dataset an alignment model learns: --dataset "
                                   "NAME (`geotool datasets` lists them)")
        if not self.name:
            raise InvalidValueError("give the model a name: --name NAME")
        if not (self.family == "align" and self.backbone == "clip"):
            backbone_spec(self.backbone)
        if self.optimizer not in OPTIMIZERS:
            raise InvalidValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not "
                               f"{self.optimizer!r}")
        if self.family == "align":
            self._validate_align()
        positive = ("epochs", "batch_size", "validate_every_images", "checkpoint_every_steps",
                    "log_every_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise InvalidValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.lr <= 0:
            raise InvalidValueError(f"lr must be positive, not {self.lr}")
        if self.lr_schedule not in ("multistep", "sgdr", "exponential"):
            raise InvalidValueError(f"lr_schedule must be multistep, sgdr or exponential, not "
                                    f"{self.lr_schedule!r}")
        if not self.sgdr_period > 0 or self.sgdr_mult < 1:
            raise InvalidValueError(f"sgdr_period must be positive (epochs, e.g. 1/3 for three "
                                    f"cycles per epoch) and sgdr_mult at least 1, not "
                                    f"{self.sgdr_period} and {self.sgdr_mult}")
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

    def _validate_align(self) -> None:
        from geotool.vocab.concepts import load_vocabulary

        for name in ("embed_dim", "projection_hidden", "gps_hidden", "gps_depth"):
            if getattr(self, name) < 1:
                raise InvalidValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.gps_sigmas or min(self.gps_sigmas) <= 0:
            raise InvalidValueError(f"gps_sigmas must be positive scales (GeoCLIP: [1, 16, 256]), "
                               f"not {self.gps_sigmas}")
        if self.gps_init not in ("random", "geoclip"):
            raise InvalidValueError(f"gps_init must be random or geoclip, not {self.gps_init!r}")
        if self.queue_size < 0 or self.queue_store not in ("coordinates", "embeddings"):
            raise InvalidValueError("queue_size must be 0 or more and queue_store coordinates or "
                               f"embeddings, not {self.queue_size} / {self.queue_store!r}")
        if self.gps_jitter_km < 0:
            raise InvalidValueError(f"gps_jitter_km must be 0 or more, not {self.gps_jitter_km}")
        if self.concept_lambda < 0 or self.concept_supervision < 0:
            raise InvalidValueError("concept_lambda and concept_supervision are weights: 0 or more")
        if self.concept_divergence not in ("js", "sym_kl"):
            raise InvalidValueError(f"concept_divergence must be js or sym_kl, not "
                               f"{self.concept_divergence!r}")
        if self.concept_target not in ("share", "lift"):
            raise InvalidValueError(f"concept_target must be share or lift, not "
                               f"{self.concept_target!r}")
        if self.concept_temperature <= 0 or self.init_temperature <= 0:
            raise InvalidValueError("concept_temperature and init_temperature must be positive")
        if self.backbone == "clip" and not self.clip_path:
            raise InvalidValueError("backbone = 'clip' needs clip_path, a local CLIP model folder "
                               "(geotool never downloads weights)")
        vocab = load_vocabulary(self.concept_vocab)
        if self.concept_supervision > 0 and not any(c.has_truth for c in vocab.concepts):
            raise InvalidValueError(f"concept_supervision > 0 needs a vocabulary with truth "
                               f"(mask or climate entries); {vocab.name!r} has none")

    def input_size(self) -> int:
        from geotool.learn.model import backbone_spec

        if self.family == "align" and self.backbone == "clip":
            return self.image_size or 224
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
        sgdr: cosine from lr to lr_min over cycles of sgdr_period, × sgdr_mult, … epochs
        (a period of 1/3 with mult 1: three cycles per epoch, the paper's Appendix C).
        Positions are exact fractions, so a cycle boundary at a third of an epoch restarts
        exactly there (no float drift over many cycles).
        """
        if self.lr_schedule == "exponential":
            return float(self.lr * self.lr_gamma ** epoch)
        if self.lr_schedule == "sgdr":
            t = Fraction(epoch) + Fraction(fraction).limit_denominator(10**9)
            period = Fraction(self.sgdr_period).limit_denominator(10**6)
            while t >= period:
                t -= period
                period *= self.sgdr_mult
            return float(self.lr_min + (self.lr - self.lr_min)
                         * (1 + math.cos(math.pi * float(t / period))) / 2)
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
            elif isinstance(default, float):  # "1/3" is a float too (sgdr_period)
                changes[key] = float(Fraction(value) if isinstance(value, str) else value)
            elif isinstance(default, tuple):
                changes[key] = tuple(float(v) for v in value)
                if len(changes[key]) != len(default):
                    raise TypeError
            elif isinstance(default, list):
                if not isinstance(value, list | tuple):
                    raise TypeError
                kind = float if key == "gps_sigmas" else int
                if kind is int and any(float(v) != int(v) for v in value):
                    raise TypeError
                changes[key] = [kind(v) for v in value]
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
        from_file = _flatten(table, str(path))
        config = _coerce(config, from_file, str(path))
    else:
        from_file = {}
    unknown = set(overrides) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise GeotoolError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
    config = _coerce(config, overrides, "override")
    if config.family == "align":
        given = set(from_file) | {k for k, v in overrides.items() if v is not None}
        config = _coerce(config, {k: v for k, v in ALIGN_DEFAULTS.items() if k not in given},
                         "align defaults")
    return config
