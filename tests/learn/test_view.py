"""One view of a photo for training's validation, prediction and the concept pass
(geotool.learn.view): pixel-equal at an odd aspect ratio and with ``val_resize`` set."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from geotool.explain.preprocess import input_geometry, prepare_mask, prepare_photo, to_input
from geotool.learn.config import TrainConfig
from geotool.learn.data import normalise, transform_image
from geotool.learn.predict import PredictParams, crop_transform
from geotool.learn.train import _specs


def _photo(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(width * height)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _three_views(photo: Image.Image, config: TrainConfig) -> tuple[Any, Any, Any]:
    size = config.input_size()
    checkpoint_config = {**config.to_dict(), "normalize": {"mean": [0.485, 0.456, 0.406],
                                                           "std": [0.229, 0.224, 0.225]}}
    _, val_spec = _specs(config)
    trained = transform_image(photo, val_spec, None)  # uint8 [3, S, S]
    ready: Any = SimpleNamespace(loaded=SimpleNamespace(image_size=size,
                                                        config=checkpoint_config))
    predicted = crop_transform(ready, PredictParams("m", "d", crops=1))(photo)[0]  # normalised
    geometry = input_geometry(size, checkpoint_config)
    explained = prepare_photo(photo, geometry)  # uint8 [S, S, 3]
    return trained, predicted, (explained, geometry)


@pytest.mark.parametrize("size,val_resize", [(64, 0), (64, 80), (224, 0), (96, 131)])
@pytest.mark.parametrize("width,height", [(641, 480), (480, 641), (300, 300)])
def test_train_predict_and_explain_see_the_same_pixels(size: int, val_resize: int,
                                                       width: int, height: int) -> None:
    config = TrainConfig(backbone="small_cnn", image_size=size, val_resize=val_resize)
    photo = _photo(width, height)
    trained, predicted, (explained, geometry) = _three_views(photo, config)
    assert trained.shape == (3, size, size)
    # training's validation and the concept pass: the same uint8 pixels
    assert np.array_equal(trained.permute(1, 2, 0).numpy(), explained)
    # prediction: the same pixels, normalised as training normalises its batches
    train_input = normalise(trained[None], torch.device("cpu"), False)[0]
    assert torch.equal(predicted, train_input)
    explain_input = to_input([explained], geometry)[0]
    assert torch.allclose(explain_input, train_input, atol=1e-6)


def test_prediction_uses_the_checkpoints_val_resize() -> None:
    """predict used to resize to round(size·256/224) whatever the checkpoint said."""
    ready: Any = SimpleNamespace(loaded=SimpleNamespace(image_size=64,
                                                        config={"val_resize": 96}))
    assert crop_transform(ready, PredictParams("m", "d")).resize == 96
    assert crop_transform(ready, PredictParams("m", "d", resize=100)).resize == 100  # given wins
    ready.loaded.config = {}
    assert crop_transform(ready, PredictParams("m", "d")).resize == 73


def test_the_label_map_follows_the_photo() -> None:
    """Every explained pixel keeps its concept: a label map equal to the photo's red
    channel (values 0..255) resized by nearest neighbour and cropped like the photo."""
    config = TrainConfig(backbone="small_cnn", image_size=64, val_resize=80)
    geometry = input_geometry(64, {"val_resize": 80})
    labels = np.arange(641 * 480, dtype=np.int64).reshape(480, 641)
    cropped = prepare_mask(labels, geometry)
    assert cropped.shape == (64, 64)
    # nearest neighbour: each value is a real pixel of the source, rows and columns in order
    rows, cols = np.divmod(cropped, 641)
    assert (np.diff(rows[:, 0]) >= 0).all() and (np.diff(cols[0]) >= 0).all()
    # the crop is centred as the photo's (same offsets on the resized grid)
    assert cropped.shape == transform_image(_photo(641, 480), _specs(config)[1], None).shape[1:]
