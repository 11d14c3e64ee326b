"""A tiny stand-in for the alignment model (same interface as
``geotool.learn.align.model.AlignModel``), for the prediction tests.

``encode_image``: mean colour of a 4×4 grid → linear → L2-normalised; ``encode_gps``:
random Fourier features of the unit vector of (lat, lon) → linear → L2-normalised;
``concept_scores``: softmax of the cosine similarity to K concept vectors over a
temperature; ``logit_scale``: a learnable log-scale (GeoCLIP's log(1/0.07)). The weights
are random (seeded), so answers are arbitrary but deterministic; tests check the
machinery against independent computations, not accuracy. :func:`save_tiny` /
:func:`load_tiny` write and read its checkpoint (a ``Loader`` for
``geotool.learn.align.predict``), and :func:`register_tiny` inserts a ``models`` row of
family ``align`` pointing at it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from torch import nn

CONCEPTS = ("tropical climate", "arid climate", "temperate climate", "boreal climate",
            "mountain", "tower", "dome roof", "water")


class TinyAlignModel(nn.Module):
    def __init__(self, dim: int = 16, concept_names: tuple[str, ...] = CONCEPTS,
                 seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.concept_names = list(concept_names)
        self.image = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, dim))
        self.register_buffer("freqs", torch.randn(3, 32, generator=g) * 3.0)
        self.gps = nn.Linear(64, dim)
        self.concepts = nn.Parameter(torch.randn(len(concept_names), dim, generator=g))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.temperature = 0.2
        with torch.no_grad():
            for p in (*self.image.parameters(), *self.gps.parameters()):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image(images), dim=-1)

    def encode_gps(self, latlon: torch.Tensor) -> torch.Tensor:
        lat, lon = torch.deg2rad(latlon[:, 0]), torch.deg2rad(latlon[:, 1])
        xyz = torch.stack([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], dim=1)
        f = xyz @ self.freqs
        return nn.functional.normalize(self.gps(torch.cat([f.sin(), f.cos()], dim=1)), dim=-1)

    def concept_scores(self, emb: torch.Tensor) -> torch.Tensor:
        sim = nn.functional.normalize(emb, dim=-1) @ nn.functional.normalize(
            self.concepts, dim=-1).T
        return torch.softmax(sim / self.temperature, dim=-1)


def save_tiny(model: TinyAlignModel, path: Path, image_size: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": model.state_dict(), "concept_names": model.concept_names,
                "image_size": image_size}, path)
    return path


def load_tiny(path: Path, device: str) -> tuple[nn.Module, dict[str, Any]]:
    data = torch.load(path, map_location=device, weights_only=True)
    model = TinyAlignModel(concept_names=tuple(data["concept_names"]))
    model.load_state_dict(data["state"])
    meta = {"image_size": data["image_size"],
            "config": {"family": "align", "image_size": data["image_size"],
                       "concept_vocab": "tiny"}}
    return model.to(device).eval(), meta


def register_tiny(engine: Engine, name: str, checkpoint: Path, dataset: str) -> int:
    """A ``models`` row of family ``align`` for the checkpoint (status done)."""
    params = {"family": "align", "dataset": dataset, "image_size": 32}
    with engine.begin() as conn:
        return int(conn.execute(sa.text(
            "INSERT INTO models (name, family, dataset_id, concepts, arch, params, "
            "checkpoint_path, status) SELECT :n, 'align', d.id, CAST(:k AS jsonb), "
            "'tiny_align', CAST(:p AS jsonb), :c, 'done' FROM datasets d WHERE d.name = :ds "
            "RETURNING id"),
            {"n": name, "p": json.dumps(params), "c": str(checkpoint), "ds": dataset,
             "k": json.dumps(list(CONCEPTS))}).scalar_one())
