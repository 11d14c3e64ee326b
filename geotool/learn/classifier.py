"""The classifier family: the paper's multi-partitioning classifier in the shared loop.

Learns the partitioning set ``config.partitions``: one linear head per level, loss = the
sum of the heads' cross-entropies (targets unlabelled at a level are ignored), validation
= per-head loss and accuracy and the km ladder of the finest head's class coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import torch
import torch.distributed as dist
from sqlalchemy.engine import Connection, Engine
from torch import nn

from geotool.errors import GeotoolError
from geotool.learn import registry
from geotool.learn.checkpoint import read_checkpoint
from geotool.learn.classes import SetClasses, check_same_classes, read_set_classes
from geotool.learn.config import TrainConfig
from geotool.learn.family import TrainerView, TrainingFamily
from geotool.learn.geodesy import haversine_km
from geotool.learn.labels import read_label_arrays
from geotool.learn.model import GeoClassifier

if TYPE_CHECKING:
    from geotool.learn.data import Batch

KM_LADDER = (1, 25, 200, 750, 2500)


def multi_head_loss(logits: list[torch.Tensor], targets: torch.Tensor,
                    denominators: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Sum over heads of the mean cross-entropy of the labelled targets of that head.

    ``denominators[k]`` replaces the count of labelled targets of head ``k``: under DDP
    each rank divides by (global count / world size), so the averaged gradients are those
    of the global batch's mean even when the ranks hold different numbers of labels.
    """
    per_head = []
    for k, out in enumerate(logits):
        target = targets[:, k]
        n = (target >= 0).sum() if denominators is None else denominators[k]
        total = nn.functional.cross_entropy(out.float(), target, ignore_index=-1,
                                            reduction="sum")
        per_head.append(total / n.clamp(min=1e-12 if denominators is not None else 1))
    return torch.stack(per_head).sum(), per_head


def ddp_denominators(global_counts: torch.Tensor, world: int) -> torch.Tensor:
    """Each rank's divisor per head under DDP: the global batch's labelled count per head
    / world size (DDP averages the ranks' gradients, so the mean over ranks of
    ``sum_r / (N / world)`` is the global batch's mean ``Σ sum_r / N``); a head with no
    label anywhere divides 0 by 1/world, contributing 0."""
    return (global_counts.to(torch.float64) / world).clamp(min=1.0 / world)


class ClassifierFamily(TrainingFamily):
    """One head per level of a partitioning set."""

    name = "classifier"

    def check_resume(self, given: TrainConfig, stored: TrainConfig) -> None:
        if given.partitions and given.partitions != stored.partitions:
            raise GeotoolError(f"model {given.name!r} was trained on set "
                               f"{stored.partitions!r}, not {given.partitions!r}; "
                               "resume it without --partitions")

    def load_data(self, conn: Connection, cfg: TrainConfig,
                  state: dict[str, Any] | None) -> None:
        try:
            self.classes = read_set_classes(conn, cfg.partitions)
        except GeotoolError as exc:
            raise GeotoolError(f"--partitions {cfg.partitions!r}: {exc}") from None
        if state is not None:
            check_same_classes(cfg.name, SetClasses.from_dict(state["classes"]), self.classes)
        self.set_id = int(conn.execute(sa.text(
            "SELECT id FROM partitioning_sets WHERE name = :n"),
            {"n": cfg.partitions}).scalar_one())
        self.dataset_id = conn.execute(sa.text(
            "SELECT dataset_id FROM partitioning_sets WHERE id = :i"),
            {"i": self.set_id}).scalar()
        n_levels = len(self.classes.levels)
        self.train_rows = read_label_arrays(conn, cfg.partitions, "train", n_levels)
        self.val_rows = read_label_arrays(conn, cfg.partitions, "val", n_levels)
        if len(self.train_rows) == 0:
            raise GeotoolError(f"set {cfg.partitions!r} has no labelled train images; "
                               "check its build (`geotool partitions show`)")
        if len(self.train_rows) < cfg.batch_size:
            raise GeotoolError(f"batch size {cfg.batch_size} exceeds the "
                               f"{len(self.train_rows)} labelled train images of "
                               f"{cfg.partitions!r}; give a smaller --batch-size")

    def build_model(self, cfg: TrainConfig, state: dict[str, Any] | None,
                    engine: Engine) -> nn.Module:
        torch.manual_seed(cfg.seed)
        model = GeoClassifier(cfg.backbone, self.classes.n_classes,
                              pretrained=cfg.pretrained and state is None)
        if state is not None:
            model.load_state_dict(state["model"])
        elif cfg.weights:
            from geotool.learn.weights import load_weights_file

            self.weights_note = load_weights_file(model, Path(cfg.weights), self.classes)
        elif cfg.init_from:
            from geotool.learn.weights import load_geotool_checkpoint

            with engine.connect() as conn:
                source = registry.get_model(conn, cfg.init_from)
            if not source.checkpoint_path:
                raise GeotoolError(f"--init-from {cfg.init_from!r}: that model has no "
                                   "checkpoint yet")
            self.weights_note = load_geotool_checkpoint(
                model, read_checkpoint(Path(source.checkpoint_path)), self.classes,
                f"model {cfg.init_from!r}", heads=False)
        elif cfg.pretrained:
            self.weights_note = f"backbone {cfg.backbone}: packaged ImageNet weights"
        return model

    def loss(self, trainer: TrainerView, batch: Batch, step: int) -> torch.Tensor:
        x = trainer.pixels(batch)
        y = batch.targets.to(trainer.device, non_blocking=True)
        with trainer.autocast():
            logits = trainer.train_module(x)
        denominators = None
        if trainer.ranks.world > 1:
            counts = (y >= 0).sum(0).to(torch.float64)
            dist.all_reduce(counts)
            denominators = ddp_denominators(counts, trainer.ranks.world)
        loss, _ = multi_head_loss(logits, y, denominators)
        return loss

    @torch.no_grad()
    def validate(self, trainer: TrainerView) -> dict[str, float]:
        labels = self.val_rows
        if len(labels) == 0:
            return {}
        n_levels = len(self.classes.levels)
        # sums: per head loss, correct, labelled; ladder counts; km sum; images
        sums = torch.zeros(3 * n_levels + len(KM_LADDER) + 2, dtype=torch.float64)
        fine = self.classes.levels[0]
        model = trainer.model
        for batch in trainer.val_batches(labels):
            x = trainer.pixels(batch)
            y = batch.targets.to(trainer.device)
            with trainer.autocast():
                logits = model(x)
            for k, out in enumerate(logits):
                t = y[:, k]
                sums[k] += float(nn.functional.cross_entropy(
                    out.float(), t, ignore_index=-1, reduction="sum"))
                labelled = t >= 0
                sums[n_levels + k] += float((out.argmax(1)[labelled] == t[labelled]).sum())
                sums[2 * n_levels + k] += float(labelled.sum())
            pred = logits[0].argmax(1).cpu().numpy()
            rows = batch.rows.numpy()
            km = haversine_km(labels.lat[rows], labels.lon[rows], fine.lat[pred], fine.lon[pred])
            base = 3 * n_levels
            for j, r in enumerate(KM_LADDER):
                sums[base + j] += float((km <= r).sum())
            sums[base + len(KM_LADDER)] += float(km.sum())
            sums[base + len(KM_LADDER) + 1] += len(km)
        sums = trainer.reduce(sums)
        metrics: dict[str, float] = {}
        total_loss = 0.0
        for k in range(n_levels):
            n = max(float(sums[2 * n_levels + k]), 1.0)
            metrics[f"loss_l{k}"] = float(sums[k]) / n
            metrics[f"acc_l{k}"] = float(sums[n_levels + k]) / n
            total_loss += metrics[f"loss_l{k}"]
        metrics["loss"] = total_loss
        base = 3 * n_levels
        n_img = max(float(sums[base + len(KM_LADDER) + 1]), 1.0)
        for j, r in enumerate(KM_LADDER):
            metrics[f"acc_{r}km"] = float(sums[base + j]) / n_img
        metrics["mean_km"] = float(sums[base + len(KM_LADDER)]) / n_img
        metrics["images"] = n_img
        return metrics

    def checkpoint_fields(self) -> dict[str, Any]:
        return {"classes": self.classes.to_dict()}

    def create_record(self, conn: Connection, cfg: TrainConfig, run_id: int) -> int:
        return registry.create_model(conn, cfg.name, self.set_id, self.classes, cfg.backbone,
                                     cfg.to_dict(), run_id)

    def val_message(self, step: int, metrics: dict[str, float]) -> str:
        return (f"step {step}: val loss {metrics['loss']:.4f}, coarsest acc "
                f"{metrics[f'acc_l{len(self.classes.levels) - 1}']:.3f}, "
                f"finest acc {metrics['acc_l0']:.3f}")
