"""Segmenters and the explained input's geometry: masks follow the photo's resize and crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geotool.errors import GeotoolError
from geotool.explain.attributions import Normalisation
from geotool.explain.preprocess import InputGeometry, input_geometry, prepare_mask, prepare_photo
from geotool.explain.segmenters import (
    ADE20K_NAMES,
    ImageRef,
    LabelMapFiles,
    MaskProblem,
    NetworkSegmenter,
    make_segmenter,
    read_names,
)


def test_mask_follows_photo_resize_and_crop() -> None:
    # a wide photo whose left and right thirds are cropped away at 32 px
    w, h = 90, 40
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    labels = np.zeros((h, w), dtype=np.uint8)
    rgb[10:30, 40:60] = 255  # a white block, labelled 7
    labels[10:30, 40:60] = 7
    rgb[:, :10] = 128  # a grey strip at the left edge, labelled 3: cropped away
    labels[:, :10] = 3
    geometry = InputGeometry(resize=32, crop=32, norm=Normalisation())
    photo = prepare_photo(Image.fromarray(rgb), geometry)
    mask = prepare_mask(labels, geometry)
    assert photo.shape == (32, 32, 3) and mask.shape == (32, 32)
    assert 3 not in mask
    white = photo.min(axis=2) > 200
    assert white.any()
    # every clearly white pixel is labelled 7 and every 7 is bright (bilinear edges aside)
    assert (mask[white] == 7).all()
    assert (photo[mask == 7].mean(axis=1) > 100).all()


def test_input_geometry_from_config() -> None:
    # the validation / prediction view: 256/224 of the input size, or the training's
    # val_resize (was 320/224, a view neither validation nor prediction used)
    g = input_geometry(224, {})
    assert (g.resize, g.crop) == (256, 224)
    assert input_geometry(380, {}).resize == 434
    assert input_geometry(64, {"val_resize": 80}).resize == 80
    g = input_geometry(64, {"resize": 64, "normalize": {"mean": [0, 0, 0], "std": [1, 1, 1]}})
    assert (g.resize, g.crop, g.norm.input_range) == (64, 64, 1.0)
    with pytest.raises(GeotoolError):
        input_geometry(224, {"resize": 100})


def test_label_map_files(tmp_path: Path) -> None:
    photo = Image.new("RGB", (20, 10))
    Image.fromarray(np.full((10, 20), 2, dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((11, 20), 2, dtype=np.uint8)).save(tmp_path / "b.png")
    seg = LabelMapFiles(folder=tmp_path)
    ok = seg.label_map(ImageRef(1, "a", None, None), photo)
    assert isinstance(ok, np.ndarray) and ok.shape == (10, 20)
    bad = seg.label_map(ImageRef(2, "b", None, None), photo)
    assert isinstance(bad, MaskProblem) and bad.status == "size_mismatch"
    missing = seg.label_map(ImageRef(3, "c", None, None), photo)
    assert isinstance(missing, MaskProblem) and missing.status == "missing_mask"
    no_path = LabelMapFiles().label_map(ImageRef(4, "d", None, None), photo)
    assert isinstance(no_path, MaskProblem) and no_path.status == "missing_mask"
    assert seg.names[2] == "building" and len(ADE20K_NAMES) == 151


class _ThreeClass(torch.nn.Module):
    """Class 0 where red dominates, 1 where green does, 2 where blue does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 10


def test_network_segmenters(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("red\ngreen\nblue\n")
    assert read_names(names) == {0: "red", 1: "green", 2: "blue"}
    scripted = tmp_path / "seg.pt"
    with pytest.warns(FutureWarning):  # deprecated, still what many users have
        torch.jit.script(_ThreeClass()).save(str(scripted))
    arr = np.zeros((30, 40, 3), dtype=np.uint8)
    arr[:, :20, 0] = 255
    arr[:, 20:, 2] = 255
    seg = NetworkSegmenter(scripted, read_names(names), input_size=30)
    out = seg.label_map(ImageRef(1, "x", None, None), Image.fromarray(arr))
    assert isinstance(out, np.ndarray) and out.shape == (30, 40)
    assert (out[:, :18] == 0).all() and (out[:, 22:] == 2).all()
    # a torchvision segmentation state dict, built with weights=None
    import torchvision

    net = torchvision.models.get_model("lraspp_mobilenet_v3_large", weights=None,
                                       weights_backbone=None, num_classes=3)
    state = tmp_path / "lraspp.pt"
    torch.save(net.state_dict(), state)
    tv = make_segmenter("network", names_file=names, model_path=state,
                        arch="lraspp_mobilenet_v3_large")
    out = tv.label_map(ImageRef(1, "x", None, None), Image.fromarray(arr))
    assert isinstance(out, np.ndarray) and out.shape == (30, 40) and out.max() <= 2
    with pytest.raises(GeotoolError, match="not a TorchScript file"):
        NetworkSegmenter(state, read_names(names))
    with pytest.raises(GeotoolError, match="needs --seg-model"):
        make_segmenter("network")
