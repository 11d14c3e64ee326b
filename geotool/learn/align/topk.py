"""Batched top-k similarity of image embeddings against a GPS gallery: pure tensor code.

An alignment model's answer for a photo is the gallery point whose (L2-normalised) GPS
embedding has the highest cosine similarity with the photo's image embedding; its
probability is the softmax of ``logit_scale × similarity`` over the whole gallery (as
GeoCLIP's). For a gallery of N points and a batch of B photos the similarity matrix is
B × N: it is computed in gallery chunks, keeping a running top-k and a running
log-sum-exp, so memory stays O(B × (chunk + k)) whatever N is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Gallery rows per similarity block (B × 65,536 float32 per block).
DEFAULT_CHUNK = 65_536


@dataclass
class TopK:
    """Per query, the k best gallery rows (best first): ``index`` ``[B, k]`` int64,
    cosine ``similarity`` and softmax ``probability`` over the whole gallery ``[B, k]``."""

    index: torch.Tensor
    similarity: torch.Tensor
    probability: torch.Tensor


def topk_similarity(queries: torch.Tensor, gallery: torch.Tensor, k: int,
                    logit_scale: float = 1.0, chunk: int = DEFAULT_CHUNK) -> TopK:
    """The ``k`` most similar gallery rows for each query (see the module docstring).

    ``queries`` ``[B, D]`` and ``gallery`` ``[N, D]`` are expected L2-normalised (the
    dot product is then the cosine similarity); ``logit_scale`` is the model's
    exp(logit scale), the softmax temperature's inverse. Ties keep the lower index first.
    """
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"shapes {tuple(queries.shape)} and {tuple(gallery.shape)}: "
                         "expected [B, D] and [N, D]")
    n = gallery.shape[0]
    if n == 0:
        raise ValueError("the gallery is empty")
    k = min(k, n)
    b = queries.shape[0]
    q = queries.float()
    best_sim = torch.full((b, 0), float("-inf"), device=q.device)
    best_idx = torch.zeros((b, 0), dtype=torch.long, device=q.device)
    lse = torch.full((b,), float("-inf"), device=q.device)
    for start in range(0, n, chunk):
        block = gallery[start:start + chunk].to(q.device, torch.float32)
        sim = q @ block.T  # [B, c]
        lse = torch.logaddexp(lse, torch.logsumexp(logit_scale * sim, dim=1))
        kk = min(k, sim.shape[1])
        s, i = torch.topk(sim, kk, dim=1, sorted=True)
        cand_sim = torch.cat([best_sim, s], dim=1)
        cand_idx = torch.cat([best_idx, i + start], dim=1)
        # stable ordering: by similarity descending, then index ascending
        order = _order(cand_sim, cand_idx)[:, :k]
        best_sim = torch.gather(cand_sim, 1, order)
        best_idx = torch.gather(cand_idx, 1, order)
    prob = torch.exp(logit_scale * best_sim - lse[:, None])
    return TopK(best_idx, best_sim, prob)


def _order(sim: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Column order sorting each row by similarity descending, index ascending on ties."""
    by_index = torch.argsort(idx, dim=1, stable=True)
    sim_sorted = torch.gather(sim, 1, by_index)
    by_sim = torch.argsort(sim_sorted, dim=1, descending=True, stable=True)
    return torch.gather(by_index, 1, by_sim)


def mean_embedding(crops: torch.Tensor) -> torch.Tensor:
    """``[B, C, D]`` crop embeddings → ``[B, D]``: the mean, L2-normalised again."""
    return torch.nn.functional.normalize(crops.float().mean(dim=1), dim=-1)
