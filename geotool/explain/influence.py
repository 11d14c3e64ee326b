"""Concept influence (ci) as pure tensor functions (docs/concepts.md, docs/method.md).

For an explanation map ``E`` ``[H, W]`` and a label map ``L`` ``[H, W]`` (one concept id
per pixel), and a concept ``c`` with binary mask ``S_c`` (optionally dilated by β):

- ``T_k``: the ``k`` pixels with the highest ``E``, ``k`` capped at ``H·W``;
- ``tki(c) = |T_k ∩ S_c| / k``;
- ``size(c) = |S_c| / (H·W)``; concepts with ``size < min_size`` are skipped;
- ``ci(c) = tki(c) / size(c)``.

**Ties at the k-th value.** ``T_k`` is exactly ``k`` pixels. Pixels are ranked by value,
highest first, and pixels with equal value by their row-major index, lowest first (a
stable descending sort). So a tie at the k-th value keeps the tied pixels that come
first in reading order. :func:`top_k_mask` documents and implements this rule; the
tests check it against an independent NumPy implementation.

**Dilation.** ``dilate(mask, β)`` grows a mask by the full 3×3 neighbourhood (all eight
neighbours), iterated β times — equal to one dilation with a ``(2β+1)²`` square, which is
how it is computed (one max-pool). Pixels outside the image are never set.

The reference helper's defects (its dilation never ran, its neighbourhood lacked two
diagonals, its border test swapped rows and columns, it divided by k on images with fewer
than k pixels) are what these functions and their tests exist to avoid.

Everything here is batched: a batch of images, all their concepts and all β at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: ``k`` of the paper at 224×224 pixels.
DEFAULT_K = 1000
DEFAULT_K_PIXELS = 224 * 224


def scaled_k(height: int, width: int, k: int | None = None,
             k_at: int = DEFAULT_K, reference_pixels: int = DEFAULT_K_PIXELS) -> int:
    """``k`` for an ``height × width`` map: given, or ``k_at`` scaled by the pixel count.

    The result is at least 1 and at most ``height · width``.
    """
    pixels = height * width
    if k is None:
        k = max(1, round(k_at * pixels / reference_pixels))
    return max(1, min(int(k), pixels))


def top_k_mask(explanations: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean ``[B, H, W]``: the ``k`` highest pixels of each map (ties: lower index first).

    ``k`` is capped at ``H·W``. A stable descending sort ranks equal values by their
    row-major index, so among pixels tied at the k-th value the first ones in reading
    order are taken.
    """
    b, h, w = explanations.shape
    k = max(1, min(int(k), h * w))
    flat = explanations.reshape(b, h * w)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices[:, :k]
    chosen = torch.zeros(b, h * w, dtype=torch.bool, device=flat.device)
    chosen.scatter_(1, order, True)
    return chosen.reshape(b, h, w)


def dilate(masks: torch.Tensor, beta: int) -> torch.Tensor:
    """Dilate boolean masks ``[..., H, W]`` β times with the full 3×3 neighbourhood."""
    if beta < 0:
        raise ValueError(f"dilation beta must be >= 0, got {beta}")
    if beta == 0:
        return masks.bool()
    shape = masks.shape
    x = masks.reshape(-1, 1, shape[-2], shape[-1]).float()
    # max-pool of a square (2β+1) kernel == β iterations of the 3×3 dilation; padding with
    # -inf (max_pool's own) means outside pixels never count.
    y = F.max_pool2d(x, kernel_size=2 * beta + 1, stride=1, padding=beta)
    return (y > 0).reshape(shape)


@dataclass
class InfluenceRows:
    """Per (image, concept, β) results as flat tensors (one entry per kept triple)."""

    image: torch.Tensor  # int64 index into the batch
    concept: torch.Tensor  # int64 concept id
    beta: torch.Tensor  # int64
    tki: torch.Tensor  # float64
    size: torch.Tensor  # float64 relative size |S_c| / (H·W)
    ci: torch.Tensor  # float64
    mask_pixels: torch.Tensor  # int64 |S_c|
    hit_pixels: torch.Tensor  # int64 |T_k ∩ S_c|
    k: int

    def __len__(self) -> int:
        return int(self.image.numel())


def concept_influence(explanations: torch.Tensor, label_maps: torch.Tensor,
                      k: int | None = None, betas: Sequence[int] = (0,),
                      min_size: float = 0.0, ignore: Sequence[int] = (0,)) -> InfluenceRows:
    """ci of every concept present in each label map, for every β.

    ``explanations`` float ``[B, H, W]``; ``label_maps`` int ``[B, H, W]``; ``k`` None
    means :func:`scaled_k`. Concept ids in ``ignore`` (0 = "other") are skipped, and so is
    every (image, concept, β) whose (dilated) relative size is below ``min_size`` or zero.
    Presence is decided on the undilated map: dilation grows concepts, never creates them.
    """
    if explanations.shape != label_maps.shape or explanations.dim() != 3:
        raise ValueError(f"explanations {tuple(explanations.shape)} and label maps "
                         f"{tuple(label_maps.shape)} must both be [B, H, W]")
    b, h, w = explanations.shape
    pixels = h * w
    k = scaled_k(h, w, k)
    device = explanations.device
    top = top_k_mask(explanations, k)  # [B, H, W]
    labels = label_maps.long()
    present = torch.unique(labels)
    keep = torch.ones_like(present, dtype=torch.bool)
    for ignored in ignore:
        keep &= present != ignored
    concepts = present[keep]  # [C]
    empty_i = torch.zeros(0, dtype=torch.long, device=device)
    empty_f = torch.zeros(0, dtype=torch.float64, device=device)
    if concepts.numel() == 0:
        return InfluenceRows(empty_i, empty_i, empty_i, empty_f, empty_f, empty_f,
                             empty_i, empty_i, k)
    masks = labels.unsqueeze(1) == concepts.view(1, -1, 1, 1)  # [B, C, H, W]
    in_image = masks.flatten(2).any(dim=2)  # [B, C]
    out = []
    for beta in betas:
        grown = dilate(masks, int(beta))
        mask_px = grown.flatten(2).sum(dim=2)  # [B, C]
        hits = (grown & top.unsqueeze(1)).flatten(2).sum(dim=2)
        size = mask_px.double() / pixels
        tki = hits.double() / k
        valid = in_image & (mask_px > 0) & (size >= min_size)
        img_idx, con_idx = torch.nonzero(valid, as_tuple=True)
        s = size[img_idx, con_idx]
        t = tki[img_idx, con_idx]
        out.append((img_idx, concepts[con_idx],
                    torch.full_like(img_idx, int(beta)), t, s, t / s,
                    mask_px[img_idx, con_idx], hits[img_idx, con_idx]))
    cols = [torch.cat([o[i] for o in out]) for i in range(8)]
    return InfluenceRows(cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
                         cols[6].long(), cols[7].long(), k)


def reduce_channels(attributions: torch.Tensor, mode: str = "absmax") -> torch.Tensor:
    """``[B, C, H, W]`` → ``[B, H, W]``: max of |a| over channels, or the signed max.

    ``absmax`` is the method's reduction (docs/method.md); ``max`` is what the reference
    helper did (signed values, so strongly negative evidence is dropped).
    """
    if mode == "absmax":
        return attributions.abs().amax(dim=1)
    if mode == "max":
        return attributions.amax(dim=1)
    raise ValueError(f"unknown channel reduction {mode!r}: use 'absmax' or 'max'")
