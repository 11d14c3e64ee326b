"""Concept influence (ci) as pure tensor functions (docs/concepts.md, docs/method.md).

For an explanation map ``E`` ``[H, W]`` and a label map ``L`` ``[H, W]`` (one concept id
per pixel), and a concept ``c`` with binary mask ``S_c`` (optionally dilated by β):

- ``T_k``: the ``k`` pixels with the highest ``E``, ``k`` capped at ``H·W``;
- ``tki(c) = |T_k ∩ S_c| / k``;
- ``size(c) = |S_c| / (H·W)``; concepts whose *undilated* size is below ``min_size`` are
  skipped at every β (so the β > 0 rows cover the same photos and concepts as β = 0);
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

from geotool.errors import InvalidValueError

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

    ``k`` is capped at ``H·W``. Every pixel above the k-th highest value is taken; of the
    pixels equal to it, the first ones in row-major order fill the remaining places
    (what a stable descending sort would choose, without sorting the whole map).
    """
    b, h, w = explanations.shape
    k = max(1, min(int(k), h * w))
    flat = explanations.reshape(b, h * w)
    kth = torch.topk(flat, k, dim=1, sorted=False).values.amin(dim=1, keepdim=True)
    above = flat > kth
    tied = flat == kth
    room = k - above.sum(dim=1, keepdim=True)
    chosen = above | (tied & (torch.cumsum(tied, dim=1) <= room))
    return chosen.reshape(b, h, w)


def dilate(masks: torch.Tensor, beta: int) -> torch.Tensor:
    """Dilate boolean masks ``[..., H, W]`` β times with the full 3×3 neighbourhood."""
    if beta < 0:
        raise InvalidValueError(f"dilation beta must be >= 0, got {beta}")
    out = masks.bool()
    if beta == 0:
        return out
    # β iterations of the 3×3 dilation == one (2β+1)² square, which is separable: OR of
    # the mask shifted by up to β columns, then of that shifted by up to β rows. Shifts
    # never wrap, so pixels outside the image never count.
    out = out.clone()
    for axis in (-1, -2):
        src = out.clone()
        n = out.shape[axis]
        for d in range(1, min(beta, n - 1) + 1):
            out.narrow(axis, d, n - d).logical_or_(src.narrow(axis, 0, n - d))
            out.narrow(axis, 0, n - d).logical_or_(src.narrow(axis, d, n - d))
    return out


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

    def select(self, keep: torch.Tensor) -> InfluenceRows:
        """The rows where boolean ``keep`` ``[len(self)]`` is true."""
        return InfluenceRows(self.image[keep], self.concept[keep], self.beta[keep],
                             self.tki[keep], self.size[keep], self.ci[keep],
                             self.mask_pixels[keep], self.hit_pixels[keep], self.k)


def concept_influence(explanations: torch.Tensor, label_maps: torch.Tensor,
                      k: int | None = None, betas: Sequence[int] = (0,),
                      min_size: float = 0.0, ignore: Sequence[int] = (0,)) -> InfluenceRows:
    """ci of every concept present in each label map, for every β.

    ``explanations`` float ``[B, H, W]``; ``label_maps`` int ``[B, H, W]``; ``k`` None
    means :func:`scaled_k`. Concept ids in ``ignore`` (0 = "other") are skipped, and so is
    every (image, concept) whose *undilated* relative size is below ``min_size``, at every
    β: presence and eligibility are decided on the undilated map (dilation grows concepts,
    never creates them, and never makes a too-small concept eligible at β > 0 only).
    """
    if explanations.shape != label_maps.shape or explanations.dim() != 3:
        raise ValueError(f"explanations {tuple(explanations.shape)} and label maps "
                         f"{tuple(label_maps.shape)} must both be [B, H, W]")
    b, h, w = explanations.shape
    pixels = h * w
    k = scaled_k(h, w, k)
    device = explanations.device
    top = top_k_mask(explanations, k)  # [B, H, W]
    labels = label_maps.to(torch.int64)
    empty_i = torch.zeros(0, dtype=torch.long, device=device)
    empty_f = torch.zeros(0, dtype=torch.float64, device=device)
    nothing = InfluenceRows(empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_i,
                            empty_i, k)
    if labels.numel() == 0:
        return nothing
    # pixels per (image, label value) and top-k pixels per (image, label value), counted
    # with one bincount each over keys image * span + (value - lowest value)
    lowest = int(labels.min())
    span = int(labels.max()) - lowest + 1
    if span > 1 << 20:
        raise ValueError(f"label values span {lowest}..{lowest + span - 1}: too wide for a "
                         "concept vocabulary (at most 2^20 values)")
    keys = (labels - lowest) + torch.arange(b, device=device).view(b, 1, 1) * span
    counts = torch.bincount(keys.flatten(), minlength=b * span).view(b, span)
    hits0 = torch.bincount(keys[top], minlength=b * span).view(b, span)
    for ignored in ignore:
        if 0 <= ignored - lowest < span:
            counts[:, ignored - lowest] = 0
    img_idx, col_idx = torch.nonzero(counts > 0, as_tuple=True)  # occurring pairs [P]
    if img_idx.numel() == 0:
        return nothing
    values = col_idx + lowest
    base: torch.Tensor | None = None  # [P, H, W] undilated masks, built when a β > 0 needs them
    top_p: torch.Tensor | None = None
    grown_beta = 0  # base is dilated by this much; β ascending so each step adds the rest
    eligible = counts[img_idx, col_idx].double() / pixels >= min_size  # undilated size
    out = []
    for beta in sorted({int(b) for b in betas}):
        if int(beta) == 0:
            mask_px = counts[img_idx, col_idx]
            hits = hits0[img_idx, col_idx]
        else:
            # one mask per occurring pair only (not per image x vocabulary)
            if base is None or top_p is None:
                small = torch.int16 if span <= 1 << 15 else torch.int32
                if span <= 256:
                    small = torch.uint8
                codes = (labels - lowest).to(small)
                base = codes[img_idx] == col_idx.to(small).view(-1, 1, 1)
                top_p = top[img_idx]
            base = dilate(base, int(beta) - grown_beta)
            grown_beta = int(beta)
            mask_px = torch.count_nonzero(base.flatten(1), dim=1)
            hits = torch.count_nonzero((base & top_p).flatten(1), dim=1)
        size = mask_px.double() / pixels
        tki = hits.double() / k
        valid = (mask_px > 0) & eligible
        out.append((img_idx[valid], values[valid],
                    torch.full_like(img_idx[valid], int(beta)), tki[valid], size[valid],
                    tki[valid] / size[valid], mask_px[valid], hits[valid]))
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
    raise InvalidValueError(f"unknown channel reduction {mode!r}: use 'absmax' or 'max'")
