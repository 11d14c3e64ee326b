"""tki, ci and dilation against an independent NumPy/SciPy implementation.

The reference below works one image and one concept at a time with NumPy: a stable
argsort for the top-k (ties: lower row-major index first), scipy.ndimage.binary_dilation
with the full 3×3 structure iterated β times, and plain divisions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from geotool.explain.influence import (
    concept_influence,
    dilate,
    reduce_channels,
    scaled_k,
    top_k_mask,
)

FULL_3X3 = np.ones((3, 3), dtype=bool)


def np_top_k(expl: np.ndarray, k: int) -> np.ndarray:
    flat = expl.ravel()
    k = min(k, flat.size)
    # stable sort of the negated values: descending, ties by ascending index
    order = np.argsort(-flat, kind="stable")[:k]
    chosen = np.zeros(flat.size, dtype=bool)
    chosen[order] = True
    return chosen.reshape(expl.shape)


def np_dilate(mask: np.ndarray, beta: int) -> np.ndarray:
    if beta == 0:
        return mask.copy()
    return ndimage.binary_dilation(mask, structure=FULL_3X3, iterations=beta)


def np_influence(expl: np.ndarray, labels: np.ndarray, k: int, betas: list[int],
                 min_size: float) -> dict[tuple[int, int], tuple[float, float, float, int]]:
    h, w = expl.shape
    k_eff = min(k, h * w)
    top = np_top_k(expl, k_eff)
    out = {}
    for concept in np.unique(labels):
        if concept == 0:
            continue
        if (labels == concept).sum() / (h * w) < min_size:  # eligibility: undilated size
            continue
        for beta in betas:
            mask = np_dilate(labels == concept, beta)
            size = mask.sum() / (h * w)
            if size == 0:
                continue
            tki = (mask & top).sum() / k_eff
            out[(int(concept), beta)] = (tki, size, tki / size, int(mask.sum()))
    return out


def as_dict(rows, image: int) -> dict[tuple[int, int], tuple[float, float, float, int]]:
    sel = (rows.image == image).nonzero().flatten().tolist()
    return {(int(rows.concept[i]), int(rows.beta[i])):
            (float(rows.tki[i]), float(rows.size[i]), float(rows.ci[i]),
             int(rows.mask_pixels[i])) for i in sel}


def check_against_numpy(expl: np.ndarray, labels: np.ndarray, k: int, betas: list[int],
                        min_size: float = 0.0) -> None:
    rows = concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=k,
                             betas=betas, min_size=min_size)
    for i in range(expl.shape[0]):
        want = np_influence(expl[i], labels[i], k, betas, min_size)
        got = as_dict(rows, i)
        assert got.keys() == want.keys()
        for key, (tki, size, ci, px) in want.items():
            assert got[key][0] == pytest.approx(tki, abs=1e-12)
            assert got[key][1] == pytest.approx(size, abs=1e-12)
            assert got[key][2] == pytest.approx(ci, rel=1e-12)
            assert got[key][3] == px


@pytest.mark.parametrize("seed", range(6))
def test_random_maps_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b, h, w = 3, int(rng.integers(5, 40)), int(rng.integers(5, 40))
    expl = rng.standard_normal((b, h, w)).astype(np.float32)
    # blocky label maps with a few concepts, some tiny
    coarse = rng.integers(0, 6, size=(b, h // 4 + 1, w // 4 + 1))
    labels = np.kron(coarse, np.ones((4, 4), dtype=np.int64))[:, :h, :w]
    labels[:, rng.integers(0, h), rng.integers(0, w)] = 9  # a one-pixel concept
    k = int(rng.integers(1, h * w // 2 + 2))
    check_against_numpy(expl, labels, k, [0, 1, 2, 5], min_size=0.0)
    check_against_numpy(expl, labels, k, [0, 3], min_size=0.05)


def test_min_size_is_decided_on_the_undilated_mask() -> None:
    """A concept of 4 pixels in 10×10 (4 %) under min_size 5 % is skipped at every β, even
    though its dilated mask (β = 1: 16 pixels) would pass; one of 9 pixels passes at every
    β. So the β > 0 rows cover the same (photo, concept) pairs as β = 0."""
    labels = np.zeros((1, 10, 10), dtype=np.int64)
    labels[0, 1:3, 1:3] = 1  # 4 px
    labels[0, 6:9, 6:9] = 2  # 9 px
    expl = np.random.default_rng(0).random((1, 10, 10))
    rows = concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=10,
                             betas=[0, 1, 2], min_size=0.05)
    kept = sorted(zip(rows.concept.tolist(), rows.beta.tolist(), strict=True))
    assert kept == [(2, 0), (2, 1), (2, 2)]
    check_against_numpy(expl, labels, 10, [0, 1, 2], min_size=0.05)


def test_k_larger_than_image_is_capped() -> None:
    rng = np.random.default_rng(1)
    expl = rng.random((2, 16, 16)).astype(np.float32)
    labels = rng.integers(0, 4, size=(2, 16, 16))
    rows = concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=1000)
    assert rows.k == 256
    # every pixel is in T_k: tki == size, ci == 1 (the reference divided by 1000 here)
    assert torch.allclose(rows.tki, rows.size)
    assert torch.allclose(rows.ci, torch.ones_like(rows.ci))
    check_against_numpy(expl, labels, 1000, [0, 2])


def test_empty_and_full_masks() -> None:
    rng = np.random.default_rng(2)
    expl = rng.random((2, 12, 10)).astype(np.float32)
    labels = np.zeros((2, 12, 10), dtype=np.int64)  # image 0: only "other" -> no rows
    labels[1] = 7  # image 1: one concept covering everything
    rows = concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=30,
                             betas=[0, 2])
    assert rows.image.tolist() == [1, 1]
    assert rows.size.tolist() == [1.0, 1.0]
    assert rows.tki.tolist() == [1.0, 1.0]
    assert rows.ci.tolist() == [1.0, 1.0]
    nothing = concept_influence(torch.from_numpy(expl[:1]), torch.from_numpy(labels[:1]))
    assert len(nothing) == 0


def test_ties_at_kth_value_take_lower_index() -> None:
    expl = np.zeros((1, 4, 4), dtype=np.float32)
    expl[0, 0, 0] = 5.0
    expl[0, 3, 3] = 4.0  # then 14 pixels tied at 0: k = 4 takes (0,1), (0,2)
    top = top_k_mask(torch.from_numpy(expl), 4)[0].numpy()
    want = np.zeros((4, 4), dtype=bool)
    want[0, 0] = want[3, 3] = want[0, 1] = want[0, 2] = True
    assert (top == want).all()
    assert (top == np_top_k(expl[0], 4)).all()
    labels = np.zeros((1, 4, 4), dtype=np.int64)
    labels[0, 0, 1:] = 3  # holds two of the tied winners
    labels[0, 1:, :] = 4
    check_against_numpy(expl, labels, 4, [0, 1])
    rows = concept_influence(torch.from_numpy(expl), torch.from_numpy(labels), k=4)
    got = dict(zip(rows.concept.tolist(), rows.tki.tolist(), strict=True))
    assert got == {3: 0.5, 4: 0.25}


def test_integer_ties_random() -> None:
    rng = np.random.default_rng(5)
    expl = rng.integers(0, 4, size=(4, 9, 11)).astype(np.float32)  # massive ties
    labels = rng.integers(0, 3, size=(4, 9, 11))
    for k in (1, 7, 50, 99, 500):
        check_against_numpy(expl, labels, k, [0, 1])


@pytest.mark.parametrize("beta", [0, 1, 2, 3, 7])
def test_dilation_matches_scipy(beta: int) -> None:
    rng = np.random.default_rng(beta)
    masks = rng.random((5, 23, 17)) > 0.97
    masks[0] = False
    masks[1] = True
    masks[2, 0, 0] = masks[2, -1, -1] = True  # corners: nothing leaks outside
    got = dilate(torch.from_numpy(masks), beta).numpy()
    for i in range(masks.shape[0]):
        assert (got[i] == np_dilate(masks[i], beta)).all(), f"mask {i}"


def test_dilation_is_full_neighbourhood() -> None:
    mask = torch.zeros(1, 5, 5, dtype=torch.bool)
    mask[0, 2, 2] = True
    one = dilate(mask, 1)[0]
    assert one.sum() == 9  # all eight neighbours, diagonals included
    assert one[1:4, 1:4].all()


def test_scaled_k() -> None:
    assert scaled_k(224, 224) == 1000
    assert scaled_k(112, 112) == 250
    assert scaled_k(16, 16) == 5
    assert scaled_k(16, 16, k=1000) == 256
    assert scaled_k(1, 1) == 1


def test_reduce_channels() -> None:
    a = torch.tensor([[[[1.0]], [[-3.0]], [[2.0]]]])
    assert reduce_channels(a, "absmax").item() == 3.0
    assert reduce_channels(a, "max").item() == 2.0
    with pytest.raises(ValueError):
        reduce_channels(a, "mean")
