"""Batched top-k similarity against a brute-force NumPy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geotool.learn.align.topk import mean_embedding, topk_similarity


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(q: np.ndarray, g: np.ndarray, k: int, scale: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sim = q.astype(np.float64) @ g.astype(np.float64).T
    logits = scale * sim
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    # stable: descending similarity, ascending index on ties
    order = np.lexsort((np.broadcast_to(np.arange(g.shape[0]), sim.shape), -sim), axis=1)
    idx = order[:, :k]
    return idx, np.take_along_axis(sim, idx, 1), np.take_along_axis(prob, idx, 1)


@pytest.mark.parametrize("chunk", [7, 64, 10_000])
def test_topk_matches_brute_force(chunk: int) -> None:
    rng = np.random.default_rng(5)
    q, g = _unit(rng, 9, 12), _unit(rng, 1000, 12)
    got = topk_similarity(torch.from_numpy(q).float(), torch.from_numpy(g).float(), 10,
                          logit_scale=14.3, chunk=chunk)
    idx, sim, prob = _brute(q.astype(np.float32), g.astype(np.float32), 10, 14.3)
    np.testing.assert_array_equal(got.index.numpy(), idx)
    np.testing.assert_allclose(got.similarity.numpy(), sim, atol=1e-6)
    np.testing.assert_allclose(got.probability.numpy(), prob, rtol=1e-4, atol=1e-9)


def test_ties_keep_the_lower_index_and_k_caps_at_gallery_size() -> None:
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    got = topk_similarity(torch.tensor([[1.0, 0.0]]), g, 10, chunk=2)
    assert got.index.tolist() == [[0, 2, 3, 1]]
    # softmax over the whole gallery: three points at similarity 1, one at 0, scale 1
    e = np.exp(1.0)
    np.testing.assert_allclose(got.probability[0].numpy(),
                               [e / (3 * e + 1)] * 3 + [1 / (3 * e + 1)], rtol=1e-6)


def test_bad_shapes_and_empty_gallery_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        topk_similarity(torch.ones(1, 3), torch.ones(0, 3), 1)
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        topk_similarity(torch.ones(1, 3), torch.ones(4, 2), 1)


def test_mean_embedding_averages_crops_and_normalises() -> None:
    crops = torch.tensor([[[3.0, 0.0], [0.0, 4.0]]])
    np.testing.assert_allclose(mean_embedding(crops).numpy(), [[0.6, 0.8]], rtol=1e-6)
