"""The image encoder: any classifier backbone + GeoCLIP's projection MLP.

features (backbone, global-pooled) → Linear(width, hidden) → ReLU → Linear(hidden, dim).
GeoCLIP's is CLIP ViT-L/14 (768-d) → 768 → 512; CLIP is fetched from a model hub at run
time, so here it is an option only for users who have the weights on disk:
``backbone = "clip"`` with ``clip_path`` a local Hugging Face CLIP folder (needs the
``transformers`` package; loaded with ``local_files_only``). Offline, the pretrained
image side is ``efficientnet_lite0`` with ``pretrained = true`` (ImageNet weights from an
installed package).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from geotool.errors import MissingExtraError, MissingInputError


class ClipVision(nn.Module):
    """CLIP's image tower from a local folder → its projected image features."""

    def __init__(self, path: str) -> None:
        super().__init__()
        import importlib.util

        if importlib.util.find_spec("transformers") is None:
            raise MissingExtraError("transformers", "clip", "backbone clip")
        if not Path(path).is_dir():
            raise MissingInputError(f"clip_path {path!r} is not a folder holding a CLIP model "
                                    "(config.json and weights); geotool never downloads it")
        from transformers import CLIPVisionModelWithProjection

        self.clip = CLIPVisionModelWithProjection.from_pretrained(path, local_files_only=True)
        self.width = int(self.clip.config.projection_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.clip(pixel_values=x).image_embeds


class ImageEncoder(nn.Module):
    """Backbone features → projection MLP (unnormalised output)."""

    def __init__(self, backbone: str, dim: int, hidden: int, pretrained: bool = False,
                 clip_path: str = "") -> None:
        super().__init__()
        self.backbone_name = backbone
        if backbone == "clip":
            self.backbone: nn.Module = ClipVision(clip_path)
            width = self.backbone.width
            self.image_size = 224
        else:
            from geotool.learn.model import backbone_spec, load_packaged_weights

            spec = backbone_spec(backbone)
            self.backbone, width = spec.build()
            self.image_size = spec.image_size
            if pretrained:
                load_packaged_weights(self.backbone, spec)
        self.feature_width = int(width)
        self.projection = nn.Sequential(nn.Linear(self.feature_width, hidden), nn.ReLU(),
                                        nn.Linear(hidden, dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone(images))
