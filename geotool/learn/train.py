"""The training loop, one for both model families: plain PyTorch, resumable bit for bit,
DDP under torchrun.

``train(engine, config)`` trains the family ``config.family`` names (``classifier``: the
partitioning set ``config.partitions``, :mod:`geotool.learn.classifier`; ``align``: the
image–GPS alignment model on ``config.dataset``, :mod:`geotool.learn.align.family`). This
module is what they share; the family (:mod:`geotool.learn.family`) supplies the examples,
the model and optimiser, the batch → loss step and the validation metrics. No Lightning:
an exact resume needs the loop's own state, and the reference projects' users were
broken by its API changes.

State and records:
- ``<checkpoint_dir>/last.pt`` every ``checkpoint_every_steps`` steps and at each
  validation, with the optimiser, data position (epoch, step), best loss so far and the
  torch RNG states and the family's own state (the alignment queue); ``best.pt``
  (weights only) at each new lowest validation loss. Both
  are written atomically, so a SIGKILL leaves the previous file intact.
- ``models`` (status, best and last checkpoint, best metrics), ``training_metrics``
  (train loss/lr/throughput every ``log_every_steps``; the family's validation metrics,
  e.g. per-head loss and accuracy and the km ladder), ``bad_images`` (skipped images),
  ``runs`` (stage ``train``).
- ``resume=True`` continues from ``last.pt`` with the stored configuration: the
  sampler's order and every augmentation are pure functions of (seed, epoch, position)
  (:mod:`geotool.learn.data`), so the resumed run computes the same batches.

Several processes: under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in
DistributedDataParallel (NCCL on CUDA, gloo on CPU), each rank takes its slice of every
global batch, validation sums are all-reduced, and only rank 0 writes to the database
and checkpoints.

CUDA (untested on this CPU-only machine): autocast in bf16 (or fp16 with a GradScaler),
channels_last, optional ``torch.compile``; an out-of-memory error becomes one line that
suggests a smaller batch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import torch
import torch.distributed as dist
from sqlalchemy.engine import Engine
from torch import nn
from torch.utils.data import DataLoader

from geotool.errors import GeotoolError
from geotool.learn import registry
from geotool.learn.checkpoint import read_checkpoint, save_checkpoint
from geotool.learn.classifier import (  # noqa: F401 (re-exported)
    KM_LADDER,
    ddp_denominators,
    multi_head_loss,
)
from geotool.learn.config import TrainConfig
from geotool.learn.data import (
    Batch,
    EpochBatches,
    LabelledImages,
    TransformSpec,
    ValBatches,
    batch_pixels,
    collate,
    normalise,
    steps_per_epoch,
)
from geotool.learn.family import TrainingFamily
from geotool.learn.labels import LabelArrays
from geotool.learn.view import IMAGENET_MEAN, IMAGENET_STD, default_resize
from geotool.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class TrainParams:
    """A training run: ``config`` (the training settings, usually read from a TOML file
    by :func:`geotool.learn.config.load_train_config`); ``resume`` continues model
    ``config.name`` from its last checkpoint; ``force`` replaces an existing model of
    that name."""

    config: TrainConfig
    resume: bool = False
    force: bool = False

    def validate(self) -> None:
        self.config.validate(resume=self.resume)


@dataclass
class TrainSummary:
    """What a training run did."""

    model_name: str
    model_id: int | None
    run_id: int | None
    steps: int
    images_seen: int
    best_checkpoint: Path | None
    last_checkpoint: Path
    best_metrics: dict[str, float] = field(default_factory=dict)
    last_val_metrics: dict[str, float] = field(default_factory=dict)
    bad_images: int = 0
    resumed_from_step: int | None = None
    seconds: float = 0.0
    weights_note: str = ""


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device_pref: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    if not dist.is_initialized():
        backend = "nccl" if device_pref != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _device(config: TrainConfig, ranks: _Dist) -> torch.device:
    pref = config.device
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GeotoolError(f"device {config.device!r} asked for, but CUDA is not "
                               "available; use --device cpu")
        if pref == "cuda":
            pref = f"cuda:{ranks.local_rank}"
        torch.cuda.set_device(torch.device(pref))
    elif pref != "cpu":
        raise GeotoolError(f"device must be auto, cpu, cuda or cuda:N, not {config.device!r}")
    return torch.device(pref)


def _amp(config: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a GradScaler) — CUDA only."""
    if device.type != "cuda" or config.amp == "off":
        return None, False
    if config.amp == "bf16" or (config.amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16, False
    return torch.float16, True


def _loader(dataset: LabelledImages, batches: Any, config: TrainConfig,
            device: torch.device) -> DataLoader[Any]:
    extra: dict[str, Any] = {}
    if config.workers > 0:
        extra["prefetch_factor"] = config.prefetch_factor
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                      num_workers=config.workers, pin_memory=device.type == "cuda", **extra)


def _specs(config: TrainConfig) -> tuple[TransformSpec, TransformSpec]:
    size = config.input_size()
    train = TransformSpec(size, True, config.train_resize or math.ceil(size * 320 / 224),
                          tuple(config.train_scale), tuple(config.train_ratio),  # type: ignore[arg-type]
                          config.flip, config.draft_decode)
    # the validation view is the one prediction and the concept pass classify
    # (geotool.learn.view): full-scale decode, so no draft mode
    val = TransformSpec(size, False, config.val_resize or default_resize(size), draft=False)
    return train, val


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def family_for(cfg: TrainConfig) -> TrainingFamily:
    """The family object of ``cfg.family`` (one per run)."""
    if cfg.family == "align":
        from geotool.learn.align.family import AlignFamily

        return AlignFamily()
    from geotool.learn.classifier import ClassifierFamily

    return ClassifierFamily()


class _Trainer:
    """The shared loop; ``self.family`` supplies data, model, loss and validation."""

    def __init__(self, engine: Engine, config: TrainConfig, progress: Progress,
                 resume: bool, force: bool) -> None:
        self.engine = engine
        self.config = config
        self.progress = progress
        self.resume = resume
        self.force = force
        self.family: TrainingFamily = family_for(config)
        self._apply_threads(config)
        self.ranks = _setup_distributed(config.device)
        self.device = _device(config, self.ranks)
        self.amp_dtype, use_scaler = _amp(config, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.channels_last = config.channels_last and self.device.type == "cuda"
        self.model_id: int | None = None
        self.run_id: int | None = None
        self.writer: Any = None
        self.bad_total = 0  # skips (an image drawn in several epochs counts each time)
        self.bad_seen: set[int] = set()  # distinct images skipped, each reported once
        self.items_total = 0
        self.best_loss = math.inf
        self.best_metrics: dict[str, float] = {}
        self.best_step: int | None = None
        self.last_val: dict[str, float] = {}

    @property
    def weights_note(self) -> str:
        return self.family.weights_note

    @property
    def dataset_id(self) -> int | None:
        return self.family.dataset_id

    @property
    def train_labels(self) -> LabelArrays:
        return self.family.train_rows

    @property
    def val_labels(self) -> LabelArrays:
        return self.family.val_rows

    # ----------------------------------------------------------------- setup
    @staticmethod
    def _apply_threads(config: TrainConfig) -> None:
        """The compute threads of the configuration that trains (for a resume: the stored
        one). Two threads sum in another order than one, so a resume in a fresh process
        with PyTorch's default drifted from the uninterrupted run (issue 17)."""
        if config.threads > 0:
            torch.set_num_threads(config.threads)

    def checkpoint_dir(self) -> Path:
        if self.config.checkpoint_dir:
            return Path(self.config.checkpoint_dir)
        from geotool.settings import load_settings

        return load_settings().home / "models" / self.config.name

    def prepare(self) -> dict[str, Any] | None:
        """Existing model checks, resume state, the family's examples."""
        cfg = self.config
        state: dict[str, Any] | None = None
        with self.engine.connect() as conn:
            existing = registry.find_model(conn, cfg.name)
            if existing is not None and not (self.resume or self.force):
                raise GeotoolError(
                    f"a model named {cfg.name!r} exists (status {existing.status}); continue "
                    "it with --resume, replace it with --force, or choose another --name")
            if self.resume:
                if existing is None or not existing.last_checkpoint_path:
                    raise GeotoolError(f"nothing to resume: model {cfg.name!r} has no last "
                                       "checkpoint; start it without --resume")
                ckpt = read_checkpoint(Path(existing.last_checkpoint_path))
                if "state" not in ckpt:
                    raise GeotoolError(f"{existing.last_checkpoint_path} has no training state")
                stored = TrainConfig.from_dict(ckpt["config"])
                if stored.family != self.family.name:
                    self.family = family_for(stored)
                self.family.check_resume(cfg, stored)
                # the stopping rule belongs to this invocation, not to the model: a run
                # stopped by --max-steps goes on to the given limit (0: to the last epoch)
                stored.name, stored.device = cfg.name, cfg.device
                stored.max_steps = cfg.max_steps
                self.config = cfg = stored
                self._apply_threads(cfg)
                state = ckpt
            self.family.load_data(conn, cfg, state)
        if cfg.val_max_images:
            self.family.val_rows = self.family.val_rows.head(cfg.val_max_images)
        if cfg.batch_size % self.ranks.world:
            raise GeotoolError(f"batch size {cfg.batch_size} is not divisible by the "
                               f"{self.ranks.world} processes")
        return state

    def build_model(self, state: dict[str, Any] | None) -> None:
        cfg = self.config
        model = self.family.build_model(cfg, state, self.engine)
        model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.train_module: nn.Module = model
        if self.ranks.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            # batch statistics of the global batch, as one process would compute them
            # (PyTorch's SyncBatchNorm works on GPUs only: on CPU each rank normalises
            # with its own slice's statistics)
            if cfg.sync_batchnorm and self.device.type == "cuda":
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
                self.model = model

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_module = DistributedDataParallel(model, device_ids=ids)
        if cfg.compile:
            self.train_module = torch.compile(self.train_module)  # type: ignore[assignment]
        self.optimizer = self.family.make_optimizer(cfg, model)
        if state is not None:
            self.optimizer.load_state_dict(state["state"]["optimizer"])
            if self.scaler is not None and "scaler" in state["state"]:
                self.scaler.load_state_dict(state["state"]["scaler"])
            self.family.load_state_dict(state["state"].get("family", {}))

    def open_records(self, state: dict[str, Any] | None) -> None:
        """Rank 0: the model row (new or resumed) and the run id."""
        cfg = self.config
        ckdir = self.checkpoint_dir()
        with self.engine.begin() as conn:
            if state is None:
                if self.force:
                    conn.execute(sa.text("DELETE FROM models WHERE name = :n"), {"n": cfg.name})
                    for name in ("best.pt", "last.pt"):
                        (ckdir / name).unlink(missing_ok=True)
                self.model_id = self.family.create_record(conn, cfg, self.run_id or 0)
            else:
                record = registry.get_model(conn, cfg.name)
                self.model_id = record.id
                step = int(state["state"]["step"])
                # rows written after the checkpoint are redone by this run
                conn.execute(sa.text("DELETE FROM training_metrics WHERE model_id = :m "
                                     "AND step > :s"), {"m": record.id, "s": step})
                registry.update_model(conn, record.id, status="training", run_id=self.run_id)

    # ----------------------------------------------------------------- steps
    def autocast(self) -> AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def pixels(self, batch: Batch) -> torch.Tensor:
        """The batch's images, float and ImageNet-normalised, on the device."""
        return normalise(batch.images, self.device, self.channels_last)

    def _gather_bad(self, bad: list[tuple[int, str]], labels: LabelArrays) -> list[tuple[int, str]]:
        pairs = [(int(labels.image_ids[row]), reason) for row, reason in bad]
        if self.ranks.world > 1:
            gathered: list[Any] = [None] * self.ranks.world
            dist.all_gather_object(gathered, pairs)
            pairs = [p for part in gathered for p in part]
        return pairs

    def record_bad(self, pairs: list[tuple[int, str]]) -> None:
        """Record and report each bad image once: an image drawn again in a later epoch
        is skipped silently (it is already in ``bad_images``)."""
        new = {i: why for i, why in pairs if i not in self.bad_seen}
        self.bad_seen.update(new)
        if not new or not self.ranks.main:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO bad_images (image_id, run_id, reason) VALUES (:i, :r, :why) "
                "ON CONFLICT DO NOTHING"),
                [{"i": i, "r": self.run_id, "why": why} for i, why in new.items()])
        for image_id, why in new.items():
            self.progress.message(f"skipped image {image_id}: {why}")

    def reduce(self, values: torch.Tensor) -> torch.Tensor:
        """Sum over the processes (identity with one)."""
        if self.ranks.world > 1:
            dist.all_reduce(values)
        return values

    _reduce = reduce

    def val_batches(self, labels: LabelArrays) -> Iterator[Batch]:
        """This rank's validation batches (pixels on the device, eval mode); the bad
        images met are recorded when the iteration ends."""
        _, spec = _specs(self.config)
        dataset = LabelledImages(labels, spec, encoded=self.config.device_decode)
        per_rank = max(1, self.config.batch_size // self.ranks.world)
        loader = _loader(dataset, ValBatches(len(labels), per_rank, self.ranks.rank,
                                             self.ranks.world), self.config, self.device)
        self.model.eval()
        bad: list[tuple[int, str]] = []
        for encoded_batch in loader:
            batch = batch_pixels(encoded_batch, spec.size, self.device)
            bad += batch.bad
            if len(batch):
                yield batch
        self.record_bad(self._gather_bad(bad, labels))

    def train_step(self, batch: Batch, step: int = 0) -> float:
        self.train_module.train()
        loss = self.family.loss(self, batch, step)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.family.after_step()
        value = self.reduce(loss.detach().reshape(1).float().clone())
        return float(value.item()) / self.ranks.world

    def validate(self) -> dict[str, float]:
        if len(self.val_labels) == 0:
            return {}
        with torch.no_grad():
            return self.family.validate(self)

    # ----------------------------------------------------------------- saving
    def payload(self, with_state: bool, epoch: int, step_in_epoch: int, step: int
                ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "family": self.family.name,
            "backbone": self.config.backbone, "image_size": self.config.input_size(),
            **self.family.checkpoint_fields(), "model": self.model.state_dict(),
            # the normalisation training used (Trainer.pixels), read by prediction and the
            # concept pass
            "config": {**self.config.to_dict(),
                       "normalize": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}},
        }
        if with_state:
            state: dict[str, Any] = {
                "optimizer": self.optimizer.state_dict(),
                # the schedule is a pure function of the position (TrainConfig.lr_at)
                "scheduler": {"kind": self.config.lr_schedule, "epoch": epoch,
                              "fraction": step_in_epoch / max(1, steps_per_epoch(
                                  len(self.train_labels), self.config.batch_size)),
                              "lr": self.optimizer.param_groups[0]["lr"]},
                "epoch": epoch, "step_in_epoch": step_in_epoch, "step": step,
                "best_loss": self.best_loss, "best_metrics": dict(self.best_metrics),
                "best_step": self.best_step if self.best_step is not None else -1,
                "bad_total": self.bad_total, "items_total": self.items_total,
                "rng": _rng_state(), "family": self.family.state_dict(),
            }
            if self.scaler is not None:
                state["scaler"] = self.scaler.state_dict()
            data["state"] = state
        return data

    def save_last(self, epoch: int, step_in_epoch: int, step: int) -> None:
        if not self.ranks.main:
            return
        path = self.checkpoint_dir() / "last.pt"
        save_checkpoint(path, self.payload(True, epoch, step_in_epoch, step))
        with self.engine.begin() as conn:
            registry.update_model(conn, self.model_id, last_checkpoint_path=str(path))

    def after_validation(self, metrics: dict[str, float], epoch: int, step: int) -> None:
        self.last_val = metrics
        if not metrics or not self.ranks.main:
            if metrics and metrics["loss"] < self.best_loss:
                self.best_loss, self.best_metrics, self.best_step = metrics["loss"], metrics, step
            return
        images = step * self.config.batch_size
        with self.engine.begin() as conn:
            registry.write_metrics(conn, self.model_id, step, epoch, images, "val", metrics)
        self._tensorboard("val", metrics, step)
        if metrics["loss"] < self.best_loss:
            self.best_loss, self.best_metrics, self.best_step = metrics["loss"], metrics, step
            path = self.checkpoint_dir() / "best.pt"
            save_checkpoint(path, self.payload(False, epoch, 0, step))
            with self.engine.begin() as conn:
                registry.update_model(conn, self.model_id, checkpoint_path=str(path),
                                      metrics=metrics, best_step=step)
        self.progress.message(self.family.val_message(step, metrics))

    def _tensorboard(self, split: str, metrics: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(f"{split}/{key}", value, step)

    # ----------------------------------------------------------------- loop
    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        train_spec, _ = _specs(self.config)
        dataset = LabelledImages(self.train_labels, train_spec,
                                 encoded=self.config.device_decode)
        sampler = EpochBatches(len(self.train_labels), self.config.batch_size, self.config.seed,
                               epoch, self.ranks.rank, self.ranks.world, start)
        yield from _loader(dataset, sampler, self.config, self.device)

    def run(self, state: dict[str, Any] | None) -> TrainSummary:
        cfg = self.config
        spe = steps_per_epoch(len(self.train_labels), cfg.batch_size)
        total_steps = spe * cfg.epochs
        if cfg.max_steps:
            total_steps = min(total_steps, cfg.max_steps)
        epoch, start, step = 0, 0, 0
        resumed_from = None
        if state is not None:
            s = state["state"]
            epoch, start, step = int(s["epoch"]), int(s["step_in_epoch"]), int(s["step"])
            self.best_loss = float(s["best_loss"])
            self.best_metrics = dict(s["best_metrics"])
            self.best_step = int(s["best_step"]) if int(s["best_step"]) >= 0 else None
            self.bad_total, self.items_total = int(s["bad_total"]), int(s["items_total"])
            _set_rng_state(s["rng"])
            resumed_from = step
            if start >= spe:
                epoch, start = epoch + 1, 0
        if cfg.tensorboard and self.ranks.main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(cfg.tensorboard)
        t0 = time.monotonic()
        window_loss, window_n, window_t = 0.0, 0, time.monotonic()
        self.progress.phase("training", total_steps)
        if step:
            self.progress.advance(step)
        validated_at = -1
        # the data position of the last batch trained (the one a resume continues after)
        done_epoch, done_in_epoch = epoch, start
        while step < total_steps and epoch < cfg.epochs:
            for encoded_batch in self.batches(epoch, start):
                batch = batch_pixels(encoded_batch, cfg.input_size(), self.device)
                lr = cfg.lr_at(epoch, start / spe)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                bad = self._gather_bad(batch.bad, self.train_labels)
                self.bad_total += len(bad)
                self.items_total += cfg.batch_size
                self.record_bad(bad)
                self._check_bad_share()
                loss = self._guarded_step(batch, step)
                step += 1
                start += 1
                done_epoch, done_in_epoch = epoch, start
                window_loss, window_n = window_loss + loss, window_n + 1
                self.progress.advance(1)
                self.progress.update(epoch=epoch + 1, step=step, loss=round(loss, 4), lr=lr)
                if step % cfg.log_every_steps == 0 or step == total_steps:
                    now = time.monotonic()
                    rate = window_n * cfg.batch_size / max(now - window_t, 1e-9)
                    metrics = {"loss": window_loss / window_n, "lr": lr, "images_per_s": rate}
                    self.progress.update(img_s=round(rate, 1))
                    if self.ranks.main:
                        with self.engine.begin() as conn:
                            registry.write_metrics(conn, self.model_id, step, epoch,
                                                   step * cfg.batch_size, "train", metrics)
                        self._tensorboard("train", metrics, step)
                    window_loss, window_n, window_t = 0.0, 0, now
                crossed = (step * cfg.batch_size) // cfg.validate_every_images > \
                    ((step - 1) * cfg.batch_size) // cfg.validate_every_images
                end_of_epoch = start == spe
                if crossed or step == total_steps or (end_of_epoch and cfg.validate_each_epoch):
                    self.after_validation(self.validate(), epoch, step)
                    validated_at = step
                    self.save_last(epoch, start, step)
                elif step % cfg.checkpoint_every_steps == 0:
                    self.save_last(epoch, start, step)
                if step >= total_steps:
                    break
            epoch, start = epoch + 1, 0
        if validated_at != step:
            self.after_validation(self.validate(), done_epoch, step)
            self.save_last(done_epoch, done_in_epoch, step)
        if self.writer is not None:
            self.writer.close()
        return TrainSummary(cfg.name, self.model_id, self.run_id, step, step * cfg.batch_size,
                           self.checkpoint_dir() / "best.pt" if self.best_step is not None
                           else None, self.checkpoint_dir() / "last.pt", self.best_metrics,
                           self.last_val, len(self.bad_seen), resumed_from,
                           time.monotonic() - t0, self.weights_note)

    def _check_bad_share(self) -> None:
        cfg = self.config
        if self.bad_total == 0:
            return
        enough = self.items_total >= min(1000, len(self.train_labels))
        if enough and self.bad_total > cfg.max_bad_share * self.items_total:
            raise GeotoolError(
                f"{self.bad_total} of {self.items_total} images read so far are missing or "
                f"damaged (more than max_bad_share = {cfg.max_bad_share}); see the "
                f"bad_images table (run {self.run_id}) for which and why, fix the files, "
                "or raise --max-bad-share")

    def _guarded_step(self, batch: Batch, step: int) -> float:
        if len(batch) == 0:
            if self.ranks.world > 1:
                raise GeotoolError(f"step {step + 1}: every image of a batch slice is bad")
            return 0.0
        try:
            loss = self.train_step(batch, step)
        except torch.OutOfMemoryError:
            raise GeotoolError(
                f"the {self.device} ran out of memory at batch size {self.config.batch_size}; "
                "give a smaller --batch-size (and a proportionally smaller --lr)") from None
        if not math.isfinite(loss):
            raise GeotoolError(
                f"the loss became {loss} at step {step + 1}; training stopped. The last good "
                f"checkpoint is kept ({self.checkpoint_dir() / 'last.pt'}); lower --lr or "
                "check the data, then start again (or --resume to retry from it)")
        return loss


def train(engine: Engine, params: TrainParams, *,
          progress: Progress = NO_PROGRESS) -> TrainSummary:
    """Train (or with ``params.resume`` continue) model ``params.config.name`` on
    ``params.config.partitions``.

    ``params.force`` replaces an existing model of that name. Raises
    :class:`GeotoolError` for everything the user can fix (unknown backbone, a set
    without labels, a rebuilt set, a name in use, a NaN loss, too many bad images, GPU
    out of memory).
    """
    params.validate()
    config, resume, force = params.config, params.resume, params.force
    if config.tensorboard:
        from geotool.errors import require_module

        require_module("tensorboard", "tensorboard", "--tensorboard")
    trainer = _Trainer(engine, config, progress, resume, force)
    if not trainer.ranks.main:
        progress = NO_PROGRESS
        trainer.progress = progress
    state = trainer.prepare()
    trainer.build_model(state)
    cfg = trainer.config
    if not trainer.ranks.main:
        dist.barrier()  # rank 0 opens the records first
        return trainer.run(state)
    from geotool.db.runs import recorded_run

    recorded = {**cfg.to_dict(), "resume": resume, "world_size": trainer.ranks.world}
    with recorded_run(engine, "train", recorded, trainer.dataset_id) as run:
        trainer.run_id = run.id
        trainer.open_records(state)
        if trainer.ranks.world > 1:
            dist.barrier()
        try:
            result = trainer.run(state)
        except BaseException as exc:
            status = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
            with engine.begin() as conn:
                registry.update_model(conn, trainer.model_id, status=status)
            raise
        with engine.begin() as conn:
            registry.update_model(conn, trainer.model_id, status="done")
        run.summary = {"model": cfg.name, "steps": result.steps,
                       "images_seen": result.images_seen, "best_metrics": result.best_metrics,
                       "bad_images": result.bad_images}
    return result
