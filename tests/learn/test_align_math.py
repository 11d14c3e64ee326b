"""The alignment family's pure parts, against hand computations and GeoCLIP itself.

InfoNCE with a queue on a 2-image case worked by hand; the queue's ring order; the
concept divergences' values and gradients (autograd vs finite differences); the GPS
encoder with GeoCLIP's pretrained weights vs GeoCLIP's own ``LocationEncoder`` on 1,000
coordinates; GPS jitter's spread; the one-line errors for bad coordinates and unknown
vocabularies; the packaged efficientnet_lite0 weights.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from support.geoclip_ref import location_encoder_class

from geotool.errors import GeotoolError, InvalidValueError, MissingInputError
from geotool.learn.align.concepts import (
    ConceptBank,
    concept_divergence,
    concept_supervision,
    js_divergence,
)
from geotool.learn.align.family import jitter
from geotool.learn.align.gps import GpsEncoder, check_coordinates, load_geoclip_weights
from geotool.learn.align.loss import GpsQueue, info_nce
from geotool.learn.align.model import build_align_model
from geotool.learn.geodesy import haversine_km
from geotool.vocab.concepts import load_vocabulary


def test_info_nce_with_a_queue_matches_the_hand_computed_value() -> None:
    # unit vectors in 2-d; scale s = 2 (logit_scale = log 2)
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    g = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    q = torch.tensor([[0.0, -1.0]])
    s = 2.0
    # image 1: logits 2·(1, 0.6, 0) → ℓ1 = −log e^2 / (e^2 + e^1.2 + e^0)
    # image 2: logits 2·(0, 0.8, −1) → ℓ2 = −log e^1.6 / (e^0 + e^1.6 + e^−2)
    l1 = -math.log(math.exp(2) / (math.exp(2) + math.exp(1.2) + 1))
    l2 = -math.log(math.exp(1.6) / (1 + math.exp(1.6) + math.exp(-2)))
    got = info_nce(u, g, q, torch.tensor(math.log(s)))
    assert float(got) == pytest.approx((l1 + l2) / 2, abs=1e-6)
    # without the queue the negative (0, −1) is gone
    l2b = -math.log(math.exp(1.6) / (1 + math.exp(1.6)))
    l1b = -math.log(math.exp(2) / (math.exp(2) + math.exp(1.2)))
    assert float(info_nce(u, g, None, torch.tensor(math.log(s)))) == pytest.approx(
        (l1b + l2b) / 2, abs=1e-6)
    # the scale is capped at 100 (CLIP)
    big = info_nce(u, g, q, torch.tensor(10.0))
    capped = info_nce(u, g, q, torch.tensor(math.log(100.0)))
    assert float(big) == pytest.approx(float(capped))


def test_the_queue_is_a_ring_of_the_newest_items() -> None:
    queue = GpsQueue(5, 2)
    assert len(queue.items()) == 0
    queue.push(torch.tensor([[1.0, 1], [2, 2], [3, 3]]))
    assert queue.items()[:, 0].tolist() == [1, 2, 3]
    queue.push(torch.tensor([[4.0, 4], [5, 5], [6, 6]]))  # wraps: 6 overwrites 1
    assert sorted(queue.items()[:, 0].tolist()) == [2, 3, 4, 5, 6]
    state = queue.state_dict()
    other = GpsQueue(5, 2)
    other.load_state_dict(state)
    other.push(torch.tensor([[7.0, 7]]))
    assert sorted(other.items()[:, 0].tolist()) == [3, 4, 5, 6, 7]
    queue.push(torch.arange(14.0).reshape(7, 2))  # more than the size: the last five
    assert sorted(queue.items()[:, 0].tolist()) == [4, 6, 8, 10, 12]


def test_js_divergence_value_and_gradient_on_a_hand_case() -> None:
    p = torch.tensor([[0.5, 0.5, 0.0 + 1e-30]]).clamp_min(1e-30)
    q = torch.tensor([[0.25, 0.25, 0.5]])
    # JS by hand: m = (0.375, 0.375, 0.25); KL(p‖m) = log(0.5/0.375) = log(4/3);
    # KL(q‖m) = 0.5·log(0.25/0.375) + 0.5·log(0.5/0.25) = 0.5·log(2/3) + 0.5·log 2
    want = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2))
    assert float(js_divergence(p.log(), q.log())) == pytest.approx(want, abs=1e-6)

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    for kind in ("js", "sym_kl"):
        # the function computes in float32 internally for mixed precision: check the
        # float64 formula through the same code path by comparing with finite differences
        def f(x: torch.Tensor, y: torch.Tensor, kind: str = kind) -> torch.Tensor:
            lp, lq = torch.log_softmax(x, -1), torch.log_softmax(y, -1)
            if kind == "js":
                return js_divergence(lp, lq).mean()
            from geotool.learn.align.concepts import sym_kl_divergence
            return sym_kl_divergence(lp, lq).mean()
        assert torch.autograd.gradcheck(f, (a, b), eps=1e-6, atol=1e-6)
        # and the float32 entry point gives the same gradient direction
        x32 = a.detach().float().requires_grad_(True)
        concept_divergence(x32, b.detach().float(), kind).backward()
        a.grad = None
        f(a, b).backward()
        assert a.grad is not None and x32.grad is not None
        assert torch.allclose(x32.grad.double(), a.grad, atol=1e-5)
    with pytest.raises(InvalidValueError, match="concept_divergence must be one of"):
        concept_divergence(a, b, "kl")


def test_concept_supervision_is_the_cross_entropy_of_the_normalised_truth() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)], [5.0, 1.0]])
    target = torch.tensor([[2.0, 2.0], [0.0, 0.0]])  # row 2: no truth, ignored
    # p = (1/4, 3/4), t = (1/2, 1/2): H = −½ log ¼ − ½ log ¾
    want = -0.5 * math.log(0.25) - 0.5 * math.log(0.75)
    assert float(concept_supervision(logits, target)) == pytest.approx(want, abs=1e-6)


def test_concept_scores_are_the_softmax_of_cosines_over_the_temperature() -> None:
    bank = ConceptBank(["a", "b", "c"], 4, temperature=0.5)
    with torch.no_grad():
        bank.vectors.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0]]))
    emb = torch.tensor([[3.0, 0, 3.0, 0]])  # cosines 1/√2, 0, 1/√2
    c = 1 / math.sqrt(2)
    e = [math.exp(c / 0.5), 1.0, math.exp(c / 0.5)]
    want = [v / sum(e) for v in e]
    assert bank.scores(emb)[0].tolist() == pytest.approx(want, abs=1e-6)


def test_the_gps_encoder_with_geoclip_weights_equals_geoclips_location_encoder() -> None:
    reference = location_encoder_class()().eval()  # loads the wheel's weights itself
    ours = GpsEncoder()
    assert "GeoCLIP" in load_geoclip_weights(ours)
    gen = torch.Generator().manual_seed(20)
    coords = torch.stack([torch.rand(1000, generator=gen) * 180 - 90,
                          torch.rand(1000, generator=gen) * 360 - 180], dim=1)
    with torch.no_grad():
        want, got = reference(coords), ours.eval()(coords)
    assert got.shape == (1000, 512)
    assert float((want - got).abs().max()) <= 1e-5
    assert float(want.abs().max()) > 1e-2  # not trivially zero
    # an extra σ = 2^12 branch keeps GeoCLIP's three and starts fresh
    finer = GpsEncoder([1.0, 16.0, 256.0, 4096.0])
    assert "1 finer branch" in load_geoclip_weights(finer)
    with pytest.raises(InvalidValueError, match="gps_sigmas = \\[1, 16, 256\\]"):
        load_geoclip_weights(GpsEncoder(hidden=64))
    with pytest.raises(MissingInputError, match="do not exist"):
        load_geoclip_weights(GpsEncoder(), Path("/nonexistent/weights.pth"))


def test_out_of_range_coordinates_and_unknown_vocabularies_are_one_line_errors() -> None:
    model = build_align_model({"backbone": "small_cnn", "embed_dim": 8, "gps_hidden": 8,
                               "projection_hidden": 8, "concept_vocab": "planet"})
    for bad, named in (([[91.0, 0.0]], "latitude must be within ±90"),
                       ([[0.0, 0.0], [10.0, 181.0]], "coordinate 1 \\(10, 181\\)"),
                       ([[float("nan"), 0.0]], "NaN")):
        with pytest.raises(InvalidValueError, match=named) as info:
            model.encode_gps(torch.tensor(bad))
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidValueError, match=r"\[N, 2\]"):
        check_coordinates(torch.zeros(3))
    with pytest.raises(InvalidValueError, match="unknown concept vocabulary 'plant'.*planet") \
            as info:
        load_vocabulary("plant")
    assert "\n" not in str(info.value)
    with pytest.raises(MissingInputError, match="does not exist"):
        load_vocabulary("/nowhere/vocab.toml")


def test_bad_vocabulary_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    for text, named in (('[[concept]]\nname = "a"\n', "at least two"),
                        ('[[concept]]\nname = "a"\n[[concept]]\nname = "a"\n', "twice"),
                        ('[[concept]]\nname = "a"\ncolour = 1\n[[concept]]\nname = "b"\n',
                         "unknown key"),
                        ("x = [", "not valid TOML")):
        path.write_text(text)
        with pytest.raises(InvalidValueError, match=named):
            load_vocabulary(str(path))
    planet = load_vocabulary("planet")
    assert len(planet) == 18 and planet.names[-1] == "boreal climate"
    assert sum(1 for c in planet.concepts if c.mask and not c.informative) == 7
    assert len(load_vocabulary("world")) >= 50


def test_jitter_moves_points_by_the_asked_distance() -> None:
    coords = torch.tensor([[10.0, 20.0], [60.0, -179.99]]).repeat(2000, 1)
    moved = jitter(coords, 10.0, torch.Generator().manual_seed(1))
    km = haversine_km(coords[:, 0].double().numpy(), coords[:, 1].double().numpy(),
                      moved[:, 0].double().numpy(), moved[:, 1].double().numpy())
    # 2-d Gaussian of σ per axis: distance is Rayleigh, mean σ·√(π/2) = 12.53 km
    assert float(np.mean(km)) == pytest.approx(10.0 * math.sqrt(math.pi / 2), rel=0.05)
    assert float(moved[:, 1].abs().max()) <= 180.0
    same = jitter(coords, 10.0, torch.Generator().manual_seed(1))
    assert torch.equal(moved, same)


def test_efficientnet_lite0_has_its_packaged_imagenet_weights() -> None:
    from geotool.learn.model import BACKBONES, GeoClassifier

    spec = BACKBONES["efficientnet_lite0"]
    assert spec.pretrained is not None
    weights = spec.pretrained()
    model = GeoClassifier("efficientnet_lite0", [3], pretrained=True)
    assert model.feature_width == 1280
    key = "_conv_stem.weight"
    assert torch.equal(model.backbone.state_dict()[key], weights[key])
    with pytest.raises(GeotoolError, match="no pretrained weights installed"):
        GeoClassifier("small_cnn", [3], pretrained=True)


def test_concept_truth_from_masks_and_climates(tmp_path: Path) -> None:
    import json

    from PIL import Image

    from geotool.learn.align.data import AlignRows, concept_targets
    from geotool.learn.labels import ImageSource, LabelArrays
    from geotool.vocab.ade20k import ADE20K_IDS

    vocab = load_vocabulary("planet")
    sky, tower, arid = vocab.index("sky"), vocab.index("tower"), vocab.index("arid climate")
    images = tmp_path / "images" / "000"
    images.mkdir(parents=True)
    first = np.full((4, 4), ADE20K_IDS["sky"], dtype=np.uint8)
    first[0, 0] = ADE20K_IDS["tower"]  # 1/16 tower, 15/16 sky
    second = np.full((4, 4), ADE20K_IDS["sky"], dtype=np.uint8)  # all sky
    masks = []
    for i, labels in enumerate((first, second)):
        Image.fromarray(labels).save(tmp_path / f"m{i}.png")
        masks.append(str(tmp_path / f"m{i}.png"))
    (tmp_path / "photos.json").write_text(json.dumps(
        {"photos": [{"id": "a", "climate": "arid"}, {"id": "b", "climate": "polar?"}]}))
    arrays = LabelArrays(np.arange(2), np.zeros(2), np.zeros(2), np.zeros((2, 0), np.int64),
                         [ImageSource(str(images / "a.jpg")), ImageSource(str(images / "b.jpg"))])
    rows = AlignRows(arrays, ["a", "b"], masks)
    share = concept_targets(rows, vocab)
    assert share[0, sky] == pytest.approx(15 / 16) and share[0, tower] == pytest.approx(1 / 16)
    assert share[0, arid] == 1.0 and share[1, arid:].sum() == 0  # unknown climate: no truth
    lift = concept_targets(rows, vocab, mode="lift")
    # mean shares: sky 31/32, tower 1/32 → lifts 30/31 and 2; rescaled to the row's total 1
    s, t = (15 / 16) / (31 / 32), (1 / 16) / (1 / 32)
    assert lift[0, tower] == pytest.approx(t / (s + t))
    assert lift[0, sky] == pytest.approx(s / (s + t))
    assert lift[1, sky] == pytest.approx(1.0)
