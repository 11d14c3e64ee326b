"""Batched explanations equal captum's per-image results (same parameters, same noise)."""

from __future__ import annotations

import copy

import pytest
import torch

from geotool.explain.attributions import (
    ExplainParams,
    Normalisation,
    explain_batch,
    explain_per_image,
)
from geotool.learn.model import GeoClassifier


@pytest.fixture(scope="module")
def model() -> GeoClassifier:
    torch.manual_seed(0)
    net = GeoClassifier("small_cnn", [7, 3])
    for p in net.parameters():  # a non-trivial, untrained network
        p.data.normal_(0, 0.3)
    return net.eval()


@pytest.mark.parametrize("reduction", ["absmax", "max"])
def test_batched_equals_per_image(model: GeoClassifier, reduction: str) -> None:
    norm = Normalisation()
    torch.manual_seed(1)
    inputs = norm.apply(torch.rand(5, 3, 32, 32))
    options = ExplainParams(noise_samples=3, ig_steps=6, internal_batch_size=40,
                             reduction=reduction, seed=11)
    plain = copy.deepcopy(model)  # the per-image baseline keeps the default memory format
    batched = explain_batch(model, inputs, options, norm, keep_attributions=True)
    naive = explain_per_image(plain, inputs, options, norm)
    assert torch.equal(batched.targets, naive.targets)
    assert batched.attributions is not None and naive.attributions is not None
    scale = naive.attributions.abs().max()
    assert scale > 0
    assert torch.allclose(batched.attributions, naive.attributions, atol=1e-5 * scale, rtol=1e-4)
    assert torch.allclose(batched.maps, naive.maps, atol=1e-5 * scale, rtol=1e-4)
    # smoothgrad_sq: attributions are squares, so the signed max is never negative
    assert (batched.maps >= 0).all()


def test_other_seed_other_noise(model: GeoClassifier) -> None:
    norm = Normalisation()
    inputs = norm.apply(torch.rand(2, 3, 32, 32))
    a = explain_batch(model, inputs, ExplainParams(noise_samples=2, ig_steps=4, seed=1), norm)
    b = explain_batch(model, inputs, ExplainParams(noise_samples=2, ig_steps=4, seed=1), norm)
    c = explain_batch(model, inputs, ExplainParams(noise_samples=2, ig_steps=4, seed=2), norm)
    assert torch.equal(a.maps, b.maps)
    assert not torch.equal(a.maps, c.maps)


def test_given_target_and_level(model: GeoClassifier) -> None:
    norm = Normalisation()
    inputs = norm.apply(torch.rand(3, 3, 32, 32))
    opts = ExplainParams(noise_samples=2, ig_steps=4, target="given", level=1)
    out = explain_batch(model, inputs, opts, norm, targets=torch.tensor([0, 1, 2]))
    assert out.targets.tolist() == [0, 1, 2]
    assert out.maps.shape == (3, 32, 32)
    with pytest.raises(ValueError):
        explain_batch(model, inputs, opts, norm)
