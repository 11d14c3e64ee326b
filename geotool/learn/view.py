"""The view of a photo that a model classifies: one definition for train, predict, explain.

Training's validation, ``geotool predict`` (one crop or five) and the concept pass
(``geotool concepts``) must show a model the same pixels for the same photo, or the
validation loss that picks the best checkpoint, the stored answers and the explained
input are three different experiments (issue 17). Every one of them calls this module:

- **resize**: the shortest edge becomes ``resize`` pixels, the other edge
  ``int(resize · long / short)`` (truncated, as torchvision's ``Resize`` does), bilinear
  with Pillow's antialiasing; ``resize`` is the checkpoint's ``val_resize`` when training
  set one, else ``round(size · 256 / 224)`` (256 at 224 px): :func:`view_resize`;
- **crops**: the centre crop of ``size`` starts at ``round((length − size) / 2)`` on each
  axis (torchvision's ``CenterCrop``); the five crops are the four corners and that centre
  (torchvision's ``FiveCrop`` order: top-left, top-right, bottom-left, bottom-right,
  centre);
- **normalisation**: pixels / 255, then ``(x − mean) / std`` with the checkpoint's
  ``normalize`` (training writes ImageNet's, :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`,
  into every checkpoint's config): :func:`normalisation`.

Label maps go through the same resize (nearest neighbour) and crop, so every explained
pixel has one concept id. The tests check the three callers pixel-equal at 641×480 and
with ``val_resize`` set (tests/learn/test_view.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_resize(size: int) -> int:
    """The shortest edge before cropping: ``size * 256 / 224`` rounded (256 at 224 px)."""
    return int(round(size * 256 / 224))


def view_resize(image_size: int, config: dict[str, Any]) -> int:
    """The shortest edge of a checkpoint's view: its ``val_resize`` (or ``resize``) when
    training set one, else :func:`default_resize`."""
    return int(config.get("val_resize") or config.get("resize") or default_resize(image_size))


def normalisation(config: dict[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) a checkpoint's training used: ``config["normalize"]`` or ImageNet's."""
    norm = config.get("normalize") or {}
    mean = tuple(float(v) for v in norm.get("mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in norm.get("std", IMAGENET_STD))
    return mean, std


def resized_size(width: int, height: int, short: int) -> tuple[int, int]:
    """(width, height) after resizing the shortest edge to ``short``."""
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def centre_offset(length: int, crop: int) -> int:
    """First pixel of a centred ``crop`` on an axis of ``length`` pixels."""
    return int(round((length - crop) / 2.0))


def resize_short(img: Image.Image, short: int,
                 resample: Image.Resampling = Image.Resampling.BILINEAR) -> Image.Image:
    """The image with its shortest edge resized to ``short`` pixels."""
    size = resized_size(img.width, img.height, short)
    return img if size == img.size else img.resize(size, resample)


def _crop(img: Image.Image, left: int, top: int, size: int) -> Image.Image:
    return img.crop((left, top, left + size, top + size))


def centre_crop(img: Image.Image, size: int) -> Image.Image:
    """The centred ``size``×``size`` crop of an already resized image."""
    return _crop(img, centre_offset(img.width, size), centre_offset(img.height, size), size)


def view_crops(img: Image.Image, size: int, resize: int, crops: int = 1) -> list[Image.Image]:
    """The photo as the model sees it: ``crops`` 1 → [centre]; 5 → [top-left, top-right,
    bottom-left, bottom-right, centre], each ``size``×``size`` RGB."""
    if resize < size:
        raise ValueError(f"resize {resize} is smaller than the crop {size}")
    resized = resize_short(img.convert("RGB"), resize)
    if crops == 1:
        return [centre_crop(resized, size)]
    if crops != 5:
        raise ValueError(f"crops must be 1 or 5, not {crops}")
    w, h = resized.size
    return [_crop(resized, 0, 0, size), _crop(resized, w - size, 0, size),
            _crop(resized, 0, h - size, size), _crop(resized, w - size, h - size, size),
            centre_crop(resized, size)]


def centre_view(img: Image.Image, size: int, resize: int) -> NDArray[np.uint8]:
    """The centre view as uint8 ``[size, size, 3]`` (before normalising)."""
    return np.asarray(view_crops(img, size, resize, 1)[0], dtype=np.uint8)


def centre_view_labels(label_map: NDArray[Any], size: int, resize: int) -> NDArray[np.int64]:
    """A label map ``[H, W]`` through the same resize (nearest) and centre crop."""
    h, w = label_map.shape
    img = Image.fromarray(label_map.astype(np.int32), mode="I")
    img = img.resize(resized_size(w, h, resize), Image.Resampling.NEAREST)
    return np.asarray(centre_crop(img, size), dtype=np.int64)
