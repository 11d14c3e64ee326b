"""The alignment family in the shared training loop (:mod:`geotool.learn.train`).

One step, for a batch of photos with coordinates y_i:

1. jitter: y_i + Gaussian noise of σ = ``gps_jitter_km`` (north and east, km → degrees;
   latitude clamped, longitude wrapped), drawn from a generator seeded by (seed, step,
   rank) — a pure function of the position, so a resumed run draws the same noise;
2. image embeddings u_i, GPS embeddings g_i of the jittered coordinates and (``queue_store
   = "coordinates"``) of the queued coordinates, in one forward call;
3. loss = InfoNCE(u, g, queue) + λ · D(p(u) ‖ p(g)) + μ · [H(t, p(u)) + H(t, p(g))]
   with D the concept divergence (JS or symmetric KL), p(·) the concept distributions,
   t the concept truth (docs/method.md);
4. after the optimiser step the batch's (un-jittered, all ranks') coordinates — or their
   embeddings — enter the queue.

Validation: the val photos against a gallery of the training coordinates (argmax of the
cosine similarity), the km ladder, InfoNCE within the batch and the concept divergence;
``loss`` = InfoNCE + λ · D, lowest = best.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from sqlalchemy.engine import Connection, Engine
from torch import nn

from geotool.errors import GeotoolError
from geotool.learn import registry
from geotool.learn.align.concepts import concept_divergence, concept_supervision
from geotool.learn.align.data import AlignRows, concept_targets, read_align_rows
from geotool.learn.align.loss import GpsQueue, info_nce
from geotool.learn.align.model import FAMILY, AlignModel, build_align_model
from geotool.learn.classifier import KM_LADDER
from geotool.learn.config import TrainConfig
from geotool.learn.family import TrainerView, TrainingFamily
from geotool.learn.geodesy import haversine_km
from geotool.vocab.concepts import Vocabulary, check_names, load_vocabulary

if TYPE_CHECKING:
    from geotool.learn.data import Batch

KM_PER_DEGREE = 6371.0 * math.pi / 180.0


def jitter(latlon: torch.Tensor, sigma_km: float, generator: torch.Generator) -> torch.Tensor:
    """Coordinates [N, 2] moved by Gaussian noise of ``sigma_km`` north and east."""
    if sigma_km <= 0:
        return latlon
    noise = torch.randn(latlon.shape, generator=generator, dtype=torch.float64) * sigma_km
    lat = latlon[:, 0].double() + noise[:, 0] / KM_PER_DEGREE
    coslat = torch.cos(torch.deg2rad(latlon[:, 0].double())).clamp_min(0.01)
    lon = latlon[:, 1].double() + noise[:, 1] / (KM_PER_DEGREE * coslat)
    lon = torch.remainder(lon + 180.0, 360.0) - 180.0
    return torch.stack([lat.clamp(-90.0, 90.0), lon], dim=1).to(latlon.dtype)


def _generator(*parts: int) -> torch.Generator:
    seed = int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)


@torch.no_grad()
def encode_gallery(model: AlignModel, latlon: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """GPS embeddings of a gallery [N, 2] in chunks → [N, D]."""
    return torch.cat([model.encode_gps(latlon[i:i + chunk])
                      for i in range(0, len(latlon), chunk)])


class AlignFamily(TrainingFamily):
    """Image encoder + GPS encoder + concept bank, contrastive and concept losses."""

    name = FAMILY

    def __init__(self) -> None:
        self.targets: torch.Tensor | None = None
        self.queue: GpsQueue | None = None
        self._pending: torch.Tensor | None = None

    def check_resume(self, given: TrainConfig, stored: TrainConfig) -> None:
        if given.dataset and given.dataset != stored.dataset:
            raise GeotoolError(f"model {given.name!r} was trained on dataset "
                               f"{stored.dataset!r}, not {given.dataset!r}; resume it "
                               "without --dataset")

    def load_data(self, conn: Connection, cfg: TrainConfig,
                  state: dict[str, Any] | None) -> None:
        from geotool.db.datasets import dataset_id

        self.cfg = cfg
        self.dataset_id = dataset_id(conn, cfg.dataset)
        self.vocab: Vocabulary = load_vocabulary(cfg.concept_vocab)
        if state is not None:
            check_names(self.vocab, list(state["concept_names"]), f"model {cfg.name!r}")
        self.train_all: AlignRows = read_align_rows(conn, cfg.dataset, "train")
        self.val_all: AlignRows = read_align_rows(conn, cfg.dataset, "val")
        self.train_rows, self.val_rows = self.train_all.arrays, self.val_all.arrays
        if len(self.train_rows) == 0:
            raise GeotoolError(f"dataset {cfg.dataset!r} has no train photos; ingest some "
                               "(`geotool ingest FILE --dataset NAME`)")
        if len(self.train_rows) < cfg.batch_size:
            raise GeotoolError(f"batch size {cfg.batch_size} exceeds the "
                               f"{len(self.train_rows)} train photos of dataset "
                               f"{cfg.dataset!r}; give a smaller --batch-size")
        if cfg.concept_supervision > 0:
            t = concept_targets(self.train_all, self.vocab, cfg.concept_truth,
                                cfg.concept_target)
            if not (t.sum(1) > 0).any():
                raise GeotoolError(f"concept_supervision > 0, but no train photo of "
                                   f"{cfg.dataset!r} has concept truth for vocabulary "
                                   f"{self.vocab.name!r} (masks or photos.json climates)")
            self.targets = torch.from_numpy(t)
        self.coords = torch.from_numpy(np.stack([self.train_rows.lat, self.train_rows.lon],
                                                1)).float()
        gallery = np.unique(np.stack([self.train_rows.lat, self.train_rows.lon], 1), axis=0)
        self.gallery = torch.from_numpy(gallery).float()

    def build_model(self, cfg: TrainConfig, state: dict[str, Any] | None,
                    engine: Engine) -> nn.Module:
        if state is not None:
            model = build_align_model(cfg, list(state["concept_names"]))
            model.load_state_dict(state["model"])
        else:
            model = build_align_model(cfg)
            notes = []
            if cfg.pretrained:
                notes.append(f"image backbone {cfg.backbone}: packaged ImageNet weights")
            if cfg.gps_init == "geoclip":
                notes.append("GPS encoder: GeoCLIP's pretrained location encoder")
            self.weights_note = "; ".join(notes)
        width = 2 if cfg.queue_store == "coordinates" else cfg.embed_dim
        self.queue = GpsQueue(cfg.queue_size, width)
        self.model = model
        return model

    def state_dict(self) -> dict[str, Any]:
        return {"queue": self.queue.state_dict()} if self.queue is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.queue is not None and "queue" in state:
            self.queue.load_state_dict(state["queue"])

    def loss(self, trainer: TrainerView, batch: Batch, step: int) -> torch.Tensor:
        cfg, device = trainer.config, trainer.device
        assert self.queue is not None
        self.queue.to(device)
        x = trainer.pixels(batch)
        rows = batch.rows
        coords = self.coords[rows]
        moved = jitter(coords, cfg.gps_jitter_km,
                       _generator(cfg.seed, step, trainer.ranks.rank)).to(device)
        queued = self.queue.items()
        by_coords = cfg.queue_store == "coordinates"
        gps_in = torch.cat([moved, queued]) if by_coords and len(queued) else moved
        with trainer.autocast():
            img, gps_all = trainer.train_module(x, gps_in)
        gps = gps_all[:len(moved)]
        negatives = gps_all[len(moved):] if by_coords else queued
        model = self.model
        loss = info_nce(img, gps, negatives, model.logit_scale)
        img_logits = gps_logits = None
        if cfg.concept_lambda > 0 or cfg.concept_supervision > 0:
            img_logits = model.concept_logits(img.float())
            gps_logits = model.concept_logits(gps.float())
        if cfg.concept_lambda > 0:
            assert img_logits is not None and gps_logits is not None
            loss = loss + cfg.concept_lambda * concept_divergence(
                img_logits, gps_logits, cfg.concept_divergence)
        if cfg.concept_supervision > 0 and self.targets is not None:
            assert img_logits is not None and gps_logits is not None
            t = self.targets[rows].to(device)
            loss = loss + cfg.concept_supervision * (concept_supervision(img_logits, t)
                                                     + concept_supervision(gps_logits, t))
        self._pending = coords.to(device) if by_coords else gps.detach()
        return loss

    def after_step(self) -> None:
        if self._pending is None or self.queue is None:
            return
        pending = self._pending
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            parts = [torch.empty_like(pending) for _ in range(dist.get_world_size())]
            dist.all_gather(parts, pending.contiguous())
            pending = torch.cat(parts)
        self.queue.push(pending)
        self._pending = None

    def validate(self, trainer: TrainerView) -> dict[str, float]:
        cfg, device, labels = trainer.config, trainer.device, self.val_rows
        model = self.model
        model.eval()
        gallery = self.gallery.to(device)
        gallery_emb = encode_gallery(model, gallery)
        # sums: nce, concept, ladder counts, km, images
        sums = torch.zeros(2 + len(KM_LADDER) + 2, dtype=torch.float64)
        for batch in trainer.val_batches(labels):
            x = trainer.pixels(batch)
            rows = batch.rows.numpy()
            coords = torch.from_numpy(np.stack([labels.lat[rows], labels.lon[rows]], 1)
                                      ).float().to(device)
            with trainer.autocast():
                img, gps = model(x, coords)
            img, gps = img.float(), gps.float()
            n = len(rows)
            sums[0] += float(info_nce(img, gps, None, model.logit_scale)) * n
            sums[1] += float(concept_divergence(model.concept_logits(img),
                                                model.concept_logits(gps),
                                                cfg.concept_divergence)) * n
            best = (img @ gallery_emb.T).argmax(1).cpu()
            pred = self.gallery[best].double().numpy()
            km = haversine_km(labels.lat[rows], labels.lon[rows], pred[:, 0], pred[:, 1])
            for j, r in enumerate(KM_LADDER):
                sums[2 + j] += float((km <= r).sum())
            sums[2 + len(KM_LADDER)] += float(km.sum())
            sums[3 + len(KM_LADDER)] += n
        sums = trainer.reduce(sums)
        n_img = max(float(sums[3 + len(KM_LADDER)]), 1.0)
        metrics = {"loss_nce": float(sums[0]) / n_img, "loss_concept": float(sums[1]) / n_img}
        metrics["loss"] = metrics["loss_nce"] + cfg.concept_lambda * metrics["loss_concept"]
        for j, r in enumerate(KM_LADDER):
            metrics[f"acc_{r}km"] = float(sums[2 + j]) / n_img
        metrics["mean_km"] = float(sums[2 + len(KM_LADDER)]) / n_img
        metrics["images"] = n_img
        metrics["logit_scale"] = float(model.logit_scale.detach().exp())
        return metrics

    def checkpoint_fields(self) -> dict[str, Any]:
        return {"concept_names": self.vocab.names, "vocabulary": self.vocab.name}

    def create_record(self, conn: Connection, cfg: TrainConfig, run_id: int) -> int:
        assert self.dataset_id is not None
        return registry.create_align_model(conn, cfg.name, self.dataset_id, self.vocab.names,
                                           cfg.backbone, cfg.to_dict(), run_id)

    def val_message(self, step: int, metrics: dict[str, float]) -> str:
        return (f"step {step}: val loss {metrics['loss']:.4f} (InfoNCE "
                f"{metrics['loss_nce']:.4f}, concept {metrics['loss_concept']:.4f}); within "
                f"25/200/750 km {metrics['acc_25km']:.3f}/{metrics['acc_200km']:.3f}/"
                f"{metrics['acc_750km']:.3f}")
